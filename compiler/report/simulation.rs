//! The simulation's outputs (docs/simulation.md): the terminal summary with the
//! percentiles beside the analytical means, the JSON document, the per-request CSV and
//! the counters as Chrome-trace counter events.

use crate::simulate::{Dist, Outcome, Summary};
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
