//! The terminal summary of a plan report. Deterministic: no timings.

use super::PlanReport;
use crate::schedule::Timeline;
use crate::units::format::{fmt_bytes, fmt_figure, fmt_num, fmt_si, fmt_time};
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

/// One piece of a plan's summary, rendered for the terminal ([`render`]) or as
/// Markdown ([`super::markdown`]): both show the same content.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// the plan's headline
    Title(String),
    /// a labelled line: model, workload, speculation
    Field(&'static str, String),
    /// a table, which columns align right, a caption, and whether the first row is a
    /// header (the metrics table is label/value pairs without one)
    Table { caption: Option<String>, rows: Vec<Vec<String>>, right: Vec<bool>, header: bool },
    /// a line of prose
    Line(String),
    /// preformatted lines (the text Gantt charts)
    Pre(Vec<String>),
    /// space between sections
    Gap,
}

/// The terminal summary.
pub fn render(r: &PlanReport) -> String {
    render_blocks(document(r))
}

/// The plan's headline and frontier only (`hplanc sweep`).
pub fn render_frontier(r: &PlanReport) -> String {
    let mut blocks = vec![headline(r)];
    frontier(r, &mut blocks);
    render_blocks(blocks)
}

/// Summary blocks (a plan's, a comparison's) for the terminal.
pub fn render_blocks(blocks: Vec<Block>) -> String {
    let mut o = String::new();
    for b in blocks {
        match b {
            Block::Title(t) => {
                let _ = writeln!(o, "{t}");
            }
            Block::Field(label, text) => {
                let _ = writeln!(o, "  {label:<9} {text}");
            }
            Block::Table { caption, rows, right, .. } => {
                if let Some(c) = caption {
                    let _ = writeln!(o, "  {c}");
                }
                o.push_str(&table(&rows, &right));
            }
            Block::Line(l) => {
                let _ = writeln!(o, "  {l}");
            }
            Block::Pre(lines) => {
                for l in lines {
                    let _ = writeln!(o, "  {}", l.trim_end());
                }
            }
            Block::Gap => o.push('\n'),
        }
    }
    o
}

/// Frontier rows the summary lists before it keeps only the Pareto-optimal ones.
const MAX_FRONTIER_ROWS: usize = 24;

/// "plan afd: optimal (minimize cost_per_mtok = $0.865/Mtok)"
fn headline(r: &PlanReport) -> Block {
    let value = r.objective.value.map(|v| format!(" = {}", objective_value(r.objective.kind, v))).unwrap_or_default();
    Block::Title(format!("plan {}: {} ({} {}{value})", r.name, r.status, r.objective.direction, r.objective.kind))
}

/// An objective's value in its unit: seconds as times, watts with a prefix, money to
/// the tenth of a cent (the headline's and the runner-up's).
fn objective_value(kind: &str, v: f64) -> String {
    match kind {
        "cost_per_mtok" => format!("${v:.3}/Mtok"),
        "tpot" | "ttft" => fmt_time(v),
        "chips" => format!("{v}"),
        "power" => fmt_si(v, "W"),
        "throughput_per_chip" => format!("{} tok/s per chip", fmt_num(v)),
        "decode_throughput_per_chip" => format!("{} tok/s per decode chip", fmt_num(v)),
        "throughput_per_dollar" => format!("{} tok per $", fmt_num(v)),
        "tokens_per_mw" => format!("{} tok/s per MW", fmt_num(v)),
        "goodput" => format!("{} req/s within the SLOs", fmt_num(v)),
        _ => fmt_num(v),
    }
}

