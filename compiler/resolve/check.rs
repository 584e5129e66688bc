//! Checks a block body against its schema and evaluates its values into
//! SI units. Produces [`Fields`] that the IR lowering reads.

use super::schema::{AttrKind, BlockSpec, Stmt};
use crate::diagnostics::catalog::{self, Rule};
use crate::diagnostics::Diagnostics;
use crate::ir::{Contents, Precision};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{Body, Entry, Ident, Number, Path, Spread, Value};
use crate::units::{self, Dim};
use std::collections::BTreeMap;

/// Largest magnitude accepted for any quantity in SI units (1e30 B is a
/// million yottabytes); larger values are typos.
const ABSURD: f64 = 1e30;

/// The magnitudes a quantity of one dimension can physically have, for any attribute
/// of that dimension: the figures of any chip, link or workload from a phone to a
/// data centre fit with room to spare, and outside them later phases would compute
/// with times of 10^300 s or divide by zero (issue 15, item 6).
pub struct Magnitude {
    /// least and most, in SI units
    pub low: f64,
    pub high: f64,
    /// whether exactly zero means something (an overhead or a latency of none)
    pub zero: bool,
    /// the unit the message names the bounds in, and its size in SI units
    pub unit: &'static str,
    pub scale: f64,
}

impl Magnitude {
    /// Whether `x` (SI units, not negative) is a magnitude the dimension can have.
    pub fn admits(&self, x: f64) -> bool {
        if x == 0.0 {
            self.zero
        } else {
            (self.low..=self.high).contains(&x)
        }
    }
}

/// The range of `dim`, if it has one.
pub fn magnitude(dim: Dim) -> Option<Magnitude> {
    let m = |low, high, zero, unit, scale| Some(Magnitude { low, high, zero, unit, scale });
    match dim {
        // 1 GFLOP/s (one CPU core) to 10^21 FLOP/s (a thousand wafers)
        d if d == Dim::FLOP_RATE => m(1e9, 1e21, false, "TFLOP/s", 1e12),
        // 1 MB/s to 1 EB/s
        d if d == Dim::BANDWIDTH => m(1e6, 1e18, false, "GB/s", 1e9),
        // 1 mW to 1 GW
        d if d == Dim::POWER => m(1e-3, 1e9, false, "W", 1.0),
        // a picosecond to a year; zero is no time at all
        d if d == Dim::TIME => m(1e-12, 3.2e7, true, "s", 1.0),
        // a byte to an exabyte; zero is none
        d if d == Dim::BYTES => m(1.0, 1e18, true, "GB", 1e9),
        // a millionth of a dollar to a million dollars an hour; zero is free
        d if d == Dim::PRICE => m(1e-6 / 3600.0, 1e6 / 3600.0, true, "$/h", 1.0 / 3600.0),
        _ => None,
    }
}
/// Largest count accepted (layers, chips, tokens).
const MAX_COUNT: f64 = 1e12;

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Num(f64),
    Count(u64),
    Str(String),
    Bool(bool),
    Prec(Precision),
    Contents(Vec<Contents>),
    Ref(Path, Option<Body>),
    Range(u64, u64),
    NumRange(f64, f64),
    /// a list of names
    Names(Vec<Path>),
    Word(String),
    /// a range whose ends another attribute's value decides how to check
    /// ([`AttrKind::FigureRange`]): its two ends, unchecked
    Ends(Number, Number, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub val: Val,
    /// `(low, high)` in SI units when the figure was written with its uncertainty
    pub spread: Option<(f64, f64)>,
    /// the value's span
    pub span: Span,
    /// the whole `name = value` span
    pub entry_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubFields {
    pub keyword: &'static str,
    pub label: Option<Ident>,
    pub fields: Fields,
    pub span: Span,
}

/// The schema a block was checked against (compared by identity, shown by name).
#[derive(Clone, Copy)]
pub struct SpecRef(pub &'static BlockSpec);

impl std::fmt::Debug for SpecRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.name)
    }
}

