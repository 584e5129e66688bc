//! Hover: a quantity in other units, a plan's solved placement and metrics, a model's
//! figures, a chip's specs, and the declaration the name resolved to.

use super::*;

/// A model's derived figures, as declared or as a plan uses it.
pub(super) fn model_figures(m: &crate::ir::Model) -> String {
    use crate::units::format::fmt_bytes;
    format!(
        "{:.2} B params ({:.2} B active), {} of {} weights{}, KV cache {}/token ({})",
        m.params() as f64 / 1e9,
        m.active_params() as f64 / 1e9,
        fmt_bytes(m.weight_bytes()),
        m.weights.name(),
        m.unquantized_apart().map(|u| format!(" ({} embeddings, norms and routers)", u.name())).unwrap_or_default(),
        fmt_bytes(m.kv_bytes_per_token()),
        m.kv.name()
    )
}

/// A chip's specs as the compiler reads them.
fn chip_specs(c: &crate::ir::Chip) -> String {
    use crate::units::format::{fmt_bytes, fmt_num, fmt_si};
    let peaks: Vec<String> = c.compute.iter().rev().map(|(p, v)| format!("{} {}", p.name(), fmt_si(*v, "FLOP/s"))).collect();
    let tiers: Vec<String> = c
        .memory
        .iter()
        .map(|t| {
            let holds: Vec<&str> = t.holds.iter().map(|h| if *h == crate::ir::Contents::Weights { "weights" } else { "kv" }).collect();
            let holds = if holds.is_empty() { String::new() } else { format!(", holds {}", holds.join(" and ")) };
            format!("{} {} at {}/s{holds}", t.name, fmt_bytes(t.capacity), fmt_bytes(t.bandwidth))
        })
        .collect();
    let mut s = format!("dense peaks: {}  \nmemory: {}", peaks.join(", "), tiers.join("; "));
    if let Some(w) = c.power {
        s.push_str(&format!("  \npower: {} W", fmt_num(w)));
    }
    if let Some(w) = c.system_power {
        s.push_str(&format!("  \npower as deployed: {} W", fmt_num(w)));
    }
    if let Some(p) = c.price {
        s.push_str(&format!("  \nprice: ${:.2}/h", p * 3600.0));
    }
    s.push_str(&format!("  \nefficiency: compute {:.0}%, memory {:.0}%", c.compute_efficiency * 100.0, c.memory_efficiency * 100.0));
    s
}

/// Four significant digits, trailing zeros trimmed.
fn sig(x: f64) -> String {
    let decimals = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A quantity in the units of its dimension that put it between 1 and 1000 (decimal
/// and binary sizes both), and in SI base units.
pub(super) fn quantity_hover(n: &crate::syntax::ast::Number) -> Option<String> {
    let q = crate::units::eval(n).ok()?;
    let written = n.unit.as_ref().map(|u| format!("{} {}", sig(n.value), u.name)).unwrap_or_else(|| sig(n.value));
    if q.dim == Dim::NONE {
        return Some(format!("**{written}**: a plain number"));
    }
    let mut alts: Vec<(f64, String)> = units_of(q.dim)
        .into_iter()
        .filter_map(|(u, scale)| {
            let v = q.value / scale;
            (v.abs() >= 1.0 && v.abs() < 1000.0).then(|| (scale, format!("{} {u}", sig(v))))
        })
        .collect();
    alts.sort_by(|a, b| a.0.total_cmp(&b.0));
    alts.dedup_by(|a, b| a.1 == b.1);
    let mut s = format!("**{written}**: {}\n\n= {} {} (SI base units)", q.dim.describe(), crate::units::format::fmt_num(q.value), q.dim);
    for (_, a) in alts.iter().take(8) {
        s.push_str(&format!("  \n= {a}"));
    }
    Some(s)
}

/// Unit spellings of dimension `dim` (the registry's units, and those over `s` or `h`)
/// with their scales to SI base units.
pub(super) fn units_of(dim: Dim) -> Vec<(String, f64)> {
    let atoms = crate::units::known_units();
    let mut out: Vec<(String, f64)> = Vec::new();
    for a in &atoms {
        for u in [a.clone(), format!("{a}/s"), format!("{a}/h")] {
            if let Ok((scale, d)) = crate::units::parse_unit(&u) {
                if d == dim && !out.iter().any(|(x, _)| *x == u) {
                    out.push((u, scale));
                }
            }
        }
    }
    out
}

impl Ctx<'_> {
    /// Hover: a quantity in other units; a plan's solved placement and metrics; a
    /// model's figures; a chip's specs; and the declaration of the item named.
    pub(super) fn hover(&self, pos: lt::Position) -> Option<lt::Hover> {
        let at = offset(self.text, pos);
        let file = parse(self.text);
        if let Some(n) = number_at(&file, at) {
            let value = quantity_hover(&n)?;
            return Some(markdown(value, Some(range(self.text, n.span.range()))));
        }
        let (word, span) = word_at(self.text, at)?;
        let mut head = String::new();
        let comp = self.comp;
        // on a plan's `model = ...`: the figures as the plan uses it
        if let Some(p) = comp.program.plans.iter().find(|p| p.model_span.file == comp.root && p.model_span.range().contains(&at)) {
            head.push_str(&format!("**{}** in plan `{}`: {}\n\n", p.model.name, p.name, model_figures(&p.model)));
        } else if let Some(m) = comp.program.models.iter().find(|m| m.name == word) {
            head.push_str(&format!("**model `{}`**: {}\n\n", m.name, model_figures(m)));
        }
        if let Some(c) = comp.program.chips.iter().find(|c| c.name == word) {
            head.push_str(&format!("**chip `{}`**  \n{}\n\n", c.name, chip_specs(c)));
        }
        let is_plan = file.items.iter().any(|i| i.kind == ItemKind::Plan && i.name.name == word);
        if is_plan {
            match self.solution.and_then(|s| s.plans.iter().find(|p| p.name == word)) {
                Some(f) => head.push_str(&format!("{}\n", f.hover)),
                None if comp.program.plans.iter().any(|p| p.name == word) => {
                    head.push_str(&format!("**plan `{word}`**: solving… (hover again for the placement)\n\n"))
                }
                None => head.push_str(&format!("**plan `{word}`**: not solved (see its diagnostics)\n\n")),
            }
        }
        // the declaration the name resolved to (the compiler's name index)
        let decl = self.declaration_text(pos);
        if head.is_empty() && decl.is_none() {
            return None;
        }
        let mut value = head;
        match decl {
            Some((text, true)) => value.push_str(&format!("**pool `{word}`**\n```hplan\n{text}\n```")),
            Some((text, false)) => {
                let lines: Vec<&str> = text.lines().take(30).collect();
                value.push_str(&format!("```hplan\n{}\n```", lines.join("\n")));
            }
            None => {}
        }
        Some(markdown(value, Some(range(self.text, span))))
    }
}

fn markdown(value: String, range: Option<lt::Range>) -> lt::Hover {
    lt::Hover { contents: lt::HoverContents::Markup(lt::MarkupContent { kind: lt::MarkupKind::Markdown, value }), range }
}
