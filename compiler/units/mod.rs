//! Physical dimensions, the unit registry and quantity evaluation.
//!
//! A quantity's value is stored in SI base units (bytes, seconds, FLOP, US
//! dollars, tokens, joules) with its dimension as a vector of exponents.

pub mod format;

use crate::diagnostics::{catalog, Diagnostic};
use crate::syntax::ast::Number;
use std::fmt;

/// Base dimensions, in this order.
pub const BASE: [&str; 6] = ["B", "s", "FLOP", "$", "tok", "J"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Dim(pub [i8; 6]);

impl Dim {
    pub const NONE: Dim = Dim([0; 6]);
    pub const BYTES: Dim = Dim([1, 0, 0, 0, 0, 0]);
    pub const TIME: Dim = Dim([0, 1, 0, 0, 0, 0]);
    pub const FLOP: Dim = Dim([0, 0, 1, 0, 0, 0]);
    pub const MONEY: Dim = Dim([0, 0, 0, 1, 0, 0]);
    pub const TOKENS: Dim = Dim([0, 0, 0, 0, 1, 0]);
    pub const ENERGY: Dim = Dim([0, 0, 0, 0, 0, 1]);
    pub const BANDWIDTH: Dim = Dim([1, -1, 0, 0, 0, 0]);
    pub const FLOP_RATE: Dim = Dim([0, -1, 1, 0, 0, 0]);
    pub const POWER: Dim = Dim([0, -1, 0, 0, 0, 1]);
    pub const PRICE: Dim = Dim([0, -1, 0, 1, 0, 0]);
    pub const TOKEN_RATE: Dim = Dim([0, -1, 0, 0, 1, 0]);

    pub fn pow(self, e: i8) -> Dim {
        let mut r = [0i8; 6];
        for (i, v) in r.iter_mut().enumerate() {
            *v = self.0[i].saturating_mul(e);
        }
        Dim(r)
    }

    /// "a bandwidth (B/s)" for well-known dimensions, else "a quantity in B·s".
    pub fn describe(self) -> String {
        let name = match self {
            Dim::NONE => return "a plain number".into(),
            Dim::BYTES => "a size",
            Dim::TIME => "a time",
            Dim::FLOP => "an amount of compute",
            Dim::MONEY => "an amount of money",
            Dim::TOKENS => "a token count",
            Dim::ENERGY => "an energy",
            Dim::BANDWIDTH => "a bandwidth",
            Dim::FLOP_RATE => "a compute rate",
            Dim::POWER => "a power",
            Dim::PRICE => "a price per time",
            Dim::TOKEN_RATE => "a token rate",
            _ => return format!("a quantity in {self}"),
        };
        let unit = match self {
            Dim::POWER => "W".to_string(),
            Dim::PRICE => "$/h".to_string(),
            _ => self.to_string(),
        };
        format!("{name} ({unit})")
    }

    fn base_name(i: usize) -> &'static str {
        match i {
            0 => "size",
            1 => "time",
            2 => "amount of compute",
            3 => "amount of money",
            4 => "token count",
            _ => "energy",
        }
    }

    /// How to turn `found` into `self`, when one base factor is missing or extra.
    pub fn fix_hint(self, found: Dim, found_text: Option<&str>) -> String {
        if found != Dim::NONE && self == found.pow(-1) {
            return "invert the quantity".into();
        }
        let diff = self / found;
        let nonzero: Vec<(usize, i8)> = diff.0.iter().copied().enumerate().filter(|(_, e)| *e != 0).collect();
        if let [(i, e)] = nonzero[..] {
            let base = Dim::base_name(i);
            let unit = BASE[i];
            let article = if base.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            return match e {
                -1 => match (found_text, i) {
                    (Some(t), 1) => format!("divide by {article} {base}: a rate is written per second, e.g. `{t}/s`"),
                    (Some(t), _) => format!("divide by {article} {base}, e.g. `{t}/{unit}`"),
                    (None, _) => format!("divide by {article} {base} ({unit})"),
                },
                1 => match (found_text, i) {
                    (Some(t), _) if t.ends_with(&format!("/{unit}")) => {
                        format!("multiply by {article} {base}: drop the `/{unit}`, e.g. `{}`", &t[..t.len() - unit.len() - 1])
                    }
                    _ => format!("multiply by {article} {base} ({unit})"),
                },
                _ => format!("the dimensions differ by {unit}^{e}"),
            };
        }
        format!("write {} here", self.describe())
    }
}

impl std::ops::Mul for Dim {
    type Output = Dim;
    fn mul(self, o: Dim) -> Dim {
        let mut r = [0i8; 6];
        for (i, v) in r.iter_mut().enumerate() {
            *v = self.0[i].saturating_add(o.0[i]);
        }
        Dim(r)
    }
}

