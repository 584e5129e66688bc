//! Physical dimensions, the unit registry and quantity evaluation.
//!
//! A quantity's value is stored in SI base units (bytes, seconds, FLOP, US
//! dollars, tokens, joules) with its dimension as a vector of exponents.

pub mod format;
pub mod registry;

use crate::diagnostics::catalog::{self, UnitHint};
use crate::diagnostics::Diagnostic;
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
    /// requests (a plain count) per second
    pub const REQUEST_RATE: Dim = Dim([0, -1, 0, 0, 0, 0]);

    pub fn pow(self, e: i8) -> Dim {
        let mut r = [0i8; 6];
        for (i, v) in r.iter_mut().enumerate() {
            *v = self.0[i].saturating_mul(e);
        }
        Dim(r)
    }

    /// "a bandwidth (B/s)" for dimensions the registry names, else "a quantity in B·s".
    pub fn describe(self) -> String {
        if self == Dim::NONE {
            return "a plain number".into();
        }
        match registry::registry().dim_name(self) {
            Some(n) => format!("{} ({})", n.describe, n.display),
            None => format!("a quantity in {self}"),
        }
    }

    /// "a time" for base dimension `i`.
    fn base_name(i: usize) -> String {
        let mut e = [0i8; 6];
        e[i] = 1;
        registry::registry().dim_name(Dim(e)).map(|n| n.describe.clone()).unwrap_or_else(|| format!("a {}", BASE[i]))
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
            return match e {
                -1 => match (found_text, i) {
                    (Some(t), 1) => format!("divide by {base}: a rate is written per second, e.g. `{t}/s`"),
                    (Some(t), _) => format!("divide by {base}, e.g. `{t}/{unit}`"),
                    (None, _) => format!("divide by {base} ({unit})"),
                },
                1 => match (found_text, i) {
                    (Some(t), _) if t.ends_with(&format!("/{unit}")) => {
                        format!("multiply by {base}: drop the `/{unit}`, e.g. `{}`", &t[..t.len() - unit.len() - 1])
                    }
                    _ => format!("multiply by {base} ({unit})"),
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

/// Every spelling the registry accepts, for did-you-mean.
pub fn known_units() -> Vec<String> {
    registry::registry().spellings()
}

fn lookup_atom(atom: &str) -> Option<(f64, Dim)> {
    registry::registry().atom(atom)
}

/// Hints for common wrong spellings that are close to a real unit but mean something else.
fn spelling_hint(atom: &str) -> Option<UnitHint> {
    Some(match atom {
        "KB" => UnitHint::AmbiguousK { bits: false },
        "Kb" => UnitHint::AmbiguousK { bits: true },
        a if a.ends_with("FLOPs") || a.ends_with("flops") => UnitHint::Flops(a[..a.len() - 5].to_string()),
        "sec" | "secs" => UnitHint::Seconds,
        a if a.ends_with("ps") && a.len() > 2 && lookup_atom(&a[..a.len() - 2]).is_some_and(|(_, d)| d == Dim::BYTES) => {
            UnitHint::BytesPerSecond(a[..a.len() - 2].to_string())
        }
        _ => return None,
    })
}

/// Parses a unit expression such as `TB/s`, `$/h`, `FLOP/s`, `B*s^-1` with the
/// registry of stdlib/units.hplan. Errors carry the offending atom and, for common
/// misspellings, a hint.
pub fn parse_unit(text: &str) -> Result<(f64, Dim), (String, Option<UnitHint>)> {
    registry::registry().parse_unit(text).map_err(|(atom, hint)| {
        let hint = hint.or_else(|| spelling_hint(&atom));
        (atom, hint)
    })
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
    fn exponents_are_bounded_and_never_wrap() {
        // written exponents out of range, unparsable or 0 are errors naming the atom
        for (unit, atom) in [
            ("GB^99999999999999999999", "GB^99999999999999999999"),
            ("GB^2147483648", "GB^2147483648"),
            ("B^255*B^2", "B^255"),
            ("GB^200/GB^199", "GB^200"),
            ("s^0", "s^0"),
            ("B^9", "B^9"),
        ] {
            let (a, hint) = parse_unit(unit).unwrap_err();
            assert_eq!(a, atom, "{unit}");
            assert_eq!(hint, Some(UnitHint::Exponent(8)), "{unit}");
        }
        // combined exponents past the bound name the whole expression
        let (a, _) = parse_unit("B^8*B^8").unwrap_err();
        assert_eq!(a, "B^8*B^8");
        // in range they combine exactly
        assert_eq!(parse_unit("B^8/B^7").unwrap().1, parse_unit("B").unwrap().1);
        assert_eq!(parse_unit("B^2*B^-1*s^-1").unwrap().1, Dim::BANDWIDTH);
    }

    #[test]
    fn unknown_units_get_hints() {
        let (atom, hint) = parse_unit("KB").unwrap_err();
        assert_eq!(atom, "KB");
        assert_eq!(hint, Some(UnitHint::AmbiguousK { bits: false }));
        assert_eq!(parse_unit("GBps").unwrap_err().1, Some(UnitHint::BytesPerSecond("GB".into())));
        assert_eq!(parse_unit("TFLOPs").unwrap_err().1, Some(UnitHint::Flops("T".into())));
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