impl PartialEq for SpecRef {
    fn eq(&self, other: &SpecRef) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Fields {
    /// the schema the block was checked against: every attribute and sub-block read
    /// must be one it declares (a misspelt name is a bug, caught in debug builds)
    pub spec: Option<SpecRef>,
    pub attrs: BTreeMap<&'static str, Field>,
    pub blocks: Vec<SubFields>,
    /// statements (pool, link, place, objective, constraint), in order
    pub stmts: Vec<Entry>,
    /// attribute names written in the block, valid or not
    pub given: Vec<String>,
}

impl Fields {
    /// Asserts (in debug builds) that the schema declares attribute `name`.
    fn declared(&self, name: &str) {
        if let Some(SpecRef(spec)) = self.spec {
            debug_assert!(spec.attrs.iter().any(|a| a.name == name), "`{name}` is not an attribute of the {} schema", spec.name);
        }
    }
    fn val(&self, name: &str) -> Option<&Val> {
        self.declared(name);
        self.attrs.get(name).map(|f| &f.val)
    }
    pub fn num(&self, name: &str) -> Option<f64> {
        if let Some(Val::Num(v)) = self.val(name) {
            Some(*v)
        } else {
            None
        }
    }
    pub fn count(&self, name: &str) -> Option<u64> {
        if let Some(Val::Count(v)) = self.val(name) {
            Some(*v)
        } else {
            None
        }
    }
    pub fn word(&self, name: &str) -> Option<&str> {
        if let Some(Val::Word(s)) = self.val(name) {
            Some(s)
        } else {
            None
        }
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        if let Some(Val::Str(s)) = self.val(name) {
            Some(s)
        } else {
            None
        }
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        if let Some(Val::Bool(b)) = self.val(name) {
            Some(*b)
        } else {
            None
        }
    }
    pub fn prec(&self, name: &str) -> Option<Precision> {
        if let Some(Val::Prec(p)) = self.val(name) {
            Some(*p)
        } else {
            None
        }
    }
    pub fn range(&self, name: &str) -> Option<(u64, u64)> {
        if let Some(Val::Range(a, b)) = self.val(name) {
            Some((*a, *b))
        } else {
            None
        }
    }
    pub fn num_range(&self, name: &str) -> Option<(f64, f64)> {
        if let Some(Val::NumRange(a, b)) = self.val(name) {
            Some((*a, *b))
        } else {
            None
        }
    }
    pub fn names(&self, name: &str) -> Option<&[Path]> {
        if let Some(Val::Names(v)) = self.val(name) {
            Some(v)
        } else {
            None
        }
    }
    pub fn span(&self, name: &str) -> Option<Span> {
        self.declared(name);
        self.attrs.get(name).map(|f| f.span)
    }
    /// The `(low, high)` of a figure written with its uncertainty, and its span.
    pub fn spread(&self, name: &str) -> Option<(f64, f64, Span)> {
        self.declared(name);
        self.attrs.get(name).and_then(|f| f.spread.map(|(lo, hi)| (lo, hi, f.span)))
    }
    pub fn block(&self, keyword: &str) -> Option<&SubFields> {
        if let Some(SpecRef(spec)) = self.spec {
            debug_assert!(spec.blocks.iter().any(|b| b.keyword == keyword), "`{keyword}` is not a block of the {} schema", spec.name);
        }
        self.blocks.iter().find(|b| b.keyword == keyword)
    }
}

pub struct Checker<'a> {
    pub sources: &'a SourceMap,
    pub diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    /// Checks `body` against `spec`. `span` (the block's name or keyword) is where
    /// "missing" errors point.
    pub fn check(&mut self, body: &Body, spec: &'static BlockSpec, span: Span) -> Fields {
        let mut fields = Fields { spec: Some(SpecRef(spec)), ..Fields::default() };
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut known: Vec<&str> = spec.attrs.iter().map(|a| a.name).collect();
        known.extend(spec.blocks.iter().map(|b| b.keyword));
        for entry in &body.entries {
            match entry {
                Entry::Attr(attr) => {
                    fields.given.push(attr.name.name.clone());
                    let Some(aspec) = spec.attrs.iter().find(|a| a.name == attr.name.name) else {
                        // `bandwidth` written in a chip belongs in its `memory` block.
                        let in_block = match catalog::did_you_mean(&attr.name.name, known.iter().copied()) {
                            Some(_) => None,
                            None => spec.blocks.iter().find_map(|sub| {
                                let names: Vec<&str> = sub.spec.attrs.iter().map(|a| a.name).collect();
                                catalog::did_you_mean(&attr.name.name, names.iter().copied())
                                    .map(|m| (m.to_string(), sub.keyword, sub.labelled))
                            }),
                        };
                        let in_block =
                            in_block.as_ref().map(|(m, block, labelled)| catalog::InBlock { attr: m, block, labelled: *labelled });
                        self.diags.push(catalog::unknown_attribute(attr.name.span, &attr.name.name, spec.name, &known, in_block));
                        // A misspelling of a required attribute is not also reported as missing.
                        if let Some(meant) = catalog::did_you_mean(&attr.name.name, known.iter().copied()) {
                            seen.entry(meant.to_string()).or_insert(attr.name.span);
                        }
                        continue;
                    };
                    if let Some(first) = seen.get(aspec.name) {
                        self.diags.push(catalog::duplicate_attribute(attr.name.span, aspec.name, *first));
                        continue;
                    }
                    seen.insert(aspec.name.to_string(), attr.name.span);
                    let what = format!("`{}`", aspec.name);
                    if let Value::Uncertain { nominal, spread, span } = &attr.value {
                        if !super::schema::may_be_uncertain(spec.name, aspec.name) {
                            self.diags.push(catalog::uncertainty_not_allowed(*span, &what, spec.name));
                            continue;
                        }
                        if let Some((v, lo, hi)) = self.uncertain(nominal, spread, *span, aspec.kind, &what) {
                            let field = Field { val: Val::Num(v), spread: Some((lo, hi)), span: *span, entry_span: attr.span };
                            fields.attrs.insert(aspec.name, field);
                        }
                        continue;
                    }
                    if let Some(val) = self.value(&attr.value, aspec.kind, &what) {
                        fields.attrs.insert(aspec.name, Field { val, spread: None, span: attr.value.span(), entry_span: attr.span });
                    }
                }
                Entry::Block(b) => {
                    let Some(sub) = spec.blocks.iter().find(|s| s.keyword == b.kind.name) else {
                        self.diags.push(catalog::unknown_attribute(b.kind.span, &b.kind.name, spec.name, &known, None));
                        continue;
                    };
                    let key = format!("{} {}", sub.keyword, b.label.as_ref().map(|l| l.name.as_str()).unwrap_or(""));
                    let dup_key = if sub.repeated { key } else { sub.keyword.to_string() };
                    if let Some(first) = seen.get(&dup_key) {
                        self.diags.push(catalog::duplicate_attribute(b.kind.span, sub.keyword, *first));
                        continue;
                    }
                    seen.insert(dup_key, b.kind.span);
                    if sub.labelled && b.label.is_none() {
                        self.diags.push(catalog::unnamed_block(b.kind.span, sub.keyword));
                        continue;
                    }
                    if !sub.labelled {
                        if let Some(l) = &b.label {
                            self.diags.push(catalog::not_allowed(l.span, &catalog::Misplaced::BlockName { keyword: sub.keyword }));
                        }
                    }
                    let inner = self.check(&b.body, sub.spec, b.kind.span);
                    fields.blocks.push(SubFields { keyword: sub.keyword, label: b.label.clone(), fields: inner, span: b.span });
                }
                other => {
                    let kind = match other {
                        Entry::Pool(_) => Stmt::Pool,
                        Entry::Link(_) => Stmt::Link,
                        Entry::Place(_) => Stmt::Place,
                        Entry::Objective(_) => Stmt::Objective,
                        _ => Stmt::Constraint,
                    };
                    if spec.stmts.contains(&kind) {
                        fields.stmts.push(other.clone());
                    } else {
                        let belongs = match kind {
                            Stmt::Pool | Stmt::Link => catalog::Belongs::Cluster,
                            Stmt::Place | Stmt::Objective => catalog::Belongs::Plan,
                            Stmt::Constraint => catalog::Belongs::Slo,
                        };
                        let what = catalog::Misplaced::Statement { what: kind.describe(), block: spec.name, belongs };
                        self.diags.push(catalog::not_allowed(other.span(), &what));
                    }
                }
            }
        }
        for aspec in spec.attrs.iter().filter(|a| a.required) {
            if !fields.attrs.contains_key(aspec.name) && !seen.contains_key(aspec.name) {
                self.diags.push(catalog::missing_attribute(span, aspec.name, spec.name, aspec.example));
            }
        }
        for sub in spec.blocks.iter().filter(|b| b.required) {
            if !fields.blocks.iter().any(|b| b.keyword == sub.keyword) && !seen.keys().any(|k| k.split(' ').next() == Some(sub.keyword)) {
                let example = if sub.labelled { format!("{} <name> {{ ... }}", sub.keyword) } else { format!("{} {{ ... }}", sub.keyword) };
                self.diags.push(catalog::missing_block(span, sub.keyword, spec.name, &example));
            }
        }
        fields
    }