impl std::ops::Div for Dim {
    type Output = Dim;
    fn div(self, o: Dim) -> Dim {
        self * o.pow(-1)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |pos: bool| -> Vec<String> {
            self.0
                .iter()
                .enumerate()
                .filter(|(_, e)| if pos { **e > 0 } else { **e < 0 })
                .map(|(i, e)| if e.abs() == 1 { BASE[i].to_string() } else { format!("{}^{}", BASE[i], e.abs()) })
                .collect()
        };
        let (num, den) = (part(true), part(false));
        let num = if num.is_empty() { "1".to_string() } else { num.join("·") };
        if den.is_empty() {
            write!(f, "{num}")
        } else {
            write!(f, "{num}/{}", den.join("·"))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prefixes {
    None,
    /// k, M, G, T, P, E
    Big,
    /// k ... E and Ki ... Ei
    BigBinary,
    /// m, u, µ, n, p
    Small,
}

struct UnitDef {
    symbol: &'static str,
    scale: f64,
    dim: Dim,
    prefixes: Prefixes,
}

const fn u(symbol: &'static str, scale: f64, dim: Dim, prefixes: Prefixes) -> UnitDef {
    UnitDef { symbol, scale, dim, prefixes }
}

/// The unit registry. SI prefixes are powers of ten; binary prefixes powers of two.
const UNITS: &[UnitDef] = &[
    u("B", 1.0, Dim::BYTES, Prefixes::BigBinary),
    u("byte", 1.0, Dim::BYTES, Prefixes::None),
    u("bytes", 1.0, Dim::BYTES, Prefixes::None),
    u("b", 0.125, Dim::BYTES, Prefixes::Big),
    u("bit", 0.125, Dim::BYTES, Prefixes::Big),
    u("s", 1.0, Dim::TIME, Prefixes::Small),
    u("min", 60.0, Dim::TIME, Prefixes::None),
    u("h", 3600.0, Dim::TIME, Prefixes::None),
    u("hr", 3600.0, Dim::TIME, Prefixes::None),
    u("day", 86400.0, Dim::TIME, Prefixes::None),
    u("FLOP", 1.0, Dim::FLOP, Prefixes::Big),
    u("FLOPS", 1.0, Dim::FLOP_RATE, Prefixes::Big),
    u("W", 1.0, Dim::POWER, Prefixes::Big),
    u("J", 1.0, Dim::ENERGY, Prefixes::Big),
    u("Wh", 3600.0, Dim::ENERGY, Prefixes::Big),
    u("$", 1.0, Dim::MONEY, Prefixes::None),
    u("USD", 1.0, Dim::MONEY, Prefixes::None),
    u("tok", 1.0, Dim::TOKENS, Prefixes::Big),
    u("token", 1.0, Dim::TOKENS, Prefixes::Big),
    u("tokens", 1.0, Dim::TOKENS, Prefixes::Big),
    u("%", 0.01, Dim::NONE, Prefixes::None),
];

const BIG: &[(&str, f64)] = &[("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18)];
const BINARY: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1048576.0),
    ("Gi", 1073741824.0),
    ("Ti", 1099511627776.0),
    ("Pi", 1125899906842624.0),
    ("Ei", 1152921504606846976.0),
];
const SMALL: &[(&str, f64)] = &[("m", 1e-3), ("u", 1e-6), ("µ", 1e-6), ("μ", 1e-6), ("n", 1e-9), ("p", 1e-12)];

/// Every spelling the registry accepts, for did-you-mean.
pub fn known_units() -> Vec<String> {
    let mut v = Vec::new();
    for d in UNITS {
        v.push(d.symbol.to_string());
        let sets: &[&[(&str, f64)]] = match d.prefixes {
            Prefixes::None => &[],
            Prefixes::Big => &[BIG],
            Prefixes::BigBinary => &[BIG, BINARY],
            Prefixes::Small => &[SMALL],
        };
        for set in sets {
            for (p, _) in *set {
                v.push(format!("{p}{}", d.symbol));
            }
        }
    }
    v
}

fn lookup_atom(atom: &str) -> Option<(f64, Dim)> {
    if let Some(d) = UNITS.iter().find(|d| d.symbol == atom) {
        return Some((d.scale, d.dim));
    }
    for d in UNITS {
        let Some(prefix) = atom.strip_suffix(d.symbol) else { continue };
        let sets: &[&[(&str, f64)]] = match d.prefixes {
            Prefixes::None => continue,
            Prefixes::Big => &[BIG],
            Prefixes::BigBinary => &[BIG, BINARY],
            Prefixes::Small => &[SMALL],
        };
        for set in sets {
            if let Some((_, m)) = set.iter().find(|(p, _)| *p == prefix) {
                return Some((d.scale * m, d.dim));
            }
        }
    }
    None
}

/// Hints for common wrong spellings that are close to a real unit but mean something else.
fn spelling_hint(atom: &str) -> Option<String> {
    Some(match atom {
        "KB" => "`KB` is ambiguous: write `kB` (1000 B) or `KiB` (1024 B)".into(),
        "Kb" => "`Kb` is ambiguous: write `kb` (1000 bits) or `Kib`... better `kB`/`KiB` for bytes".into(),
        a if a.ends_with("FLOPs") || a.ends_with("flops") => {
            format!("write `{}FLOP/s` for a rate or `{}FLOP` for an amount", &a[..a.len() - 5], &a[..a.len() - 5])
        }
        "sec" | "secs" => "write `s` for seconds".into(),
        a if a.ends_with("ps") && a.len() > 2 && lookup_atom(&a[..a.len() - 2]).is_some_and(|(_, d)| d == Dim::BYTES) => {
            format!("write `{}/s` for a rate", &a[..a.len() - 2])
        }
        _ => return None,
    })
}

/// Parses a unit expression such as `TB/s`, `$/h`, `FLOP/s`, `B*s^-1`.
/// Errors carry the offending atom so the caller can point at it.
pub fn parse_unit(text: &str) -> Result<(f64, Dim), (String, Option<String>)> {
    let mut scale = 1.0;
    let mut dim = Dim::NONE;
    let mut op = '*';
    let mut rest = text;
    loop {
        let end = rest.find(['/', '*', '·']).unwrap_or(rest.len());
        let atom_full = &rest[..end];
        let (atom, exp) = match atom_full.split_once('^') {
            Some((a, e)) => (a, e.parse::<i8>().unwrap_or(1)),
            None => (atom_full, 1),
        };
        let Some((s, d)) = lookup_atom(atom) else {
            return Err((atom.to_string(), spelling_hint(atom)));
        };
        let (s, d) = (s.powi(exp as i32), d.pow(exp));
        if op == '/' {
            scale /= s;
            dim = dim / d;
        } else {
            scale *= s;
            dim = dim * d;
        }
        if end == rest.len() {
            break;
        }
        op = rest[end..].chars().next().unwrap_or('*');
        rest = &rest[end + op.len_utf8()..];
    }
    Ok((scale, dim))
}

/// A number as written, evaluated to SI base units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub dim: Dim,
}

/// Evaluates a literal: applies its unit, rejects non-finite values.
pub fn eval(n: &Number) -> Result<Quantity, Diagnostic> {
    if !n.value.is_finite() {
        return Err(catalog::not_finite(n.span));
    }
    let (scale, dim) = match &n.unit {
        None => (1.0, Dim::NONE),
        Some(u) => match parse_unit(&u.name) {
            Ok(x) => x,
            Err((atom, hint)) => {
                let known = known_units();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(catalog::unknown_unit(u.span, &atom, hint, &known));
            }
        },
    };
    let value = n.value * scale;
    if !value.is_finite() {
        return Err(catalog::not_finite(n.span));
    }
    Ok(Quantity { value, dim })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> (f64, Dim) {
        parse_unit(t).unwrap()
    }

    #[test]
    fn sizes_decimal_and_binary_differ() {
        assert_eq!(p("GB"), (1e9, Dim::BYTES));
        assert_eq!(p("GiB"), (1073741824.0, Dim::BYTES));
        assert_eq!(p("kB").0, 1000.0);
    }

    #[test]
    fn bits_are_an_eighth_of_a_byte() {
        // 800 Gb/s is 100 GB/s.
        let (s, d) = p("Gb/s");
        assert_eq!(d, Dim::BANDWIDTH);
        assert_eq!(800.0 * s, 100e9);
    }

    #[test]
    fn rates_and_prices() {
        assert_eq!(p("TB/s"), (1e12, Dim::BANDWIDTH));
        assert_eq!(p("TFLOP/s"), (1e12, Dim::FLOP_RATE));
        assert_eq!(p("TFLOPS"), (1e12, Dim::FLOP_RATE));
        let (s, d) = p("$/h");
        assert_eq!(d, Dim::PRICE);
        assert!((2.5 * s - 2.5 / 3600.0).abs() < 1e-15);
        assert_eq!(p("us"), (1e-6, Dim::TIME));
        assert_eq!(p("µs"), (1e-6, Dim::TIME));
        assert_eq!(p("ms").0, 1e-3);
        assert_eq!(p("kW"), (1e3, Dim::POWER));
        assert_eq!(p("tok").1, Dim::TOKENS);
        assert_eq!(p("Mtok").0, 1e6);
        assert_eq!(p("B*s^-1"), (1.0, Dim::BANDWIDTH));
    }

    #[test]
    fn unknown_units_get_hints() {
        let (atom, hint) = parse_unit("KB").unwrap_err();
        assert_eq!(atom, "KB");
        assert!(hint.unwrap().contains("KiB"));
        assert!(parse_unit("GBps").unwrap_err().1.unwrap().contains("GB/s"));
        assert!(parse_unit("furlong").unwrap_err().1.is_none());
    }

    #[test]
    fn fix_hint_names_the_missing_factor() {
        let h = Dim::BANDWIDTH.fix_hint(Dim::BYTES, Some("80 GB"));
        assert!(h.contains("divide by a time"), "{h}");
        assert!(h.contains("`80 GB/s`"), "{h}");
        let h = Dim::BYTES.fix_hint(Dim::BANDWIDTH, Some("80 GB/s"));
        assert!(h.contains("drop the `/s`"), "{h}");
        assert_eq!(Dim::BANDWIDTH.to_string(), "B/s");
        assert_eq!(Dim::PRICE.describe(), "a price per time ($/h)");
    }
}
