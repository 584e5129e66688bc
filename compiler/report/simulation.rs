//! The simulation's outputs (docs/simulation.md): the terminal summary with the
//! percentiles beside the analytical means, the JSON document, the per-request CSV and
//! the counters as Chrome-trace counter events.

use crate::simulate::{Arrivals, Dist, Outcome, Summary};
use crate::units::format::{fmt_num, fmt_time};
use serde::Serialize;

/// The JSON document of one simulation (`hplanc simulate --format json`).
#[derive(Serialize)]
pub struct Document<'a> {
    pub hplanc: &'static str,
    pub plan: &'a str,
    /// how requests arrived, e.g. "poisson 2.5 req/s"
    pub arrivals: &'a str,
    pub seed: u64,
    #[serde(flatten)]
    pub summary: &'a Summary,
}

/// How a run's arrivals are said in its summary (`batch`: the solved batch a closed
/// loop may run at).
pub fn arrivals(a: &Arrivals, batch: u64) -> String {
    match a {
        Arrivals::Poisson { rate } => format!("Poisson arrivals at {rate} req/s"),
        Arrivals::Gamma { rate, shape } => format!("gamma arrivals (burstiness {shape}) at {rate} req/s"),
        Arrivals::Closed { clients } if *clients == batch => format!("a closed loop of {clients} clients (the solved batch)"),
        Arrivals::Closed { clients } => format!("a closed loop of {clients} clients"),
        Arrivals::Trace { scale, .. } if *scale == 1.0 => "the trace".to_string(),
        Arrivals::Trace { scale, .. } => format!("the trace, its times x{scale:.4}"),
    }
}

fn row(name: &str, d: &Dist, analytical: Option<f64>) -> String {
    format!(
        "  {name:<5} {:>10} {:>10} {:>10} {:>10} {:>10}   {}\n",
        fmt_time(d.mean),
        fmt_time(d.p50),
        fmt_time(d.p90),
        fmt_time(d.p99),
        fmt_time(d.max),
        analytical.map_or("-".to_string(), fmt_time)
    )
}

/// The terminal summary.
pub fn human(plan: &str, arrivals: &str, seed: u64, o: &Outcome) -> String {
    let s = &o.summary;
    let a = &s.analytical;
    let mut out =
        format!("plan `{plan}`: {} requests, {arrivals}, seed {seed}, {} simulated\n", fmt_num(s.requests as f64), fmt_time(s.duration_s));
    out.push_str(&format!("  {:<5} {:>10} {:>10} {:>10} {:>10} {:>10}   {}\n", "", "mean", "p50", "p90", "p99", "max", "model's mean"));
    out.push_str(&row("TTFT", &s.ttft_s, Some(a.ttft_s)));
    out.push_str(&row("TPOT", &s.tpot_s, Some(a.tpot_s)));
    out.push_str(&row("E2E", &s.e2e_s, None));
    out.push_str(&format!(
        "  throughput {} tok/s, {} req/s (the model: {} tok/s at batch {})\n",
        fmt_num(s.tokens_per_s),
        fmt_num(s.requests_per_s),
        fmt_num(a.tokens_per_s),
        a.batch
    ));
    let mut slos = Vec::new();
    if let Some(l) = s.ttft_limit_s {
        slos.push(format!("TTFT <= {}", fmt_time(l)));
    }
    if let Some(l) = s.tpot_limit_s {
        slos.push(format!("TPOT <= {}", fmt_time(l)));
    }
    if slos.is_empty() {
        out.push_str("  goodput: the plan sets no TTFT or TPOT limit; every request counts\n");
    } else {
        out.push_str(&format!(
            "  goodput {} req/s: {:.1}% of requests meet {}\n",
            fmt_num(s.goodput_requests_per_s),
            100.0 * s.good_share,
            slos.join(" and ")
        ));
    }
    if let Some(c) = &s.prefix_cache {
        out.push_str(&format!(
            "  prefix cache: {:.1}% of requests found their prefix cached (the model takes {:.0}%); {} tokens not prefilled, {} evictions\n",
            100.0 * c.hit_rate,
            100.0 * c.model_hit_rate,
            fmt_num(c.cached_tokens as f64),
            c.evictions
        ));
    }
    out.push_str(&format!(
        "  mean wait for prefill {}; requests in the system {:.2} on average (arrival rate x mean time in system: {:.2})\n",
        fmt_time(s.prefill_wait_s),
        s.little_l,
        s.little_lambda_w
    ));
    out
}