/// The uncertain inputs: the tornado table (largest swing first), each metric's band,
/// and where the placement changes.
fn uncertainty(r: &PlanReport, u: &super::uncertainty::UncertaintyReport, o: &mut Vec<Block>) {
    if let Some(why) = u.not_varied_because {
        o.push(Block::Gap);
        o.push(Block::Line(format!("its {} uncertain inputs were not varied: {why}", u.not_varied)));
        return;
    }
    let kind = r.objective.kind;
    let value = |v: Option<f64>| v.map(|v| objective_value(kind, v)).unwrap_or_else(|| "infeasible".into());
    let mut rows = vec![vec![
        "input".to_string(),
        "nominal".into(),
        "range".into(),
        format!("{kind} at low"),
        format!("{kind} at high"),
        "placement changes".into(),
    ]];
    for i in &u.inputs {
        let changes = match (i.changes_below, i.changes_above) {
            (None, None) => "no".to_string(),
            (b, a) => {
                let side = |w: &str, x: Option<f64>| x.map(|x| format!("{w} {}", fmt_figure(i.unit, x)));
                [side("below", b), side("above", a)].into_iter().flatten().collect::<Vec<_>>().join(", ")
            }
        };
        rows.push(vec![
            i.name.clone(),
            fmt_figure(i.unit, i.nominal),
            format!("{} .. {}", fmt_figure(i.unit, i.low), fmt_figure(i.unit, i.high)),
            value(i.objective_at_low),
            value(i.objective_at_high),
            changes,
        ]);
    }
    o.push(Block::Gap);
    o.push(Block::Table {
        caption: Some("uncertain inputs, each at its ends with the others nominal (largest swing first)".into()),
        rows,
        right: vec![false, true, true, true, true, false],
        header: true,
    });
    let b = &u.metrics;
    let mut bands = Vec::new();
    if let Some(x) = b.objective {
        bands.push(format!("{kind} {} .. {}", objective_value(kind, x.low), objective_value(kind, x.high)));
    }
    bands.push(format!("TPOT {} .. {}", fmt_time(b.tpot_s.low), fmt_time(b.tpot_s.high)));
    bands.push(format!("TTFT {} .. {}", fmt_time(b.ttft_s.low), fmt_time(b.ttft_s.high)));
    bands.push(format!("{} .. {} tok/s per chip", fmt_num(b.throughput_per_chip.low), fmt_num(b.throughput_per_chip.high)));
    o.push(Block::Line(format!("inside the ranges: {}", bands.join("; "))));
    if u.placement_changes {
        for i in &u.inputs {
            for (end, p) in [("low", &i.placement_at_low), ("high", &i.placement_at_high)] {
                if let Some(p) = p {
                    o.push(Block::Line(format!("at {}'s {end} end the placement is another: {p}", i.name)));
                }
            }
        }
    } else {
        o.push(Block::Line("the placement stays the same inside every range".into()));
    }
    if u.not_varied > 0 {
        o.push(Block::Line(format!(
            "{} more uncertain inputs were not varied (at most {} are)",
            u.not_varied,
            crate::ir::uncertain::MAX_INPUTS
        )));
    }
}

/// The summary's content, in order: the [`summary`], then the runner-up, the text
/// Gantt charts, memory, the frontier and the solver.
pub fn document(r: &PlanReport) -> Vec<Block> {
    let mut o = summary(r);
    if r.metrics.is_none() {
        return o;
    }
    rest(r, &mut o);
    o
}

