//! `hplanc graph FILE [--plan P] [--step decode|prefill] [--batch N] [--out F]`

use super::GraphStep;
use crate::diagnostics::render;
use crate::ir::graph::{build, Step};
use crate::{compile_file, Mode};
use std::path::Path;

pub fn run(file: &Path, plan: Option<&str>, step: GraphStep, batch: Option<u64>, out: Option<&Path>, color: bool) -> u8 {
    let comp = match compile_file(file, Mode::Check) {
        Ok(c) => c,
        Err(e) => {
            super::errln!("error: cannot read `{}`: {e}", file.display());
            return 2;
        }
    };
    let rendered = render::render_all(&comp.diagnostics, &comp.sources, color);
    if !rendered.is_empty() {
        super::errln!("{}", rendered.trim_end_matches('\n'));
    }
    if comp.has_errors() {
        return 1;
    }
    let plans = &comp.program.plans;
    let chosen = match plan {
        Some(name) => plans.iter().find(|p| p.name == name),
        None if plans.len() == 1 => plans.first(),
        None => None,
    };
    let Some(p) = chosen else {
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        match (plan, names.is_empty()) {
            (_, true) => super::errln!("error: `{}` declares no plan", file.display()),
            (Some(n), false) => super::errln!("error: no plan `{n}`; the file declares {}", names.join(", ")),
            (None, false) => super::errln!("error: the file declares several plans ({}); choose one with --plan", names.join(", ")),
        }
        return 2;
    };
    let (g, title) = match step {
        GraphStep::Decode => {
            let b = batch.unwrap_or(p.workload.concurrency.0).max(1);
            let (ctx, _) = crate::solve::space::decode_contexts(p);
            (build(&p.model, Step::Decode { batch: b, context: ctx }), format!("{}: decode step, batch {b}, context {ctx}", p.name))
        }
        GraphStep::Prefill => {
            let s = p.workload.input_tokens;
            (build(&p.model, Step::Prefill { tokens: s }), format!("{}: prefill of {s} tokens", p.name))
        }
    };
    let dot = crate::report::dot::render(&g, &title, p.model.moe.map(|m| (m.experts, m.top_k)));
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, dot) {
                super::errln!("error: cannot write `{}`: {e}", path.display());
                return 2;
            }
        }
        None => super::outln!("{}", dot.trim_end_matches('\n')),
    }
    0
}