/// One line per request.
pub fn csv(o: &Outcome) -> String {
    let mut out = String::from("request,arrival_s,input_tokens,output_tokens,prefill_start_s,first_token_s,finish_s,ttft_s,tpot_s,e2e_s\n");
    for (i, r) in o.requests.iter().enumerate() {
        out.push_str(&format!(
            "{i},{},{},{},{},{},{},{},{},{}\n",
            r.arrival,
            r.input,
            r.output,
            r.prefill_start,
            r.first_token,
            r.finish,
            r.ttft(),
            r.tpot(),
            r.e2e()
        ));
    }
    out
}

/// The counters over time as a Chrome trace (chrome://tracing, Perfetto): requests
/// waiting, the running batch and KV-cache tokens reserved.
pub fn trace(plan: &str, o: &Outcome) -> String {
    let mut events = Vec::new();
    events.push(serde_json::json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": format!("simulation of `{plan}`")}}));
    for s in &o.samples {
        let ts = s.time * 1e6;
        events.push(
            serde_json::json!({"name": "requests", "ph": "C", "pid": 1, "ts": ts, "args": {"waiting": s.waiting, "running": s.running}}),
        );
        events.push(serde_json::json!({"name": "KV cache (tokens)", "ph": "C", "pid": 1, "ts": ts, "args": {"reserved": s.kv_tokens}}));
    }
    serde_json::to_string(&serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"})).unwrap_or_default()
}

/// One SLO of a served plan: its limit and what the simulation at the served rate gave.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SloCheck {
    /// `ttft.p99`, `tpot`
    pub slo: String,
    pub limit: f64,
    pub simulated: f64,
}

/// A configuration the rate search tried.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CandidateReport {
    pub batch: u64,
    /// the highest rate meeting every SLO (null: none, or not simulated)
    pub rate_requests_per_s: Option<f64>,
    /// not simulated: even at its capacity it could not beat the chosen one
    pub pruned: bool,
}

/// `served` in report.json: the highest arrival rate (the workload's arrival process) at which the chosen
/// configuration's simulated requests meet every SLO, and the simulation there.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ServedReport {
    pub rate_requests_per_s: f64,
    /// how the searched requests arrived: "Poisson arrivals", "gamma arrivals,
    /// burstiness 0.25" or "the trace `FILE`, its times scaled"
    pub arrivals: String,
    /// output tokens per second at that rate (rate × the workload's mean output)
    pub tokens_per_s: f64,
    pub tokens_per_s_per_chip: f64,
    pub chips: u64,
    /// the configuration's batch limit
    pub batch: u64,
    pub cost_per_mtok_usd: Option<f64>,
    /// the simulation at that rate
    pub ttft_s: Dist,
    pub tpot_s: Dist,
    pub e2e_s: Dist,
    pub goodput_requests_per_s: f64,
    pub good_share: f64,
    /// prefix reuse: how the prefix cache did at that rate (absent without it)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<crate::simulate::PrefixStats>,
    pub slos: Vec<SloCheck>,
    pub candidates: Vec<CandidateReport>,
    pub simulations: usize,
    pub requests_per_simulation: u64,
    pub seed: u64,
    /// the counters of the simulation at that rate, for trace.json
    #[serde(skip)]
    pub samples: Vec<crate::simulate::Sample>,
}

/// Adds the rate search's answer to a plan's report; `maximize goodput` takes its value
/// from it.
pub fn attach(r: &mut super::PlanReport, plan: &crate::ir::Plan, s: &crate::simulate::search::Served) {
    let chips = s.point.instance.chips(s.point.choice);
    let totals = s.point.instance.totals(s.point.choice);
    let tokens = s.rate * plan.workload.output_tokens as f64;
    let o = &s.outcome;
    let arrivals = match &plan.workload.traffic.arrivals {
        crate::ir::ArrivalProcess::Trace { path, .. } => format!("the trace `{path}`, its times scaled"),
        a if a.burstiness() != 1.0 => format!("gamma arrivals, burstiness {}", a.burstiness()),
        _ => "Poisson arrivals".to_string(),
    };
    let served = ServedReport {
        rate_requests_per_s: s.rate,
        arrivals,
        tokens_per_s: tokens,
        tokens_per_s_per_chip: tokens / chips.max(1) as f64,
        chips,
        batch: s.point.instance.batch,
        cost_per_mtok_usd: totals
            .filter(|t| t.usd_per_s > 0.0 && plan.cluster.pools.iter().all(|p| p.chip.price.is_some()))
            .map(|t| t.usd_per_s / tokens * 1e6),
        ttft_s: o.summary.ttft_s,
        tpot_s: o.summary.tpot_s,
        e2e_s: o.summary.e2e_s,
        goodput_requests_per_s: o.summary.goodput_requests_per_s,
        good_share: o.summary.good_share,
        prefix_cache: o.summary.prefix_cache,
        slos: plan
            .slos
            .iter()
            .map(|slo| SloCheck { slo: slo.name(), limit: slo.limit, simulated: crate::simulate::search::slo_value(slo, &o.requests) })
            .collect(),
        candidates: s
            .candidates
            .iter()
            .map(|c| CandidateReport { batch: c.batch, rate_requests_per_s: c.rate, pruned: c.pruned })
            .collect(),
        simulations: s.simulations,
        requests_per_simulation: s.requests,
        seed: s.seed,
        samples: o.samples.clone(),
    };
    if plan.objective == crate::ir::Objective::Goodput {
        r.objective.value = Some(s.rate);
    }
    r.served = Some(served);
}