/// The headline, model, workload, speculation, placement, metrics, the step's
/// breakdown and the bottleneck (what an editor's hover shows of a solved plan).
pub fn summary(r: &PlanReport) -> Vec<Block> {
    let mut o: Vec<Block> = vec![headline(r)];
    let m = &r.model;
    o.push(Block::Field(
        "model",
        format!(
            "{}: {:.2} B params, {} of {} weights{}, KV cache {}/token ({}){}",
            m.name,
            m.params as f64 / 1e9,
            fmt_bytes(m.weight_bytes),
            m.weights,
            m.unquantized.map(|u| format!(" ({u} embeddings, norms and routers)")).unwrap_or_default(),
            fmt_bytes(m.kv_bytes_per_token),
            m.kv,
            m.variants
                .map(|k| format!(
                    "; {k} variants served in turn on the same chips ({} of weights resident)",
                    fmt_bytes(k as f64 * m.weight_bytes)
                ))
                .unwrap_or_default()
        ),
    ));
    let w = &r.workload;
    let range = if w.concurrency_range[0] == w.concurrency_range[1] {
        String::new()
    } else {
        format!(" (chosen from {} ..= {})", w.concurrency_range[0], w.concurrency_range[1])
    };
    let conc = w.concurrency.map(|c| format!(", concurrency {c}{range}")).unwrap_or_default();
    o.push(Block::Field(
        "workload",
        format!("{}: {} input + {} output tokens{conc}", w.name, fmt_num(w.input_tokens as f64), fmt_num(w.output_tokens as f64)),
    ));
    if let Some(p) = &w.prefix {
        let distinct = if p.distinct == 1 { "one shared prefix".to_string() } else { format!("one of {} prefixes", p.distinct) };
        o.push(Block::Field(
            "prefix",
            format!(
                "each prompt begins with {distinct} of {} tokens, cached for {:.0}% of requests (the rest of a cached prompt is prefilled)",
                fmt_num(p.tokens as f64),
                100.0 * p.hit_rate
            ),
        ));
    }
    if let Some(sp) = &r.speculation {
        o.push(Block::Field(
            "speculate",
            format!(
                "{} drafts {} tokens at acceptance {}: {:.2} tokens per verify step",
                sp.draft_model, sp.lookahead, sp.acceptance, sp.expected_tokens_per_step
            ),
        ));
    }
    let Some(mt) = &r.metrics else {
        o.push(Block::Line("no feasible placement; see the diagnostics".into()));
        return o;
    };
    o.push(Block::Gap);
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
                Some([a, b]) => match p.chunks {
                    Some(k) => format!("{} {a}..{b} ({k} chunks)", p.stage),
                    None => format!("{} {a}..{b}", p.stage),
                },
                // an FFN whose layers spread over groups of its chips
                None if p.pp > 1 => format!("{} in {} layer groups", p.stage, p.pp),
                None => match (p.cp, p.expert_slots) {
                    // attention whose chips split the KV cache by context, or a prompt's
                    // prefill split so
                    (Some(cp), _) if p.stage == "prefill" => format!("{} (prompt split {cp} ways by context)", p.stage),
                    (Some(cp), _) => format!("{} (KV split {cp} ways by context)", p.stage),
                    // experts over chips that do not divide them
                    (None, Some(slots)) => format!("{} ({})", p.stage, super::expert_slots_words(slots)),
                    (None, None) => p.stage.to_string(),
                },
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
    o.push(Block::Table { caption: None, rows, right: vec![false, false, false, true, true, true, true, true, true], header: true });
    o.push(Block::Gap);
    // a missing figure says which input it lacks
    let opt = |v: Option<f64>, missing: &str, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| format!("n/a (no {missing})"));
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
            opt(mt.cost_per_hour_usd, "price", &|v| format!("${}/h", fmt_num(v))),
            "$/Mtok".into(),
            opt(mt.cost_per_mtok_usd, "price", &|v| format!("${v:.3}")),
        ],
        vec![
            "power".into(),
            opt(mt.power_w, "power figure", &|v| fmt_si(v, "W")),
            "tok/s/MW".into(),
            opt(mt.tokens_per_s_per_mw, "power figure", &fmt_num),
        ],
    ];
    o.push(Block::Table { caption: None, rows: metrics, right: vec![false, true, false, true], header: false });
    if let Some(b) = &r.breakdown {
        let s = &b.decode_step_s;
        // attention, FFN and the embedding and LM head always; the rest where they take time
        let mut parts: Vec<String> = s
            .parts(r.dp_attention())
            .iter()
            .filter(|(_, key, v)| *v > 0.0 || matches!(*key, "attn" | "ffn" | "other"))
            .map(|(label, _, v)| format!("{label} {}", fmt_time(*v)))
            .collect();
        if s.overlap > 0.0 {
            parts.push(format!("minus {} hidden by microbatch overlap", fmt_time(s.overlap)));
        }
        let what = if r.speculation.is_some() {
            "per token (a draft-and-verify round / expected tokens)".to_string()
        } else if let Some(k) = r.model.variants {
            format!("decode round (each of {k} variants' step once)")
        } else {
            "decode step".to_string()
        };
        o.push(Block::Gap);
        o.push(Block::Line(format!("{what} {}: {}", fmt_time(mt.tpot_s), parts.join(", "))));
        // the engine's own latency to a first token, where the plan's framework has one
        let engine = if b.engine_first_token_s > 0.0 {
            format!(" + the engine's first token {}", fmt_time(b.engine_first_token_s))
        } else {
            String::new()
        };
        match r.serving.as_ref().filter(|v| v.mode == "aggregated") {
            Some(_) => o.push(Block::Line(format!(
                "prefill {} in the decode steps + {} waiting for {}{engine}",
                fmt_time(b.prefill_s),
                fmt_time(mt.ttft_s - b.prefill_s - b.engine_first_token_s),
                if r.model.variants.is_some() { "the variant's turns" } else { "the running step" }
            ))),
            None => o.push(Block::Line(format!("prefill {} + KV transfer {}{engine}", fmt_time(b.prefill_s), fmt_time(b.kv_transfer_s)))),
        }
        if let Some(v) = &r.serving {
            o.push(Block::Line(format!("serving: {}", v.reason)));
        }
        if let Some(line) = tables_line(b) {
            o.push(Block::Line(line));
        }
    }
    if let Some(bn) = &r.bottleneck {
        o.push(Block::Line(format!("bottleneck: {bn}")));
    }
    if let Some(s) = &r.served {
        served(s, o.as_mut());
    }
    o
}

