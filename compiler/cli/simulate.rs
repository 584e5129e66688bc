//! `hplanc simulate FILE [--plan P] [--rate R | --concurrency N | --trace F] ...`:
//! solves the plan and serves its placement request by request (docs/simulation.md).

use crate::diagnostics::{render, Diagnostics};
use crate::report::simulation;
use crate::simulate::{self, Arrivals, Config, Lengths};
use crate::source::Origin;
use crate::{compile_file, Mode};
use std::path::Path;

pub struct Options<'a> {
    pub plan: Option<&'a str>,
    pub rate: Option<f64>,
    pub concurrency: Option<u64>,
    pub trace: Option<&'a Path>,
    pub requests: u64,
    pub input: Option<Lengths>,
    pub output: Option<Lengths>,
    /// default: the workload's `seed`
    pub seed: Option<u64>,
    pub max_batch: Option<u64>,
    pub json: bool,
    /// write one line per request here
    pub csv: Option<&'a Path>,
    /// write the counters as a Chrome trace here
    pub counters: Option<&'a Path>,
    /// write the counters as an SVG chart here
    pub plot: Option<&'a Path>,
    pub color: bool,
}

/// Parses a length distribution: `N`, `uniform:LO:HI` or `lognormal:MEAN:SIGMA`.
pub fn parse_lengths(s: &str) -> Result<Lengths, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let int = |t: &str| t.trim().parse::<u64>().map_err(|_| format!("`{t}` is not a whole number of tokens"));
    let num = |t: &str| t.trim().parse::<f64>().map_err(|_| format!("`{t}` is not a number"));
    let l = match parts.as_slice() {
        [n] => Lengths::Fixed(int(n)?),
        ["uniform", lo, hi] => Lengths::Uniform(int(lo)?, int(hi)?),
        ["lognormal", mean, sigma] => Lengths::LogNormal { mean: num(mean)?, sigma: num(sigma)? },
        _ => return Err("write N (fixed), uniform:LOW:HIGH or lognormal:MEAN:SIGMA (tokens)".to_string()),
    };
    l.check().map_err(|e| e.to_string())?;
    Ok(l)
}

pub fn run(file: &Path, o: Options<'_>) -> u8 {
    let mut comp = match compile_file(file, Mode::Build) {
        Ok(c) => c,
        Err(e) => {
            super::errln!("error: cannot read `{}`: {e}", file.display());
            return 2;
        }
    };
    let rendered = render::render_all(&comp.diagnostics, &comp.sources, o.color);
    if !rendered.is_empty() {
        super::errln!("{}", rendered.trim_end_matches('\n'));
    }
    if comp.has_errors() {
        return 1;
    }
    let index = match super::choose_plan(&comp, o.plan, file) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let plan = &comp.program.plans[index];
    let Some(point) = comp.solved.get(index).and_then(|s| s.as_ref()).map(|s| s.best.clone()) else {
        super::errln!("error: plan `{}` has no feasible placement to simulate", plan.name);
        return 1;
    };
    let mut config = Config::of_plan(plan, &point);
    config.requests = o.requests;
    if let Some(seed) = o.seed {
        config.seed = seed;
    }
    config.max_batch = o.max_batch;
    if let Some(l) = o.input {
        config.input = l;
    }
    if let Some(l) = o.output {
        config.output = l;
    }
    let described = if let Some(path) = o.trace {
        let text = match crate::source::read_source(path) {
            Ok(t) => t,
            Err(e) => {
                super::errln!("error: cannot read the trace `{}`: {e}", path.display());
                return 2;
            }
        };
        let id = comp.sources.add(Origin::Disk(path.to_path_buf()), path.to_string_lossy(), text.clone());
        let mut diags = Diagnostics::new();
        let rows = simulate::trace::parse(id, &text, &mut diags);
        let rendered = render::render_all(&diags, &comp.sources, o.color);
        if !rendered.is_empty() {
            super::errln!("{}", rendered.trim_end_matches('\n'));
        }
        let Some(rows) = rows else { return 1 };
        config.arrivals = Arrivals::trace(rows);
        format!("the trace `{}`", path.display())
    } else {
        if let Some(rate) = o.rate {
            // the workload's burstiness shapes the gaps at the rate asked for
            config.arrivals = Arrivals::renewal(rate, plan.workload.traffic.arrivals.burstiness());
        } else if let Some(n) = o.concurrency {
            config.arrivals = Arrivals::Closed { clients: n };
        }
        match (&config.arrivals, &plan.workload.traffic.arrivals) {
            (Arrivals::Trace { .. }, crate::ir::ArrivalProcess::Trace { path, .. }) => format!("the workload's trace `{path}`"),
            (a, _) => simulation::arrivals(a, point.instance.batch),
        }
    };
    let plan = &comp.program.plans[index];
    let outcome = match simulate::simulate(plan, &point, &config) {
        Ok(x) => x,
        Err(e) => {
            super::errln!("error: cannot simulate plan `{}`: {e}", plan.name);
            return 1;
        }
    };
    for (path, text) in [
        (o.csv, simulation::csv(&outcome)),
        (o.counters, simulation::trace(&plan.name, &outcome)),
        (o.plot, simulation::plot(&plan.name, &outcome)),
    ] {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, text) {
                super::errln!("error: cannot write `{}`: {e}", path.display());
                return 2;
            }
        }
    }
    if o.json {
        let doc = simulation::Document {
            hplanc: env!("CARGO_PKG_VERSION"),
            plan: &plan.name,
            arrivals: &described,
            seed: config.seed,
            summary: &outcome.summary,
        };
        super::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        super::outln!("{}", simulation::human(&plan.name, &described, config.seed, &outcome).trim_end());
    }
    0
}
