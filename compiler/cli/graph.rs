//! `hplanc graph FILE [--plan P] [--step decode|prefill] [--batch N] [--placed] [--out F]`

use super::GraphStep;
use crate::diagnostics::render;
use crate::ir::graph::{build, Step};
use crate::{compile_file, Mode};
use std::path::Path;

pub struct Options<'a> {
    pub plan: Option<&'a str>,
    pub step: GraphStep,
    pub batch: Option<u64>,
    /// solve, and colour nodes by the pool they run on
    pub placed: bool,
    pub out: Option<&'a Path>,
    pub color: bool,
}

pub fn run(file: &Path, opts: Options<'_>) -> u8 {
    let Options { plan, step, batch, placed, out, color } = opts;
    let comp = match compile_file(file, if placed { Mode::Build } else { Mode::Check }) {
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
    let index = match super::choose_plan(&comp, plan, file) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let p = &comp.program.plans[index];
    let point = match (placed, comp.solved.get(index)) {
        (false, _) => None,
        (true, Some(Some(s))) => Some(&s.best),
        (true, _) => {
            super::errln!("error: plan `{}` has no feasible placement to draw", p.name);
            return 1;
        }
    };
    let (g, title) = match step {
        GraphStep::Decode => {
            let chosen_batch = point.map(|pt| pt.instance.batch);
            let b = batch.or(chosen_batch).unwrap_or(p.workload.concurrency.0).max(1);
            let (ctx, _) = crate::solve::space::decode_contexts(p);
            (build(&p.model, Step::Decode { batch: b, context: ctx }), format!("{}: decode step, batch {b}, context {ctx}", p.name))
        }
        GraphStep::Prefill => {
            let s = p.workload.input_tokens;
            (build(&p.model, Step::Prefill { tokens: s, prefix: 0 }), format!("{}: prefill of {s} tokens", p.name))
        }
    };
    let moe = p.model.moe.map(|m| (m.experts, m.top_k));
    let dot = match point {
        Some(pt) => crate::report::dot::render_placed(&g, &title, moe, p, pt),
        None => crate::report::dot::render(&g, &title, moe),
    };
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