/// The rate search's answer: the highest arrival rate meeting the SLOs, the simulation
/// there, and what was tried.
fn served(s: &super::simulation::ServedReport, o: &mut Vec<Block>) {
    // rates to three significant digits, small ones too
    let rate = |r: f64| if r < 1.0 { format!("{r:.3}") } else { fmt_num(r) };
    o.push(Block::Gap);
    let slos: Vec<String> = s.slos.iter().map(|c| format!("{} <= {}", c.slo, fmt_time(c.limit))).collect();
    o.push(Block::Line(format!(
        "served (simulated, {}): {} req/s meet {}: {} tok/s, {} tok/s per chip ({} chip{}, batch {})",
        s.arrivals,
        rate(s.rate_requests_per_s),
        slos.join(" and "),
        fmt_num(s.tokens_per_s),
        fmt_num(s.tokens_per_s_per_chip),
        s.chips,
        if s.chips == 1 { "" } else { "s" },
        s.batch
    )));
    let row = |name: &str, d: &crate::simulate::Dist| {
        vec![name.to_string(), fmt_time(d.mean), fmt_time(d.p50), fmt_time(d.p90), fmt_time(d.p99), fmt_time(d.max)]
    };
    o.push(Block::Table {
        caption: Some(format!("at {} req/s", rate(s.rate_requests_per_s))),
        rows: vec![
            ["", "mean", "p50", "p90", "p99", "max"].iter().map(|x| x.to_string()).collect(),
            row("TTFT", &s.ttft_s),
            row("TPOT", &s.tpot_s),
            row("E2E", &s.e2e_s),
        ],
        right: vec![false, true, true, true, true, true],
        header: true,
    });
    if let Some(c) = &s.prefix_cache {
        o.push(Block::Line(format!(
            "prefix cache at that rate: {:.1}% of requests found their prefix cached (the model takes {:.0}%), {} evictions",
            100.0 * c.hit_rate,
            100.0 * c.model_hit_rate,
            c.evictions
        )));
    }
    let checks: Vec<String> = s.slos.iter().map(|c| format!("{} {}", c.slo, fmt_time(c.simulated))).collect();
    let tried: Vec<String> = s
        .candidates
        .iter()
        .filter(|c| !c.pruned)
        .map(|c| match c.rate_requests_per_s {
            Some(r) => format!("{}: {} req/s", c.batch, rate(r)),
            None => format!("{}: none", c.batch),
        })
        .collect();
    let pruned = s.candidates.iter().filter(|c| c.pruned).count();
    let skipped = match pruned {
        0 => String::new(),
        1 => "; 1 other batch could not win even at its capacity".to_string(),
        n => format!("; {n} other batches could not win even at their capacity"),
    };
    o.push(Block::Line(format!(
        "simulated there: {}; {:.1}% of requests within every limit; rate search: batch {}{skipped}; {} simulations of {} requests (seed {})",
        checks.join(", "),
        100.0 * s.good_share,
        tried.join(", "),
        s.simulations,
        fmt_num(s.requests_per_simulation as f64),
        s.seed
    )));
}

