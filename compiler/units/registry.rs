//! The unit registry, read from `stdlib/units.hplan` (embedded) on first use.
//!
//! `dimension` items name base dimensions (which must be the six the compiler's
//! schema refers to, in [`super::BASE`] order) and derived ones (for messages);
//! `prefix` items belong to named sets; `unit` items are base units of a dimension
//! or multiples of units defined above them.

use super::{Dim, BASE};
use crate::diagnostics::catalog::UnitHint;
use crate::diagnostics::Diagnostics;
use crate::source::FileId;
use crate::syntax::ast::{Entry, Item, ItemKind, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The registry's source text.
pub const UNITS_HPLAN: &str = include_str!("../../stdlib/units.hplan");

#[derive(Debug, Clone)]
pub struct UnitDef {
    pub symbol: String,
    pub scale: f64,
    pub dim: Dim,
    /// names of the prefix sets this unit accepts
    pub prefix_sets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DimName {
    pub name: String,
    pub dim: Dim,
    /// "a bandwidth"
    pub describe: String,
    /// the unit shown in messages, e.g. "$/h" for a price
    pub display: String,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub units: Vec<UnitDef>,
    /// set name -> (prefix, factor)
    pub prefixes: BTreeMap<String, Vec<(String, f64)>>,
    pub dims: Vec<DimName>,
    /// problems found while loading (a test keeps this empty)
    pub errors: Vec<String>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The registry of stdlib/units.hplan, loaded once.
pub fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| Registry::load(UNITS_HPLAN))
}

fn attr<'a>(item: &'a Item, name: &str) -> Option<&'a Value> {
    item.body.entries.iter().find_map(|e| match e {
        Entry::Attr(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

fn word(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Ref(p, None)) if p.segments.len() == 1 => Some(p.segments[0].name.clone()),
        _ => None,
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Str(s, _)) => Some(s.clone()),
        _ => None,
    }
}

impl Registry {
    /// Builds a registry from registry source text; problems go to `errors`.
    pub fn load(text: &str) -> Registry {
        let mut diags = Diagnostics::new();
        let file = crate::syntax::parse_file(FileId(0), text, &mut diags);
        let mut r = Registry { errors: diags.iter().map(|d| d.message.clone()).collect(), ..Registry::default() };
        let mut base_symbols: Vec<(String, Dim)> = Vec::new();
        for item in &file.items {
            let name = item.name.name.clone();
            match item.kind {
                ItemKind::Dimension => {
                    let describe = string(attr(item, "describe")).unwrap_or_else(|| format!("a {name}"));
                    if let Some(sym) = string(attr(item, "base")) {
                        let Some(i) = BASE.iter().position(|b| *b == sym) else {
                            r.errors.push(format!("dimension {name}: base unit `{sym}` is not one of {BASE:?}"));
                            continue;
                        };
                        let mut e = [0i8; 6];
                        e[i] = 1;
                        base_symbols.push((sym.clone(), Dim(e)));
                        r.dims.push(DimName { name, dim: Dim(e), describe, display: sym });
                    } else if let Some(u) = string(attr(item, "unit")) {
                        // Resolved after all units are known.
                        r.dims.push(DimName { name, dim: Dim::NONE, describe, display: u });
                    } else {
                        r.errors.push(format!("dimension {name}: needs `base` or `unit`"));
                    }
                }
                ItemKind::Prefix => {
                    let factor = match attr(item, "factor") {
                        Some(Value::Number(n)) if n.unit.is_none() && n.value.is_finite() && n.value > 0.0 => n.value,
                        _ => {
                            r.errors.push(format!("prefix {name}: needs a positive `factor`"));
                            continue;
                        }
                    };
                    let Some(set) = word(attr(item, "set")) else {
                        r.errors.push(format!("prefix {name}: needs a `set`"));
                        continue;
                    };
                    r.prefixes.entry(set).or_default().push((name, factor));
                }
                ItemKind::Unit => {
                    let prefix_sets: Vec<String> = match attr(item, "prefixes") {
                        Some(Value::List(vs, _)) => vs.iter().filter_map(|v| word(Some(v))).collect(),
                        _ => vec![],
                    };
                    for s in &prefix_sets {
                        if !r.prefixes.contains_key(s) {
                            r.errors.push(format!("unit {name}: unknown prefix set `{s}`"));
                        }
                    }
                    let (scale, dim) = if let Some(d) = word(attr(item, "dimension")) {
                        match r.dims.iter().find(|x| x.name == d && base_symbols.iter().any(|(_, bd)| *bd == x.dim)) {
                            Some(x) if x.display == name => (1.0, x.dim),
                            Some(x) => {
                                r.errors.push(format!("unit {name}: dimension {d} has base unit `{}`", x.display));
                                continue;
                            }
                            None => {
                                r.errors.push(format!("unit {name}: `{d}` is not a base dimension"));
                                continue;
                            }
                        }
                    } else {
                        match attr(item, "value") {
                            Some(Value::Number(n)) => {
                                let (s, d) = match &n.unit {
                                    None => (1.0, Dim::NONE),
                                    Some(u) => match r.parse_unit(&u.name) {
                                        Ok(x) => x,
                                        Err((atom, _)) => {
                                            r.errors.push(format!("unit {name}: `{atom}` is not defined above it"));
                                            continue;
                                        }
                                    },
                                };
                                (n.value * s, d)
                            }
                            _ => {
                                r.errors.push(format!("unit {name}: needs `dimension` or `value`"));
                                continue;
                            }
                        }
                    };
                    if r.units.iter().any(|u| u.symbol == name) {
                        r.errors.push(format!("unit {name}: defined twice"));
                        continue;
                    }
                    r.units.push(UnitDef { symbol: name, scale, dim, prefix_sets });
                }
                other => r.errors.push(format!("{} {name}: not allowed in the unit registry", other.keyword())),
            }
        }
        for i in 0..r.dims.len() {
            if r.dims[i].dim == Dim::NONE {
                let display = r.dims[i].display.clone();
                match r.parse_unit(&display) {
                    Ok((_, d)) => r.dims[i].dim = d,
                    Err((atom, _)) => r.errors.push(format!("dimension {}: unknown unit `{atom}`", r.dims[i].name)),
                }
            }
        }
        for (i, b) in BASE.iter().enumerate() {
            if !base_symbols.iter().any(|(s, d)| s == b && d.0[i] == 1) {
                r.errors.push(format!("base dimension of `{b}` is not declared"));
            }
        }
        r
    }