/// The counters over time as an SVG chart: requests waiting and running (top panel) and
/// KV-cache tokens reserved (bottom), one polyline each, time on the x axis.
pub fn plot(plan: &str, o: &Outcome) -> String {
    use super::svg::{esc, nice_step, tick_label};
    let (w, h, left, right, top, gap) = (760.0, 420.0, 64.0, 16.0, 36.0, 40.0);
    let panel_h = (h - top - gap - 40.0) / 2.0;
    let t_end = o.samples.last().map_or(1.0, |s| s.time).max(f64::MIN_POSITIVE);
    let x = |t: f64| left + (w - left - right) * t / t_end;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"13\">simulation of `{}`: requests and KV cache over time</text>\n",
        esc(plan)
    );
    let requests_max = o.samples.iter().map(|s| s.waiting.max(s.running)).max().unwrap_or(0).max(1) as f64;
    let kv_max = o.samples.iter().map(|s| s.kv_tokens).max().unwrap_or(0).max(1) as f64;
    // per panel: its title, top edge, largest value and series (name, colour, value)
    type Series = (&'static str, &'static str, fn(&crate::simulate::Sample) -> f64);
    let requests: Vec<Series> = vec![("waiting", "#d62728", |s| s.waiting as f64), ("running", "#1f77b4", |s| s.running as f64)];
    let kv: Vec<Series> = vec![("reserved", "#2ca02c", |s| s.kv_tokens as f64)];
    let panels = [("requests", top, requests_max, requests), ("KV-cache tokens reserved", top + panel_h + gap, kv_max, kv)];
    for (title, y0, max, series) in panels.iter() {
        let step = nice_step(max / 4.0);
        let top_value = (max / step).ceil() * step;
        let y = |v: f64| y0 + panel_h - panel_h * v / top_value;
        out.push_str(&format!(
            "<g class=\"panel\"><text x=\"{left}\" y=\"{}\">{title}</text>\n<rect x=\"{left}\" y=\"{y0}\" width=\"{}\" height=\"{panel_h}\" fill=\"none\" stroke=\"#999\"/>\n",
            y0 - 4.0,
            w - left - right
        ));
        let mut v = 0.0;
        while v <= top_value * (1.0 + 1e-9) {
            out.push_str(&format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n", left - 4.0, y(v) + 4.0, tick_label(v)));
            v += step;
        }
        for (k, (name, colour, value)) in series.iter().enumerate() {
            let points: Vec<String> = o.samples.iter().map(|s| format!("{:.1},{:.1}", x(s.time), y(value(s)))).collect();
            out.push_str(&format!(
                "<polyline class=\"series\" data-name=\"{name}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" points=\"{}\"/>\n",
                points.join(" ")
            ));
            out.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{colour}\" text-anchor=\"end\">{name}</text>\n",
                w - right - 4.0,
                y0 + 14.0 + 13.0 * k as f64
            ));
        }
        out.push_str("</g>\n");
    }
    // the time axis, under the bottom panel
    let axis_y = top + 2.0 * panel_h + gap + 14.0;
    let step = nice_step(t_end / 6.0);
    let mut t = 0.0;
    while t <= t_end * (1.0 + 1e-9) {
        out.push_str(&format!("<text x=\"{:.1}\" y=\"{axis_y}\" text-anchor=\"middle\">{}</text>\n", x(t), tick_label(t)));
        t += step;
    }
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time (s)</text>\n</svg>\n",
        left + (w - left - right) / 2.0,
        axis_y + 16.0
    ));
    out
}