/// How much of each stage measured op tables priced, when any did: the decode step's
/// layers (attention, FFN, embedding and LM head) and the prefill, and whether a lookup
/// left the measured range.
fn tables_line(b: &super::Breakdown) -> Option<String> {
    let s = &b.decode_step_s;
    if s.from_tables <= 0.0 && b.prefill_from_tables_s <= 0.0 {
        return None;
    }
    let share = |part: f64, whole: f64| if whole > 0.0 { format!("{:.0}%", 100.0 * part / whole) } else { "0%".into() };
    Some(format!(
        "measured op tables: {} of the decode step's layers, {} of the prefill (the rest on the roofline){}",
        share(s.from_tables, s.attn + s.ffn + s.other),
        share(b.prefill_from_tables_s, b.prefill_s),
        if b.extrapolated { "; some shapes lie outside the measured range (scaled from the largest measured)" } else { "" }
    ))
}

/// The document after the summary.
fn rest(r: &PlanReport, o: &mut Vec<Block>) {
    match &r.runner_up {
        Some(ru) => {
            let v =
                ru.objective_value.map(|v| format!("{} {}", r.objective.kind, objective_value(r.objective.kind, v))).unwrap_or_default();
            o.push(Block::Line(format!(
                "runner-up: {} at concurrency {}: {v}, {:.1}% worse",
                ru.placement,
                ru.concurrency,
                100.0 * ru.margin
            )));
        }
        None => {
            o.push(Block::Line("runner-up: none (no other assignment of stages to pools is allowed and feasible)".into()));
        }
    }
    if let Some(u) = &r.uncertainty {
        uncertainty(r, u, o);
    }
    if let Some(t) = &r.timelines {
        o.push(Block::Gap);
        o.push(Block::Pre(gantt(&t.decode, GANTT_WIDTH)));
        o.push(Block::Gap);
        o.push(Block::Pre(gantt(&t.prefill, GANTT_WIDTH)));
    }
    o.push(Block::Gap);
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
    o.push(Block::Table {
        caption: Some("memory per chip".into()),
        rows,
        right: vec![false, false, false, true, true, true],
        header: true,
    });
    frontier(r, o);
    if let Some(s) = &r.solver {
        o.push(Block::Gap);
        o.push(Block::Line(format!(
            "solver: {}, {} variables, {} constraints, {} solves over {} batches, {}",
            s.backend,
            s.variables,
            s.constraints,
            s.solves,
            s.batches,
            if s.proven_optimal {
                "proven optimal".to_string()
            } else {
                match s.gap {
                    Some(g) => format!("time limit hit: best found, {}", crate::diagnostics::catalog::gap_phrase(g)),
                    None => "time limit hit: best found, no bound proven".to_string(),
                }
            }
        )));
    }
}

/// Columns of a text Gantt chart's time axis.
pub const GANTT_WIDTH: usize = 60;