    /// Scale and dimension of one unit atom (`GB`, `µs`, `$`), with prefixes.
    pub fn atom(&self, atom: &str) -> Option<(f64, Dim)> {
        if let Some(u) = self.units.iter().find(|u| u.symbol == atom) {
            return Some((u.scale, u.dim));
        }
        for u in &self.units {
            let Some(prefix) = atom.strip_suffix(u.symbol.as_str()) else { continue };
            for set in &u.prefix_sets {
                if let Some((_, f)) = self.prefixes.get(set).and_then(|ps| ps.iter().find(|(p, _)| p == prefix)) {
                    return Some((u.scale * f, u.dim));
                }
            }
        }
        None
    }

    /// Every spelling accepted, for did-you-mean.
    pub fn spellings(&self) -> Vec<String> {
        let mut v = Vec::new();
        for u in &self.units {
            v.push(u.symbol.clone());
            for set in &u.prefix_sets {
                for (p, _) in self.prefixes.get(set).map(|x| x.as_slice()).unwrap_or(&[]) {
                    v.push(format!("{p}{}", u.symbol));
                }
            }
        }
        v
    }

    /// Parses a unit expression such as `TB/s`, `$/h`, `B*s^-1`. The error names the
    /// atom that is not a unit (or the exponent, or the whole expression whose combined
    /// exponent, is out of range), with a hint where there is one.
    pub fn parse_unit(&self, text: &str) -> Result<(f64, Dim), (String, Option<UnitHint>)> {
        let mut scale = 1.0;
        let mut dim = Dim::NONE;
        let mut op = '*';
        let mut rest = text;
        loop {
            let end = rest.find(['/', '*', '·']).unwrap_or(rest.len());
            let atom_full = &rest[..end];
            let (atom, exp) = match atom_full.split_once('^') {
                Some((a, e)) => match e.parse::<i8>() {
                    Ok(x) if x != 0 && x.abs() <= MAX_EXPONENT => (a, x),
                    _ => return Err((atom_full.to_string(), Some(UnitHint::Exponent(MAX_EXPONENT)))),
                },
                None => (atom_full, 1),
            };
            let Some((s, d)) = self.atom(atom) else {
                return Err((atom.to_string(), None));
            };
            let (s, d) = (s.powi(exp as i32), d.pow(exp));
            if op == '/' {
                scale /= s;
                dim = dim / d;
            } else {
                scale *= s;
                dim = dim * d;
            }
            // every step stays within ±2·MAX_EXPONENT, far from i8's ends, before this check
            if dim.0.iter().any(|e| e.abs() > MAX_EXPONENT) {
                return Err((text.to_string(), Some(UnitHint::Exponent(MAX_EXPONENT))));
            }
            if end == rest.len() {
                break;
            }
            op = rest[end..].chars().next().unwrap_or('*');
            rest = &rest[end + op.len_utf8()..];
        }
        Ok((scale, dim))
    }

    pub fn dim_name(&self, d: Dim) -> Option<&DimName> {
        self.dims.iter().find(|x| x.dim == d)
    }
}

/// The largest exponent a unit may carry, written or combined: no quantity the language
/// has needs more than 4 (s^-1, B^2 for a product), and a bound keeps the exponent
/// arithmetic far from overflowing.
pub const MAX_EXPONENT: i8 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_registry_loads_cleanly() {
        let r = registry();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.units.len() >= 20);
        assert_eq!(r.dim_name(Dim::BANDWIDTH).map(|d| d.describe.as_str()), Some("a bandwidth"));
        assert_eq!(r.dim_name(Dim::PRICE).map(|d| d.display.as_str()), Some("$/h"));
    }

    #[test]
    fn loader_reports_mistakes() {
        let r = Registry::load(
            "dimension size { base = \"B\" }\nunit \"B\" { dimension = size, prefixes = [nope] }\nunit \"x\" { value = 2 furlong }\n",
        );
        assert!(r.errors.iter().any(|e| e.contains("unknown prefix set `nope`")), "{:?}", r.errors);
        assert!(r.errors.iter().any(|e| e.contains("`furlong` is not defined above it")), "{:?}", r.errors);
        assert!(r.errors.iter().any(|e| e.contains("base dimension of `s` is not declared")), "{:?}", r.errors);
    }
}
