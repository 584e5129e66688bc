//! Error statistics of predictions against measurements, per (model, system,
//! framework, mode) group and overall, and their text, Markdown, JSON and CSV forms.

use super::{Evaluated, Mode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// TPOT within ±20% and TTFT within ±25% count as close (issue #14's bar).
pub const TPOT_BAND: f64 = 0.20;
pub const TTFT_BAND: f64 = 0.25;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Metric {
    /// median predicted / measured
    pub median_ratio: f64,
    /// median |predicted / measured − 1|
    pub median_abs_error: f64,
    /// share of rows within the band
    pub within: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Worst {
    pub line: usize,
    pub id: String,
    pub metric: &'static str,
    pub ratio: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Group {
    pub model: String,
    pub system: String,
    pub framework: String,
    pub mode: &'static str,
    pub rows: usize,
    pub evaluated: usize,
    pub tpot: Option<Metric>,
    pub ttft: Option<Metric>,
    /// the rows furthest off (by |ln ratio|), at most three
    pub worst: Vec<Worst>,
    /// why rows were not evaluated, with their counts
    pub not_evaluated: BTreeMap<String, usize>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub overall: Group,
    pub groups: Vec<Group>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn metric(ratios: &[f64], band: f64) -> Option<Metric> {
    if ratios.is_empty() {
        return None;
    }
    let errs: Vec<f64> = ratios.iter().map(|r| (r - 1.0).abs()).collect();
    Some(Metric {
        median_ratio: median(ratios.to_vec()),
        median_abs_error: median(errs.clone()),
        within: errs.iter().filter(|e| **e <= band).count() as f64 / ratios.len() as f64,
    })
}

fn group(model: &str, system: &str, framework: &str, mode: &'static str, rows: &[&Evaluated]) -> Group {
    let mut tpot = Vec::new();
    let mut ttft = Vec::new();
    let mut worst = Vec::new();
    let mut not_evaluated = BTreeMap::new();
    for e in rows {
        match &e.result {
            Ok(p) => {
                let rt = p.tpot * 1e3 / e.row.tpot_ms;
                let rf = p.ttft * 1e3 / e.row.ttft_ms;
                tpot.push(rt);
                ttft.push(rf);
                worst.push(Worst { line: e.row.line, id: e.row.id.clone(), metric: "tpot", ratio: rt });
                worst.push(Worst { line: e.row.line, id: e.row.id.clone(), metric: "ttft", ratio: rf });
            }
            Err(reason) => *not_evaluated.entry(reason.clone()).or_insert(0) += 1,
        }
    }
    worst.sort_by(|a, b| b.ratio.ln().abs().total_cmp(&a.ratio.ln().abs()).then(a.line.cmp(&b.line)));
    worst.truncate(3);
    Group {
        model: model.into(),
        system: system.into(),
        framework: framework.into(),
        mode,
        rows: rows.len(),
        evaluated: tpot.len(),
        tpot: metric(&tpot, TPOT_BAND),
        ttft: metric(&ttft, TTFT_BAND),
        worst,
        not_evaluated,
    }
}

/// Groups in (model, system, framework, mode) order, and all rows together.
pub fn summarise(all: &[Evaluated], skipped: &[super::Skipped]) -> Summary {
    let mut by: BTreeMap<(String, String, String, Mode), Vec<&Evaluated>> = BTreeMap::new();
    for e in all {
        by.entry((e.row.model.clone(), e.row.system.clone(), e.row.framework.clone(), e.row.mode)).or_default().push(e);
    }
    let groups = by.iter().map(|((m, s, f, md), rows)| group(m, s, f, md.name(), rows)).collect();
    let refs: Vec<&Evaluated> = all.iter().collect();
    let mut overall = group("all", "all", "all", "all", &refs);
    overall.rows += skipped.len();
    for s in skipped {
        *overall.not_evaluated.entry(s.reason.clone()).or_insert(0) += 1;
    }
    Summary { overall, groups }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn cells(m: &Option<Metric>) -> [String; 3] {
    match m {
        Some(m) => [format!("{:.2}", m.median_ratio), pct(m.median_abs_error), pct(m.within)],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

/// The summary as a Markdown table (docs/validation.md's body) or, with `markdown`
/// false, the same columns aligned as plain text.
pub fn table(s: &Summary, markdown: bool) -> String {
    let head = [
        "model",
        "system",
        "framework",
        "mode",
        "rows",
        "evaluated",
        "TPOT pred/meas",
        "TPOT abs err",
        "TPOT ±20%",
        "TTFT pred/meas",
        "TTFT abs err",
        "TTFT ±25%",
    ];
    let mut body: Vec<Vec<String>> = Vec::new();
    for g in std::iter::once(&s.overall).chain(&s.groups) {
        let mut r =
            vec![g.model.clone(), g.system.clone(), g.framework.clone(), g.mode.to_string(), g.rows.to_string(), g.evaluated.to_string()];
        r.extend(cells(&g.tpot));
        r.extend(cells(&g.ttft));
        body.push(r);
    }
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|{}", head.iter().enumerate().map(|(i, _)| if i < 4 { "---|" } else { "---:|" }).collect::<String>());
        for r in &body {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    } else {
        let widths: Vec<usize> =
            (0..head.len()).map(|i| body.iter().map(|r| r[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0)).collect();
        let line = |r: &[&str]| -> String {
            r.iter()
                .enumerate()
                .map(|(i, c)| if i < 4 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let _ = writeln!(out, "{}", line(&head));
        for r in &body {
            let refs: Vec<&str> = r.iter().map(String::as_str).collect();
            let _ = writeln!(out, "{}", line(&refs));
        }
    }
    out
}

/// The worst rows and the reasons rows were not evaluated, as a list.
pub fn details(s: &Summary, markdown: bool) -> String {
    let bullet = if markdown { "- " } else { "  " };
    let mut out = String::new();
    let _ = writeln!(out, "{}", if markdown { "\n### Worst rows per group\n" } else { "\nworst rows per group:" });
    for g in &s.groups {
        let w: Vec<String> = g.worst.iter().map(|w| format!("line {} {} x{:.2}", w.line, w.metric, w.ratio)).collect();
        let _ = writeln!(
            out,
            "{bullet}{} / {} / {} / {}: {}",
            g.model,
            g.system,
            g.framework,
            g.mode,
            if w.is_empty() { "-".into() } else { w.join(", ") }
        );
    }
    if !s.overall.not_evaluated.is_empty() {
        let _ = writeln!(out, "{}", if markdown { "\n### Rows not evaluated\n" } else { "\nrows not evaluated:" });
        for (reason, n) in &s.overall.not_evaluated {
            let _ = writeln!(out, "{bullet}{n} x {reason}");
        }
    }
    out
}

/// A CSV cell: quoted, with doubled quotes, when it holds a comma or a quote.
fn q(x: &str) -> String {
    if x.contains(',') || x.contains('"') {
        format!("\"{}\"", x.replace('"', "\"\""))
    } else {
        x.to_string()
    }
}

/// One CSV line per group (the overall first).
pub fn csv(s: &Summary) -> String {
    let mut out = String::from("model,system,framework,mode,rows,evaluated,tpot_median_ratio,tpot_median_abs_error,tpot_within_20pct,ttft_median_ratio,ttft_median_abs_error,ttft_within_25pct\n");
    let f = |m: &Option<Metric>| match m {
        Some(m) => format!("{:.4},{:.4},{:.4}", m.median_ratio, m.median_abs_error, m.within),
        None => ",,".into(),
    };
    for g in std::iter::once(&s.overall).chain(&s.groups) {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            q(&g.model),
            q(&g.system),
            q(&g.framework),
            g.mode,
            g.rows,
            g.evaluated,
            f(&g.tpot),
            f(&g.ttft)
        );
    }
    out
}

/// One CSV line per row of the data, in file order: the row's configuration, the
/// predicted and measured TTFT and TPOT (ms), the decode step without prefill chunks,
/// the share of the step spent on prefill chunks and priced from op tables, whether a
/// lookup left the measured range, the sequences a rank admits, the wait for a slot, one
/// prompt's own prefill (its chunk steps beside the decode batch, or the prefill
/// worker's pass) and why a row was not evaluated.
pub fn rows_csv(all: &[Evaluated], skipped: &[super::Skipped]) -> String {
    let mut out = String::from(
        "line,id,model,system,framework,mode,isl,osl,concurrency,tp,dp,moe_gpus,pred_ttft_ms,meas_ttft_ms,pred_tpot_ms,meas_tpot_ms,decode_step_ms,prefill_share,from_tables,extrapolated,admitted,queue_ms,prompt_ms,reason\n",
    );
    let mut lines: Vec<(usize, String)> = Vec::new();
    for e in all {
        let r = &e.row;
        let mode = r.mode.name();
        let head = format!(
            "{},{},{},{},{},{mode},{},{},{},{},{},{}",
            r.line,
            q(&r.id),
            q(&r.model),
            q(&r.system),
            q(&r.framework),
            r.isl,
            r.osl,
            r.batch,
            r.decode.tp,
            r.decode.dp,
            r.decode.moe
        );
        let tail = match &e.result {
            Ok(p) => format!(
                "{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{:.4},{:.4},",
                p.ttft * 1e3,
                r.ttft_ms,
                p.tpot * 1e3,
                r.tpot_ms,
                p.decode_step * 1e3,
                p.prefill_share,
                p.from_tables,
                p.extrapolated,
                p.admitted,
                p.queue * 1e3,
                p.prompt * 1e3
            ),
            Err(reason) => format!(",{:.4},,{:.4},,,,,,,,{}", r.ttft_ms, r.tpot_ms, q(reason)),
        };
        lines.push((r.line, format!("{head},{tail}")));
    }
    for s in skipped {
        lines.push((s.line, format!("{},{},,,,,,,,,,,,,,,,,,,,,,{}", s.line, q(&s.id), q(&s.reason))));
    }
    lines.sort_by_key(|l| l.0);
    for (_, l) in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The whole of docs/validation.md: what was run, the table and the details.
pub fn markdown_document(s: &Summary, data: &str) -> String {
    format!(
        "# Validation against measured deployments\n\n\
         Written by `cargo run --release -- validate {data} --format markdown > docs/validation.md`;\n\
         regenerate it whenever the cost model changes. Each row of the data is one measured\n\
         deployment (model, GPU, framework, aggregated or disaggregated serving, parallelism,\n\
         prompt and answer lengths, concurrency) evaluated as a pinned plan on the stdlib's\n\
         `*_measured` chips (op tables, docs/op-tables.md, their FP8 GEMMs less the fitted\n\
         `fp8_gemm_surplus`, docs/cost-model.md §9) under the row's framework (its fitted\n\
         fixed costs, docs/cost-model.md §4c); docs/cost-model.md §10-11 give the serving model.\n\
         `pred/meas` is the median of predicted / measured, `abs err` the median of\n\
         |predicted / measured − 1|, `±20%` / `±25%` the share of rows that close.\n\n\
         Reading the data: an aggregated row's clients per worker are its `concurrency`, or\n\
         `batch_size` where only that is recorded (11 rows) or where `concurrency` is a whole\n\
         multiple k > 1 of it (16 rows: k replicas of the worker; one TP2 worker could not\n\
         hold 416 clients of 15k-token prompts and decode in 13 ms). The TTFT of vLLM and\n\
         TensorRT-LLM rows assumes the benchmark's clients arrive in fitted bursts, and that of\n\
         TensorRT-LLM and SGLang rows a fitted first-token latency (docs/cost-model.md §11).\n\
         An MoE row with `moe_tp_size` above 1 and `moe_ep_size` 1 splits every expert by width\n\
         over the worker's GPUs, any other keeps experts whole (docs/cost-model.md §4h).\n\
         A pipeline-parallel worker (`pp_size`, `prefill_pp_size` or `decode_pp_size` above 1;\n\
         none in this data) is counted as not evaluated, with that reason.\n\n\
         The target (issue #14): TPOT median |err| ≤ 10% with ≥ 80% of rows within ±20%, and\n\
         TTFT ≥ 70% within ±25%, overall and in every group of ≥ 20 rows.\n\n{}\n{}",
        table(s, true),
        details(s, true)
    )
}