/// A timeline as a text Gantt chart: one row per track, each column a slice of time
/// shaded by how busy the track is in it, the busy share at the end; the reported time
/// (TPOT, TTFT) is marked under the axis when the step from idle runs longer.
pub fn gantt(t: &Timeline, width: usize) -> Vec<String> {
    let span = t.makespan.max(1e-300);
    let names: Vec<String> = t.tracks.iter().map(|tr| tr.name.clone()).collect();
    let label = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let what = &t.reported_what;
    let mut out = vec![format!("{}: {} from idle ({what} {})", t.title, fmt_time(t.makespan), fmt_time(t.reported))];
    for (k, name) in names.iter().enumerate() {
        // busy seconds per column (overlapping lanes count once: capped at the column)
        let mut busy = vec![0.0f64; width];
        for o in t.ops.iter().filter(|o| o.track == k) {
            let (a, b) = (o.start / span * width as f64, o.end() / span * width as f64);
            let (first, last) = (a.floor() as usize, (b.ceil() as usize).min(width));
            for (c, cell) in busy.iter_mut().enumerate().take(last).skip(first) {
                *cell += (b.min(c as f64 + 1.0) - a.max(c as f64)).max(0.0);
            }
        }
        let bar: String = busy
            .iter()
            .map(|&f| match f.min(1.0) {
                f if f <= 0.0 => ' ',
                f if f <= 0.25 => '░',
                f if f <= 0.5 => '▒',
                f if f <= 0.75 => '▓',
                _ => '█',
            })
            .collect();
        let pad = " ".repeat(label - name.chars().count());
        out.push(format!("{name}{pad} |{bar}| {:>3.0}%", 100.0 * t.busy(k) / span));
    }
    let end = fmt_time(t.makespan);
    let axis_pad = width.saturating_sub(end.chars().count()).saturating_sub(1);
    out.push(format!("{} 0{}{end}", " ".repeat(label + 1), " ".repeat(axis_pad)));
    if t.reported < t.makespan * (1.0 - 1e-9) {
        let col = ((t.reported / span) * width as f64).round() as usize;
        out.push(format!("{} {}^ {what} (steady-state period)", " ".repeat(label + 1), " ".repeat(col.min(width))));
    }
    let crit: Vec<String> = t.critical_by_kind().iter().map(|(k, d)| format!("{k} {}", fmt_time(*d))).collect();
    out.push(format!("critical path: {}", crit.join(", ")));
    if !t.note.is_empty() {
        out.push(format!("({})", t.note));
    }
    out
}