    /// Evaluates a quantity literal and checks its dimension against `want`.
    pub fn quantity(&mut self, n: &Number, want: Dim, what: &str) -> Option<f64> {
        let q = match units::eval(n) {
            Ok(q) => q,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        if q.dim != want {
            let text = self.sources.text(n.span).trim().to_string();
            let hint = want.fix_hint(q.dim, Some(&text));
            self.diags.push(catalog::dimension_mismatch(n.span, what, &want.describe(), &q.dim.describe(), hint));
            return None;
        }
        if q.value < 0.0 {
            self.diags.push(catalog::out_of_range(n.span, what, Rule::not_negative()));
            return None;
        }
        if q.value.abs() > ABSURD {
            self.diags.push(catalog::out_of_range(n.span, what, Rule::be("below 1e30 in SI units; this looks like a typo")));
            return None;
        }
        if let Some(m) = magnitude(want) {
            if !m.admits(q.value) {
                let zero = if m.zero { "0 or " } else { "" };
                let plain = |x: f64| if (1e-3..1e6).contains(&x) { format!("{x}") } else { format!("{x:e}") };
                let why = Rule::be(format!("{zero}between {} and {} {}", plain(m.low / m.scale), plain(m.high / m.scale), m.unit));
                self.diags.push(catalog::out_of_range(n.span, what, why));
                return None;
            }
        }
        Some(q.value)
    }

    fn count(&mut self, n: &Number, what: &str, allow_tokens: bool) -> Option<u64> {
        self.count_from(n, what, allow_tokens, 1)
    }

    fn count_from(&mut self, n: &Number, what: &str, allow_tokens: bool, min: u64) -> Option<u64> {
        let q = match units::eval(n) {
            Ok(q) => q,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        if !(q.dim == Dim::NONE || (allow_tokens && q.dim == Dim::TOKENS)) {
            let expected = if allow_tokens { "a token count (tok)" } else { "a plain number" };
            let hint = if allow_tokens { "write a number of tokens, e.g. `8k tok`".to_string() } else { "remove the unit".to_string() };
            self.diags.push(catalog::dimension_mismatch(n.span, what, expected, &q.dim.describe(), hint));
            return None;
        }
        if q.value.fract() != 0.0 {
            self.diags.push(catalog::out_of_range(n.span, what, Rule::whole()));
            return None;
        }
        if q.value < min as f64 {
            self.diags.push(catalog::out_of_range(n.span, what, Rule::at_least(min)));
            return None;
        }
        if q.value > MAX_COUNT {
            self.diags.push(catalog::out_of_range(n.span, what, Rule::at_most("1e12")));
            return None;
        }
        Some(q.value as u64)
    }

    /// A figure with its uncertainty: `(nominal, low, high)` in SI units. `± x%` is a
    /// share of the nominal, `± x` an amount of its dimension, `in [a, b]` the bounds
    /// themselves; each bound is checked as the figure is (dimension, magnitude) and
    /// must lie on its side of the nominal.
    fn uncertain(&mut self, nominal: &Number, spread: &Spread, span: Span, kind: AttrKind, what: &str) -> Option<(f64, f64, f64)> {
        let num = |this: &mut Self, n: &Number| match this.value(&Value::Number(n.clone()), kind, what)? {
            Val::Num(v) => Some(v),
            _ => None,
        };
        let v = num(self, nominal)?;
        let (lo, hi) = match spread {
            Spread::PlusMinus(d) if d.unit.as_ref().is_some_and(|u| u.name == "%") => {
                let share = units::eval(d).map(|q| q.value).unwrap_or(f64::NAN);
                if !(share > 0.0 && share < 1.0) {
                    self.diags.push(catalog::out_of_range(
                        d.span,
                        "the uncertainty",
                        Rule::be("a share between 0% and 100% of the figure"),
                    ));
                    return None;
                }
                (v * (1.0 - share), v * (1.0 + share))
            }
            Spread::PlusMinus(d) => {
                let delta = match kind {
                    AttrKind::Quantity(dim) => self.quantity(d, dim, "the uncertainty")?,
                    _ => num(self, d)?,
                };
                (v - delta, v + delta)
            }
            Spread::Within(a, b) => (num(self, a)?, num(self, b)?),
        };
        if !(lo <= v && v <= hi && lo < hi) {
            self.diags.push(catalog::out_of_range(span, what, Rule::be("a range around the figure (low ≤ figure ≤ high, low < high)")));
            return None;
        }
        // the bounds of `± x` must themselves be figures the attribute may take
        let valid = |x: f64| match kind {
            AttrKind::Quantity(dim) => x >= 0.0 && magnitude(dim).is_none_or(|m| m.admits(x)),
            AttrKind::Fraction => x > 0.0 && x <= 1.0,
            _ => x > 0.0,
        };
        if !valid(lo) || !valid(hi) {
            self.diags.push(catalog::out_of_range(span, what, Rule::be("a range whose ends are both figures it may take")));
            return None;
        }
        Some((v, lo, hi))
    }

    pub fn value(&mut self, v: &Value, kind: AttrKind, what: &str) -> Option<Val> {
        let wrong = |this: &mut Self| {
            this.diags.push(catalog::wrong_value(v.span(), what, &kind.describe(), v.describe()));
            None
        };
        match (kind, v) {
            (AttrKind::Quantity(d), Value::Number(n)) => self.quantity(n, d, what).map(Val::Num),
            (AttrKind::Count, Value::Number(n)) => self.count(n, what, false).map(Val::Count),
            (AttrKind::CountOrZero, Value::Number(n)) => self.count_from(n, what, false, 0).map(Val::Count),
            (AttrKind::CountUpTo(max, per), Value::Number(n)) => match self.count(n, what, false)? {
                c if c > max => {
                    self.diags.push(catalog::count_too_large(n.span, what, Rule::at_most(format!("{max}{per}")), c));
                    None
                }
                c => Some(Val::Count(c)),
            },
            (AttrKind::Choice(words), Value::Ref(p, None)) if p.segments.len() == 1 => {
                let w = &p.segments[0].name;
                if words.contains(&w.as_str()) {
                    Some(Val::Word(w.clone()))
                } else {
                    self.diags.push(catalog::unknown_choice(p.span, w, what.trim_matches('`'), words));
                    None
                }
            }
            (AttrKind::Tokens, Value::Number(n)) => self.count(n, what, true).map(Val::Count),
            (AttrKind::CountOrRange, Value::Number(n)) => self.count(n, what, false).map(|c| Val::Range(c, c)),
            (AttrKind::CountOrRange, Value::Range { lo, hi, inclusive, span }) => {
                let lo = self.count(lo, what, false)?;
                let hi = self.count(hi, what, false)?;
                let hi = if *inclusive { hi } else { hi.saturating_sub(1) };
                if hi < lo {
                    self.diags.push(catalog::out_of_range(*span, what, Rule::be("a non-empty range (low ..= high)")));
                    return None;
                }
                Some(Val::Range(lo, hi))
            }
            (AttrKind::FigureRange, Value::Range { lo, hi, span, .. }) => Some(Val::Ends(lo.clone(), hi.clone(), *span)),
            (AttrKind::QuantityOrRange(d), Value::Number(n)) => self.quantity(n, d, what).map(|x| Val::NumRange(x, x)),
            (AttrKind::QuantityOrRange(d), Value::Range { lo, hi, span, .. }) => {
                let lo = self.quantity(lo, d, what)?;
                let hi = self.quantity(hi, d, what)?;
                if !(lo > 0.0 && hi >= lo) {
                    self.diags.push(catalog::out_of_range(*span, what, Rule::be("a range of positive values (low ..= high)")));
                    return None;
                }
                Some(Val::NumRange(lo, hi))
            }
            (AttrKind::Fraction, Value::Number(n)) => {
                let q = match units::eval(n) {
                    Ok(q) => q,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                };
                if q.dim != Dim::NONE {
                    self.diags.push(catalog::dimension_mismatch(
                        n.span,
                        what,
                        "a plain number",
                        &q.dim.describe(),
                        "remove the unit".into(),
                    ));
                    return None;
                }
                if !(q.value > 0.0 && q.value <= 1.0) {
                    self.diags.push(catalog::out_of_range(n.span, what, Rule::fraction()));
                    return None;
                }
                Some(Val::Num(q.value))
            }
            (AttrKind::Number, Value::Number(n)) => {
                let q = match units::eval(n) {
                    Ok(q) => q,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                };
                if q.dim != Dim::NONE || q.value <= 0.0 {
                    self.diags.push(catalog::out_of_range(n.span, what, Rule::be("a positive plain number")));
                    return None;
                }
                Some(Val::Num(q.value))
            }
            (AttrKind::Str, Value::Str(s, _)) => Some(Val::Str(s.clone())),
            (AttrKind::Bool, Value::Bool(b, _)) => Some(Val::Bool(*b)),
            (AttrKind::Precision, Value::Ref(p, None)) if p.segments.len() == 1 => match Precision::from_name(&p.segments[0].name) {
                Some(pr) => Some(Val::Prec(pr)),
                None => {
                    let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
                    self.diags.push(catalog::unknown_choice(p.span, &p.segments[0].name, "precision", &names));
                    None
                }
            },
            (AttrKind::Contents, Value::List(items, _)) => {
                let mut out = Vec::new();
                for it in items {
                    match it {
                        Value::Ref(p, None) if p.segments.len() == 1 && p.segments[0].name == "weights" => out.push(Contents::Weights),
                        Value::Ref(p, None) if p.segments.len() == 1 && p.segments[0].name == "kv" => out.push(Contents::Kv),
                        Value::Ref(p, None) => {
                            self.diags.push(catalog::unknown_choice(p.span, &p.to_string(), "memory content", &["weights", "kv"]));
                        }
                        other => {
                            self.diags.push(catalog::wrong_value(other.span(), what, "`weights` or `kv`", other.describe()));
                        }
                    }
                }
                Some(Val::Contents(out))
            }
            (AttrKind::Ref(_), Value::Ref(p, body)) => Some(Val::Ref(p.clone(), body.clone())),
            (AttrKind::List(k), Value::List(items, _)) => {
                let mut out = Vec::new();
                for it in items {
                    match it {
                        Value::Ref(p, None) => out.push(p.clone()),
                        other => self.diags.push(catalog::wrong_value(other.span(), what, &format!("a {k} name"), other.describe())),
                    }
                }
                Some(Val::Names(out))
            }
            _ => wrong(self),
        }
    }
}

#[cfg(test)]
mod field_tests {
    use super::*;

    /// A misspelt attribute name would read as "not given" for ever; reading one the
    /// schema does not declare is caught in debug builds (every test build).
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "`bandwith` is not an attribute of the workload schema")]
    fn reading_an_attribute_the_schema_lacks_is_a_bug() {
        let f = Fields { spec: Some(SpecRef(&crate::resolve::schema::WORKLOAD)), ..Fields::default() };
        let _ = f.num("bandwith");
    }

    #[test]
    fn declared_attributes_read_as_given_or_absent() {
        let f = Fields { spec: Some(SpecRef(&crate::resolve::schema::WORKLOAD)), ..Fields::default() };
        assert_eq!(f.count("requests"), None);
        assert_eq!(f.span("seed"), None);
    }
}
