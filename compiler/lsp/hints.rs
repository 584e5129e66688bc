//! Inlay hints: a model's figures after its declaration and a plan's `model = ...`;
//! once solved, the pool and time after each `place`.

use super::*;

impl Ctx<'_> {
    /// Inlay hints: a model's figures after its declaration and after each plan's
    /// `model = ...`; once solved, the pool and time after each `place`.
    pub(super) fn inlay_hints(&self) -> Vec<lt::InlayHint> {
        let comp = self.comp;
        let mut out: Vec<(usize, String)> = Vec::new();
        for it in parse(self.text).items.iter().filter(|i| i.kind == ItemKind::Model) {
            if let Some(m) = comp.program.models.iter().find(|m| m.name == it.name.name && m.span.file == comp.root) {
                out.push((it.name.span.end as usize, model_figures(m)));
            }
        }
        for p in comp.program.plans.iter().filter(|p| p.model_span.file == comp.root) {
            out.push((p.model_span.end as usize, model_figures(&p.model)));
        }
        if let Some(s) = self.solution {
            for f in &s.plans {
                out.extend(f.places.iter().cloned());
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out.into_iter()
            .map(|(at, label)| lt::InlayHint {
                position: position(self.text, at),
                label: lt::InlayHintLabel::String(format!("  {label}")),
                kind: None,
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: None,
                data: None,
            })
            .collect()
    }
}