/// The frontier table (and the sweep's infeasible values).
fn frontier(r: &PlanReport, o: &mut Vec<Block>) {
    if !r.frontier.is_empty() {
        o.push(Block::Gap);
        let slo = r.frontier.iter().any(|f| f.slo_tokens_per_s_per_user.is_some());
        // a figure's sweep: its name, its unit
        let swept_figure =
            r.sweep.as_ref().filter(|_| r.frontier.iter().any(|f| f.figure_value.is_some())).map(|s| (s.variable.clone(), s.unit));
        // an SLO sweep leads with the SLO each point was solved at, a figure's with the figure
        let lead = |v: String| if slo || swept_figure.is_some() { vec![v] } else { Vec::new() };
        // a figure's sweep ends with each point's placement: where it changes is the answer
        let tail = |v: String| if swept_figure.is_some() { vec![v] } else { Vec::new() };
        // a plan with uncertain inputs ends with the band of the metric its goal reads
        let banded = r.frontier.iter().any(|f| f.band.is_some());
        let (band_title, band_of) = frontier_band_column(r.objective.kind);
        let band = |f: &super::FrontierPoint| -> Vec<String> {
            if !banded {
                return vec![];
            }
            let mark = if f.band.as_ref().is_some_and(|b| !b.infeasible_ends.is_empty()) { " *" } else { "" };
            vec![f.band.as_ref().and_then(band_of).map(|b| format!("{b}{mark}")).unwrap_or_else(|| "n/a".into())]
        };
        let mut rows = vec![[
            lead(swept_figure.as_ref().map_or("tok/s/user >=".into(), |(name, _)| name.clone())),
            vec![
                "concurrency".to_string(),
                "tok/s/user".into(),
                "tok/s/chip".into(),
                "$/Mtok".into(),
                "tok/s/MW".into(),
                "Pareto-optimal per".into(),
            ],
            if banded { vec![band_title.to_string()] } else { vec![] },
            tail("placement".into()),
        ]
        .concat()];
        // long sweeps: the points on some Pareto frontier, every k-th of them when there
        // are still too many (frontier.csv has them all)
        let long = r.frontier.len() > MAX_FRONTIER_ROWS;
        let pareto: Vec<&super::FrontierPoint> =
            r.frontier.iter().filter(|f| !long || f.pareto_per_chip || f.pareto_per_dollar || f.pareto_per_mw).collect();
        let every = pareto.len().div_ceil(MAX_FRONTIER_ROWS).max(1);
        let last = pareto.len().saturating_sub(1);
        for f in pareto.iter().enumerate().filter(|(i, _)| i % every == 0 || *i == last).map(|(_, f)| *f) {
            let per: Vec<&str> = [(f.pareto_per_chip, "chip"), (f.pareto_per_dollar, "$"), (f.pareto_per_mw, "MW")]
                .into_iter()
                .filter_map(|(on, w)| on.then_some(w))
                .collect();
            rows.push(
                [
                    lead(match (&swept_figure, f.figure_value) {
                        (Some((_, unit)), Some(v)) => fmt_figure(unit, v),
                        _ => f.slo_tokens_per_s_per_user.map(fmt_num).unwrap_or_default(),
                    }),
                    vec![
                        f.concurrency.to_string(),
                        fmt_num(f.tokens_per_s_per_user),
                        fmt_num(f.throughput_per_chip),
                        f.cost_per_mtok_usd.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into()),
                        f.tokens_per_s_per_mw.map(fmt_num).unwrap_or_else(|| "n/a".into()),
                        per.join(", "),
                    ],
                    band(f),
                    tail(f.placement.clone()),
                ]
                .concat(),
            );
        }
        let shown = rows.len() - 1;
        let mut caption = match &r.sweep {
            Some(s) if s.variable == "concurrency" => format!("frontier: a sweep of {} concurrencies", s.values),
            Some(s) if s.variable == "tokens_per_s_per_user" => {
                format!("frontier: a sweep of {} values of the SLO tokens_per_s_per_user", s.values)
            }
            Some(s) => format!("a sweep of {} values of {}, the plan solved over its whole space at each", s.values, s.variable),
            None => "frontier (the best placement at each concurrency tried)".to_string(),
        };
        if long && every > 1 {
            caption.push_str(&format!(
                "; {shown} of its {} Pareto-optimal points (one in {}) of {} in all (frontier.csv has them all)",
                pareto.len(),
                every,
                r.frontier.len()
            ));
        } else if long {
            caption.push_str(&format!("; its {shown} Pareto-optimal points of {} in all (frontier.csv has them all)", r.frontier.len()));
        }
        // numbers right, the Pareto column and the placement (words) left
        let words = rows[0].len() - 1 - usize::from(banded) - usize::from(swept_figure.is_some());
        let placed = swept_figure.is_some().then(|| rows[0].len() - 1);
        let right: Vec<bool> = (0..rows[0].len()).map(|c| c != words && Some(c) != placed).collect();
        o.push(Block::Table { caption: Some(caption), rows, right, header: true });
        if r.frontier.iter().any(|f| f.band.as_ref().is_some_and(|b| !b.infeasible_ends.is_empty())) {
            o.push(Block::Line(
                "* at some input's end nothing is feasible at that value; the band leaves it out (report.json: band.infeasible_ends)"
                    .into(),
            ));
        }
        // a concurrency is a whole number; an SLO value has its significant digits
        let value = |s: &super::SweepReport, v: f64| match s.variable.as_str() {
            "concurrency" => format!("{}", v.round() as u64),
            "tokens_per_s_per_user" => fmt_num(v),
            _ => fmt_figure(s.unit, v),
        };
        if let Some(s) = r.sweep.as_ref().filter(|s| !s.infeasible.is_empty()) {
            let vals: Vec<String> = s.infeasible.iter().map(|v| value(s, *v)).collect();
            let shown = if vals.len() > 8 {
                format!("{} ... {} ({} values)", vals[..4].join(", "), vals[vals.len() - 1], vals.len())
            } else {
                vals.join(", ")
            };
            o.push(Block::Line(format!("no feasible placement at {} {shown}", s.variable)));
            // those some input's end reaches: the first two inputs of each
            for x in s.feasible_inside_ranges.iter().take(8) {
                let with: Vec<String> = x.with.iter().take(2).map(|w| format!("{} at {}", w.input, fmt_figure(w.unit, w.value))).collect();
                let more = if x.with.len() > 2 { format!(" (and {} more)", x.with.len() - 2) } else { String::new() };
                o.push(Block::Line(format!("feasible inside the ranges at {} with {}{more}", value(s, x.value), with.join(" or "))));
            }
        }
        if let Some(s) = r.sweep.as_ref() {
            for f in s.failed.iter().take(8) {
                o.push(Block::Line(format!("the placement solver failed at {} {}: {}", s.variable, value(s, f.value), f.reason)));
            }
            if s.failed.len() > 8 {
                o.push(Block::Line(format!("... and at {} more values", s.failed.len() - 8)));
            }
        }
    }
}

