//! Human formatting of SI quantities with the best prefix, deterministic.

/// `fmt_si(0.00162, "s")` -> "1.62 ms"; three significant digits.
pub fn fmt_si(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return format!("{value} {unit}");
    }
    if value == 0.0 {
        return format!("0 {unit}");
    }
    const PREFIXES: [(f64, &str); 11] = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1.0, ""),
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
        (1e-12, "p"),
    ];
    let a = value.abs();
    let (scale, p) = PREFIXES.iter().find(|(s, _)| a >= *s * 0.9995).copied().unwrap_or((1e-12, "p"));
    let v = value / scale;
    let digits = if v.abs() >= 99.95 {
        0
    } else if v.abs() >= 9.995 {
        1
    } else {
        2
    };
    format!("{:.*} {}{}", digits, v, p, unit)
}

pub fn fmt_time(s: f64) -> String {
    fmt_si(s, "s")
}

pub fn fmt_bytes(b: f64) -> String {
    fmt_si(b, "B")
}

/// Plain number with thousands kept readable: 3 significant digits above 1000.
pub fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        let neg = s.starts_with('-');
        let digits: Vec<char> = s.trim_start_matches('-').chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(*c);
        }
        if neg {
            format!("-{out}")
        } else {
            out
        }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Three significant digits, at least two decimals below 100: 400, 8.00, 0.05, 0.0041.
pub fn three_digits(x: f64) -> String {
    if !(x.is_finite() && x > 0.0) {
        return fmt_num(x);
    }
    let decimals = (2 - x.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if decimals > 2 {
        let t = s.trim_end_matches('0');
        let keep = t.find('.').map_or(t.len(), |d| (d + 3).max(t.len()));
        s[..keep].to_string()
    } else {
        s
    }
}

/// A figure held in SI `unit` (`s`, `$/s`, `W`, `B/s`, `FLOP/s`; anything else plain) in
/// the unit people write it in: 2 µs, $8.00/h, 1.8 kW, 900 GB/s.
pub fn fmt_figure(unit: &str, v: f64) -> String {
    match unit {
        "s" => fmt_time(v),
        "$/s" => format!("${}/h", three_digits(v * 3600.0)),
        "W" => fmt_si(v, "W"),
        "B/s" => fmt_si(v, "B/s"),
        "FLOP/s" => fmt_si(v, "FLOP/s"),
        _ => fmt_num(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(fmt_time(0.00162), "1.62 ms");
        assert_eq!(fmt_time(2.5e-6), "2.50 µs");
        assert_eq!(fmt_bytes(141.1e9), "141 GB");
        assert_eq!(fmt_bytes(80e9), "80.0 GB");
        assert_eq!(fmt_si(0.0, "s"), "0 s");
        assert_eq!(fmt_num(1234567.0), "1,234,567");
        assert_eq!(fmt_num(12.345), "12.3");
    }
}
