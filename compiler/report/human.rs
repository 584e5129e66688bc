//! The terminal summary of a plan report. Deterministic: no timings.

use super::PlanReport;
use crate::units::format::{fmt_bytes, fmt_num, fmt_si, fmt_time};
use std::fmt::Write;

fn table(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().map(|r| r.get(c).map(|s| s.chars().count()).unwrap_or(0)).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            if c + 1 < r.len() {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn render(r: &PlanReport) -> String {
    let mut o = String::new();
    let value = match (r.objective.kind, r.objective.value) {
        ("cost_per_mtok", Some(v)) => format!(" = ${v:.3}/Mtok"),
        ("tpot" | "ttft", Some(v)) => format!(" = {}", fmt_time(v)),
        ("chips", Some(v)) => format!(" = {v}"),
        ("power", Some(v)) => format!(" = {}", fmt_si(v, "W")),
        ("throughput_per_chip", Some(v)) => format!(" = {} tok/s per chip", fmt_num(v)),
        ("throughput_per_dollar", Some(v)) => format!(" = {} tok per $", fmt_num(v)),
        ("tokens_per_mw", Some(v)) => format!(" = {} tok/s per MW", fmt_num(v)),
        _ => String::new(),
    };
    let _ = writeln!(o, "plan {}: {} ({} {}{value})", r.name, r.status, r.objective.direction, r.objective.kind);
    let m = &r.model;
    let _ = writeln!(
        o,
        "  model     {}: {:.2} B params, {} of {} weights, KV cache {}/token ({})",
        m.name,
        m.params as f64 / 1e9,
        fmt_bytes(m.weight_bytes),
        m.weights,
        fmt_bytes(m.kv_bytes_per_token),
        m.kv
    );
    let w = &r.workload;
    let range = if w.concurrency_range[0] == w.concurrency_range[1] {
        String::new()
    } else {
        format!(" (chosen from {} ..= {})", w.concurrency_range[0], w.concurrency_range[1])
    };
    let conc = w.concurrency.map(|c| format!(", concurrency {c}{range}")).unwrap_or_default();
    let _ = writeln!(
        o,
        "  workload  {}: {} input + {} output tokens{conc}",
        w.name,
        fmt_num(w.input_tokens as f64),
        fmt_num(w.output_tokens as f64)
    );
    if let Some(sp) = &r.speculation {
        let _ = writeln!(
            o,
            "  speculate {} drafts {} tokens at acceptance {}: {:.2} tokens per verify step",
            sp.draft_model, sp.lookahead, sp.acceptance, sp.expected_tokens_per_step
        );
    }
    let Some(mt) = &r.metrics else {
        let _ = writeln!(o, "  no feasible placement; see the diagnostics");
        return o;
    };
    o.push('\n');
    let mut rows = vec![vec![
        "stage".to_string(),
        "pool".into(),
        "chip".into(),
        "chips".into(),
        "tp".into(),
        "ep".into(),
        "dp".into(),
        "microbatches".into(),
        "replicas".into(),
    ]];
    for p in &r.placement {
        let chips = match p.shares_chips_with {
            Some(s) => format!("(on {s})"),
            None => p.chips.to_string(),
        };
        rows.push(vec![
            match p.layers {
                Some([a, b]) => format!("{} {a}..{b}", p.stage),
                None => p.stage.to_string(),
            },
            p.pool.clone(),
            p.chip.clone(),
            chips,
            p.tp.to_string(),
            p.ep.to_string(),
            p.dp.to_string(),
            p.microbatches.to_string(),
            p.replicas.to_string(),
        ]);
    }
    o.push_str(&table(&rows, &[false, false, false, true, true, true, true, true, true]));
    o.push('\n');
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "n/a (no price or power)".into());
    let metrics = vec![
        vec!["TTFT".to_string(), fmt_time(mt.ttft_s), "TPOT".into(), fmt_time(mt.tpot_s)],
        vec![
            "tokens/s/user".into(),
            fmt_num(mt.tokens_per_s_per_user),
            "throughput".into(),
            format!("{} tok/s", fmt_num(mt.throughput_tokens_per_s)),
        ],
        vec!["chips".into(), mt.chips.to_string(), "per chip".into(), format!("{} tok/s", fmt_num(mt.throughput_per_chip))],
        vec![
            "cost".into(),
            opt(mt.cost_per_hour_usd, &|v| format!("${}/h", fmt_num(v))),
            "$/Mtok".into(),
            opt(mt.cost_per_mtok_usd, &|v| format!("${v:.3}")),
        ],
        vec!["power".into(), opt(mt.power_w, &|v| fmt_si(v, "W")), "tok/s/MW".into(), opt(mt.tokens_per_s_per_mw, &fmt_num)],
    ];
    o.push_str(&table(&metrics, &[false, true, false, true]));
    if let Some(b) = &r.breakdown {
        let s = &b.decode_step_s;
        let mut parts = vec![format!("attention {}", fmt_time(s.attn)), format!("FFN {}", fmt_time(s.ffn))];
        if s.allreduce > 0.0 {
            parts.push(format!("all-reduce {}", fmt_time(s.allreduce)));
        }
        if s.crossing > 0.0 {
            parts.push(format!("crossings {}", fmt_time(s.crossing)));
        }
        parts.push(format!("embed+LM head {}", fmt_time(s.other)));
        if s.draft > 0.0 {
            parts.push(format!("drafting {}", fmt_time(s.draft)));
        }
        if s.overhead > 0.0 {
            parts.push(format!("overhead {}", fmt_time(s.overhead)));
        }
        if s.overlap > 0.0 {
            parts.push(format!("minus {} hidden by microbatch overlap", fmt_time(s.overlap)));
        }
        let what = if r.speculation.is_some() { "per token (a draft-and-verify round / expected tokens)" } else { "decode step" };
        let _ = writeln!(o, "\n  {what} {}: {}", fmt_time(mt.tpot_s), parts.join(", "));
        let _ = writeln!(o, "  prefill {} + KV transfer {}", fmt_time(b.prefill_s), fmt_time(b.kv_transfer_s));
    }
    if let Some(bn) = &r.bottleneck {
        let _ = writeln!(o, "  bottleneck: {bn}");
    }
    match &r.runner_up {
        Some(ru) => {
            let v = ru.objective_value.map(|v| format!("{} {}", r.objective.kind, fmt_num(v))).unwrap_or_default();
            let _ = writeln!(o, "  runner-up: {} at concurrency {}: {v}, {:.1}% worse", ru.placement, ru.concurrency, 100.0 * ru.margin);
        }
        None => {
            let _ = writeln!(o, "  runner-up: none (no other assignment of stages to pools is allowed and feasible)");
        }
    }
    o.push_str("\n  memory per chip\n");
    let mut rows = vec![vec!["stage".to_string(), "pool".into(), "tier".into(), "used".into(), "capacity".into(), "".into()]];
    for mrow in &r.memory {
        let pct = if mrow.capacity_bytes > 0.0 { format!("{:.0}%", 100.0 * mrow.used_bytes / mrow.capacity_bytes) } else { String::new() };
        rows.push(vec![
            mrow.stage.to_string(),
            mrow.pool.clone(),
            mrow.tier.clone(),
            fmt_bytes(mrow.used_bytes),
            fmt_bytes(mrow.capacity_bytes),
            pct,
        ]);
    }
    o.push_str(&table(&rows, &[false, false, false, true, true, true]));
    if !r.frontier.is_empty() {
        o.push_str("\n  frontier (best placement per concurrency, Pareto-optimal)\n");
        let mut rows = vec![vec!["concurrency".to_string(), "tok/s/user".into(), "tok/s/chip".into(), "$/Mtok".into()]];
        for f in &r.frontier {
            rows.push(vec![
                f.concurrency.to_string(),
                fmt_num(f.tokens_per_s_per_user),
                fmt_num(f.throughput_per_chip),
                f.cost_per_mtok_usd.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into()),
            ]);
        }
        o.push_str(&table(&rows, &[true, true, true, true]));
    }
    if let Some(s) = &r.solver {
        let _ = writeln!(
            o,
            "\n  solver: {}, {} variables, {} constraints, {} solves over {} batches, {}",
            s.backend,
            s.variables,
            s.constraints,
            s.solves,
            s.batches,
            if s.proven_optimal {
                "proven optimal".to_string()
            } else {
                match s.gap {
                    Some(g) => format!("time limit hit: best found, within {:.2}% of the proven bound", 100.0 * g),
                    None => "time limit hit: best found, no bound proven".to_string(),
                }
            }
        );
    }
    o
}