/// The frontier table's band column for a plan with goal `kind`: its title and the band
/// of the metric the goal reads (cost per token for the dollar goals, tokens/s per MW
/// for the power ones, else tokens/s per chip), as "least .. greatest".
fn frontier_band_column(kind: &str) -> (&'static str, fn(&super::uncertainty::FrontierBand) -> Option<String>) {
    match kind {
        "cost_per_mtok" | "throughput_per_dollar" => {
            ("$/Mtok inside the ranges", |b| b.cost_per_mtok_usd.map(|[lo, hi]| format!("{lo:.3} .. {hi:.3}")))
        }
        "tokens_per_mw" | "power" => {
            ("tok/s/MW inside the ranges", |b| b.tokens_per_s_per_mw.map(|[lo, hi]| format!("{} .. {}", fmt_num(lo), fmt_num(hi))))
        }
        _ => ("tok/s/chip inside the ranges", |b| {
            Some(format!("{} .. {}", fmt_num(b.throughput_per_chip[0]), fmt_num(b.throughput_per_chip[1])))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::objective_value;

    /// Issue 18: the runner-up's TPOT of 2.1 ms was printed "tpot 0.00"; every
    /// objective's value is written in its unit, as in the headline.
    #[test]
    fn objective_values_are_written_in_their_units() {
        assert_eq!(objective_value("tpot", 0.0021), "2.10 ms");
        assert_eq!(objective_value("ttft", 0.45), "450 ms");
        assert_eq!(objective_value("cost_per_mtok", 6.4519), "$6.452/Mtok");
        assert_eq!(objective_value("power", 1200.0), "1.20 kW");
        assert_eq!(objective_value("chips", 16.0), "16");
        assert_eq!(objective_value("tokens_per_mw", 250_000.0), "250,000 tok/s per MW");
    }

    /// An uncertain input's figures are written as the source writes them.
    #[test]
    fn uncertain_figures_are_written_in_their_units() {
        use crate::units::format::fmt_figure;
        assert_eq!(fmt_figure("$/s", 8.0 / 3600.0), "$8.00/h");
        assert_eq!(fmt_figure("$/s", 400.0 / 3600.0), "$400/h");
        assert_eq!(fmt_figure("$/s", 0.001 / 3600.0), "$0.001/h");
        assert_eq!(fmt_figure("$/s", 0.05 / 3600.0), "$0.05/h");
        assert_eq!(fmt_figure("$/s", 0.0041 / 3600.0), "$0.0041/h");
        assert_eq!(fmt_figure("s", 2e-6), "2.00 µs");
        assert_eq!(fmt_figure("", 0.6), "0.60");
    }
}
