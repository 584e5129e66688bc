//! Reports: the JSON document ([`Report`], its fields documented there) and the
//! terminal summary ([`human`]). All quantities in SI base units.

pub mod compare;
pub mod csv;
pub mod dot;
pub mod html;
pub mod human;
pub mod markdown;
pub mod simulation;
pub mod svg;
pub mod tornado;
pub mod trace;
pub mod uncertainty;

use crate::diagnostics::json::JsonDiagnostic;
use crate::ir::{Objective, Plan};
use crate::solve::space::{DecodeOption, Layout};
use crate::solve::{Point, Solved};
use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Report {
    pub hplanc: String,
    pub plans: Vec<PlanReport>,
    /// the file's `compare` blocks
    pub comparisons: Vec<compare::ComparisonReport>,
    pub diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PlanReport {
    pub name: String,
    /// "optimal", "feasible" (time limit hit) or "infeasible"
    pub status: &'static str,
    pub objective: ObjectiveReport,
    pub model: ModelReport,
    pub workload: WorkloadReport,
    pub placement: Vec<PlacementRow>,
    pub metrics: Option<Metrics>,
    pub memory: Vec<MemoryRow>,
    pub breakdown: Option<Breakdown>,
    pub bottleneck: Option<String>,
    pub solver: Option<SolverReport>,
    pub frontier: Vec<FrontierPoint>,
    pub speculation: Option<SpeculationReport>,
    /// why the winner won: the best placement that uses other pools, and how much worse it is
    pub runner_up: Option<RunnerUpReport>,
    /// aggregated or disaggregated serving, and why
    pub serving: Option<ServingReport>,
    /// the timelines of one decode step and one prefill (trace.json has every operation)
    pub schedule: Option<ScheduleReport>,
    /// the sweep the frontier comes from (absent: the concurrencies the solver tried)
    pub sweep: Option<SweepReport>,
    /// plans with percentile SLOs or `maximize goodput`: the highest arrival
    /// rate meeting them, found with the simulation (docs/simulation.md)
    pub served: Option<simulation::ServedReport>,
    /// figures written with their uncertainty, each varied: the objective and metrics at
    /// its ends, where the placement changes (docs/uncertainty.md); absent without any
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<uncertainty::UncertaintyReport>,
    /// the timelines themselves, for trace.json and the text Gantt (not in the JSON)
    #[serde(skip)]
    pub timelines: Option<crate::schedule::Schedule>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ScheduleReport {
    pub decode: TimelineReport,
    pub prefill: TimelineReport,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TimelineReport {
    pub title: String,
    /// when the last operation ends, from an idle start
    pub makespan_s: f64,
    /// what the metrics state for it: TPOT (times the tokens of a speculative round)
    /// or TTFT
    pub reported_s: f64,
    /// `reported_s` in words ("TPOT", "TTFT", "TPOT × 2.77 tokens")
    pub reported_what: String,
    pub note: String,
    pub operations: usize,
    pub tracks: Vec<TrackReport>,
    /// seconds of the critical path by kind of operation (compute, collective,
    /// transfer, draft, overhead)
    pub critical_path_s: std::collections::BTreeMap<&'static str, f64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TrackReport {
    pub name: String,
    pub busy_s: f64,
    /// transfers that overlapped on a link take more than one lane
    pub lanes: usize,
}

fn timeline_report(t: &crate::schedule::Timeline) -> TimelineReport {
    TimelineReport {
        title: t.title.clone(),
        makespan_s: t.makespan,
        reported_s: t.reported,
        reported_what: t.reported_what.clone(),
        note: t.note.clone(),
        operations: t.ops.len(),
        tracks: t
            .tracks
            .iter()
            .enumerate()
            .map(|(k, tr)| TrackReport { name: tr.name.clone(), busy_s: t.busy(k), lanes: tr.lanes })
            .collect(),
        critical_path_s: t.critical_by_kind().into_iter().collect(),
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RunnerUpReport {
    /// stage -> pool, in words
    pub placement: String,
    pub concurrency: u64,
    /// the objective's value, in the objective's unit
    pub objective_value: Option<f64>,
    /// how much worse on the objective, relative (0.51 = 51% worse)
    pub margin: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ServingReport {
    /// "aggregated" (prefill in chunks inside the decode steps, on the decode chips) or
    /// "disaggregated" (prefill on chips of its own, the KV cache moved to decode)
    pub mode: &'static str,
    /// what the plan allows: "auto", "aggregated" or "disaggregated"
    pub allowed: &'static str,
    /// aggregated: prompt tokens a step may carry
    pub chunk_tokens: Option<u64>,
    /// aggregated: steps a prompt takes
    pub prompt_steps: Option<u64>,
    /// aggregated: prompts a step starts on average
    pub prompts_per_step: Option<f64>,
    /// aggregated: share of the mean step (TPOT) spent on prefill chunks
    pub prefill_share: Option<f64>,
    /// the best placement serving the other way, when the plan allows it and one is feasible
    pub alternative: Option<RunnerUpReport>,
    /// why this way, in words
    pub reason: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SpeculationReport {
    pub draft_model: String,
    pub lookahead: u64,
    pub acceptance: f64,
    /// (1 - a^(k+1)) / (1 - a)
    pub expected_tokens_per_step: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ObjectiveReport {
    pub kind: &'static str,
    /// "minimize" or "maximize"
    pub direction: &'static str,
    /// in the objective's unit: $/Mtok, s (tpot, ttft), chips, W, tok/s per chip,
    /// tok per $, tok/s per MW
    pub value: Option<f64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ModelReport {
    pub name: String,
    pub params: u64,
    pub active_params: u64,
    pub weight_bytes: f64,
    pub kv_bytes_per_token: f64,
    pub weights: &'static str,
    /// the precision of the embeddings, norms and routers when the weights are quantised
    /// below it (`Model::unquantized`); absent when they are stored like the rest
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unquantized: Option<&'static str>,
    pub kv: &'static str,
    /// models of this architecture served at once on the same chips, in turn
    /// (`variants`; docs/cost-model.md §15); absent for one model. `weight_bytes` is one
    /// variant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<u64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct WorkloadReport {
    pub name: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// the chosen decode batch (concurrent sequences)
    pub concurrency: Option<u64>,
    pub concurrency_range: [u64; 2],
    /// prefix reuse (`prefix = ...`): absent without it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixReport>,
}

/// A workload's shared prompt prefixes, as the analytical model takes them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PrefixReport {
    /// tokens every prompt begins with
    pub tokens: u64,
    /// distinct prefixes requests draw from
    pub distinct: u64,
    /// the share of requests that find theirs cached
    pub hit_rate: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PlacementRow {
    pub stage: &'static str,
    pub pool: String,
    pub chip: String,
    /// chips this stage occupies (0 when it shares another stage's chips)
    pub chips: u64,
    pub tp: u64,
    pub ep: u64,
    /// stages of a layer pipeline (`decode.layers`, or a prefill pipeline: one row per
    /// stage, `chips` that stage's chips over every replica), or the groups an FFN's
    /// layers spread over (`decode.ffn`: `chips` = `pp` groups of `tp`·`ep` chips)
    pub pp: u64,
    /// attention data-parallel groups (each of `tp` chips)
    pub dp: u64,
    pub microbatches: u64,
    /// independent copies (prefill replicas)
    pub replicas: u64,
    /// the stage whose chips this one runs on, if colocated
    pub shares_chips_with: Option<&'static str>,
    /// a layer pipeline's stage (decode or prefill): its layers `[first, end)` (absent
    /// otherwise)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<[u64; 2]>,
    /// a prefill pipeline's stage whose prompt passes in chunks: how many (absent
    /// otherwise)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    /// decode attention that splits each sequence's KV cache by context as well as by
    /// heads, or prefill that splits each prompt by context over groups of `tp` chips:
    /// the ways (absent otherwise; docs/cost-model.md §4f, §14b)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cp: Option<u64>,
    /// an MoE FFN whose `ep` chips do not divide the experts: the expert slots each chip
    /// holds (`⌈E/ep⌉`) and how many of all the slots hold redundant copies (absent
    /// otherwise; docs/cost-model.md §4d)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expert_slots: Option<[u64; 2]>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Metrics {
    pub ttft_s: f64,
    pub tpot_s: f64,
    pub tokens_per_s_per_user: f64,
    pub throughput_tokens_per_s: f64,
    pub throughput_per_chip: f64,
    pub chips: u64,
    /// of `chips`, the decode side's (prefill chips of their own not counted; with
    /// aggregated serving, all of them)
    pub decode_chips: u64,
    /// throughput over the decode side's chips
    pub decode_throughput_per_chip: f64,
    pub cost_per_hour_usd: Option<f64>,
    pub cost_per_mtok_usd: Option<f64>,
    pub power_w: Option<f64>,
    pub tokens_per_s_per_mw: Option<f64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct MemoryRow {
    pub stage: &'static str,
    pub pool: String,
    pub tier: String,
    /// per chip
    pub used_bytes: f64,
    /// per chip
    pub capacity_bytes: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub decode_step_s: StepBreakdown,
    pub prefill_s: f64,
    pub kv_transfer_s: f64,
    /// the serving engine's latency to a request's first token beyond the chips' steps
    /// (docs/cost-model.md §11; only where the plan names a framework that has one): part
    /// of TTFT beside the prefill and the KV transfer
    #[serde(skip_serializing_if = "is_zero")]
    pub engine_first_token_s: f64,
    /// of `prefill_s`, what the chip's measured op tables priced (the rest: roofline,
    /// all-reduces, fixed costs)
    pub prefill_from_tables_s: f64,
    /// some op-table lookup of the decode step or the prefill left the measured range
    /// (its time was scaled from the largest measured shape: docs/op-tables.md)
    pub extrapolated: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct StepBreakdown {
    pub attn: f64,
    pub ffn: f64,
    pub comm: f64,
    pub other: f64,
    pub allreduce: f64,
    pub crossing: f64,
    /// fixed per-step overhead
    pub overhead: f64,
    /// time hidden by overlapping microbatches: attn + ffn + comm + other + overhead + draft - overlap = TPOT
    pub overlap: f64,
    /// drafting (speculative decoding); with speculation every part is per generated token
    pub draft: f64,
    /// aggregated serving: the prefill chunks a step carries on average
    /// (attn + ffn + comm + other + overhead + draft + prefill - overlap = TPOT)
    pub prefill: f64,
    /// of attn + ffn + other, what the chips' measured op tables priced (the rest: roofline)
    pub from_tables: f64,
}

impl StepBreakdown {
    /// The step's parts as the reports name them, in order: `(label, key, seconds)`;
    /// they sum to TPOT + `overlap`. The FFN's collectives are all-reduces, or with
    /// data-parallel attention (`dp_attention`) all-gathers and reduce-scatters, or MoE
    /// dispatch and combine.
    pub fn parts(&self, dp_attention: bool) -> [(&'static str, &'static str, f64); 8] {
        [
            ("attention", "attn", self.attn),
            ("FFN", "ffn", self.ffn),
            (if dp_attention { "collectives" } else { "all-reduce" }, "allreduce", self.allreduce),
            ("crossings", "crossing", self.crossing),
            ("embed+LM head", "other", self.other),
            ("drafting", "draft", self.draft),
            ("overhead", "overhead", self.overhead),
            ("prefill chunks", "prefill", self.prefill),
        ]
    }
}

impl PlanReport {
    /// Whether decode attention runs as data-parallel groups (the FFN's collectives are
    /// then not all-reduces).
    pub fn dp_attention(&self) -> bool {
        self.placement.iter().any(|x| x.stage == "decode.attn" && x.dp > 1)
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SolverReport {
    pub backend: &'static str,
    pub variables: usize,
    pub constraints: usize,
    pub solves: usize,
    pub batches: usize,
    pub proven_optimal: bool,
    /// "optimal", or "time_limit" when a solve stopped at the plan's `time_limit`
    pub status: &'static str,
    /// the largest relative gap of a stopped solve to its proven bound (0 when optimal;
    /// null when no bound was proven)
    pub gap: Option<f64>,
    pub time_limit_s: f64,
    pub solve_s: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FrontierPoint {
    pub concurrency: u64,
    pub tokens_per_s_per_user: f64,
    pub throughput_per_chip: f64,
    pub cost_per_mtok_usd: Option<f64>,
    pub tokens_per_s_per_mw: Option<f64>,
    /// no other point has at least as many tokens/s/user and tokens/s per chip (and more of one)
    pub pareto_per_chip: bool,
    /// the same against tokens per dollar (false without prices)
    pub pareto_per_dollar: bool,
    /// the same against tokens/s per MW (false without powers)
    pub pareto_per_mw: bool,
    /// in a sweep over the SLO: the `tokens_per_s_per_user >=` value this point was solved at
    pub slo_tokens_per_s_per_user: Option<f64>,
    /// in a sweep over a figure of a chip or link: its value here (SI units; the sweep's
    /// `unit`)
    pub figure_value: Option<f64>,
    /// the point's placement in one line (what report.html shows on hover)
    pub placement: String,
    pub chips: u64,
    pub ttft_s: f64,
    /// in a sweep of a plan with uncertain inputs: each plotted metric's least and
    /// greatest at this point's sweep value over the nominal and every input at either
    /// end of its range (docs/uncertainty.md, "The frontier's bands")
    pub band: Option<uncertainty::FrontierBand>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SweepReport {
    /// "concurrency", "tokens_per_s_per_user", or a figure (`lp30.layer_overhead`)
    pub variable: String,
    /// the variable's SI unit: empty for a concurrency and a fraction, `tok/s`, or the
    /// figure's (`s`, `$/s`, `W`, `B/s`, `FLOP/s`)
    pub unit: &'static str,
    /// how many values were solved
    pub values: usize,
    /// how many had a feasible placement (the frontier's points)
    pub feasible: usize,
    /// the values with none
    pub infeasible: Vec<f64>,
    /// the values where the solver failed (neither feasible nor proven infeasible), with
    /// its reason
    pub failed: Vec<SweepFailure>,
    /// of the values with none, those that have a feasible point with some uncertain
    /// input at an end of its range (docs/uncertainty.md, "The frontier's bands")
    pub feasible_inside_ranges: Vec<uncertainty::ReachedInside>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SweepFailure {
    pub value: f64,
    pub reason: String,
}

fn model_report(plan: &Plan) -> ModelReport {
    let m = &plan.model;
    ModelReport {
        name: m.name.clone(),
        params: m.params(),
        active_params: m.active_params(),
        weight_bytes: m.weight_bytes(),
        kv_bytes_per_token: m.kv_bytes_per_token(),
        weights: m.weights.name(),
        unquantized: m.unquantized_apart().map(|u| u.name()),
        kv: m.kv.name(),
        variants: (m.variants > 1).then_some(m.variants),
    }
}

/// The metrics of one point of the space. Cost and power are summed per pool
/// (price or power × chips on it) and reported only when every chip in use declares one.
pub fn metrics(plan: &Plan, p: &Point) -> Metrics {
    let inst = &p.instance;
    let d = p.decode();
    let pre = p.prefill();
    let chips = inst.chips(p.choice);
    let decode_chips: u64 = d.chips.iter().sum();
    let tput = inst.throughput(p.choice.decode);
    let pools = &plan.cluster.pools;
    let mut per_pool = vec![0u64; pools.len()];
    for (i, n) in d.chips.iter().enumerate() {
        per_pool[i] += n;
    }
    per_pool[pre.pool] += p.choice.replicas * pre.chips();
    let sum_opt = |f: &dyn Fn(usize) -> Option<f64>| -> Option<f64> {
        let mut total = 0.0;
        for (i, n) in per_pool.iter().enumerate() {
            if *n > 0 {
                total += f(i)? * *n as f64;
            }
        }
        Some(total)
    };
    let usd_per_s = sum_opt(&|i| pools[i].chip.price);
    let power = sum_opt(&|i| pools[i].chip.deployed_power());
    Metrics {
        ttft_s: inst.pair_ttft(d, pre).unwrap_or(f64::NAN),
        tpot_s: d.tpot,
        tokens_per_s_per_user: 1.0 / d.tpot,
        throughput_tokens_per_s: tput,
        throughput_per_chip: tput / chips as f64,
        chips,
        decode_chips,
        decode_throughput_per_chip: tput / decode_chips as f64,
        cost_per_hour_usd: usd_per_s.map(|u| u * 3600.0),
        cost_per_mtok_usd: usd_per_s.map(|u| crate::cost::usd_per_mtok(u, tput)),
        power_w: power,
        tokens_per_s_per_mw: power.map(|w| tput / (w / 1e6)),
    }
}

pub fn placement(plan: &Plan, p: &Point) -> Vec<PlacementRow> {
    let d: &DecodeOption = p.decode();
    let pre = p.prefill();
    let pools = &plan.cluster.pools;
    // An MoE FFN (`ffn`: how its experts divide) spreads whole experts over its chips
    // (expert parallelism) or splits each by width (tensor parallelism, §4h); a dense one
    // splits its matrices (tensor parallelism).
    let whole = |ffn: Option<crate::cost::MoeSplit>| plan.model.moe.is_some() && ffn == Some(crate::cost::MoeSplit::Experts);
    let row = |stage, pool: usize, chips, n: u64, ffn: Option<crate::cost::MoeSplit>, mb: u64, replicas, shares| PlacementRow {
        stage,
        pool: pools[pool].name.clone(),
        chip: pools[pool].chip.name.clone(),
        chips,
        tp: if whole(ffn) { 1 } else { n },
        ep: if whole(ffn) { n } else { 1 },
        pp: 1,
        dp: 1,
        microbatches: mb,
        replicas,
        shares_chips_with: shares,
        layers: None,
        chunks: None,
        cp: None,
        expert_slots: Some([plan.model.expert_slots(n), plan.model.redundant_experts(n)]).filter(|[_, extra]| whole(ffn) && *extra > 0),
    };
    let mb = d.microbatches();
    let (attn_pool, attn_tp, _) = d.attention();
    let mut rows = if pre.aggregated {
        // aggregated serving: inside the decode steps, on the decode chips
        vec![row("prefill", attn_pool, 0, attn_tp, None, 1, 1, Some("decode.attn"))]
    } else {
        // a group of `tp` chips per replica (`cp` of them splitting a prompt by context);
        // a prefill pipeline, one such row per stage
        let chips = pre.tp * pre.cp * p.choice.replicas;
        let own = PlacementRow {
            cp: (pre.cp > 1).then_some(pre.cp),
            ..row("prefill", pre.pool, chips, pre.tp, None, 1, p.choice.replicas, None)
        };
        match pre.stages.as_slice() {
            [] => vec![own],
            stages => stages
                .iter()
                .map(|st| PlacementRow {
                    pp: pre.pp,
                    layers: Some([st.first, st.end]),
                    chunks: (pre.chunks() > 1).then_some(pre.chunks()),
                    ..own.clone()
                })
                .collect(),
        }
    };
    match &d.target().layout {
        Layout::Colocated(c) => {
            let cp = (c.cp > 1).then_some(c.cp);
            rows.push(PlacementRow { dp: c.dp, cp, ..row("decode.attn", c.pool, c.tp * c.dp, c.tp, None, mb, 1, None) });
            // over every attention chip (all data-parallel groups)
            rows.push(row("decode.ffn", c.pool, 0, c.tp * c.dp, Some(c.experts), mb, 1, Some("decode.attn")));
        }
        Layout::PingPong(pp) => {
            let (a, ta) = pp.attn;
            rows.push(PlacementRow { dp: pp.dp, ..row("decode.attn", a, ta * pp.dp, ta, None, mb, 1, None) });
            // its layers over `groups` groups of `t` chips: a pipeline of FFN groups
            let (f, t) = pp.ffn;
            rows.push(PlacementRow { pp: pp.groups, ..row("decode.ffn", f, t * pp.groups, t, Some(pp.experts), mb, 1, None) });
        }
        // A layer pipeline: one row per stage, attention and FFN together.
        Layout::Pipeline(pl) => {
            for st in &pl.stages {
                let mut r = row("decode.layers", st.pool, st.tp, st.tp, None, mb, 1, None);
                r.pp = pl.stages.len() as u64;
                r.layers = Some([st.first, st.end]);
                rows.push(r);
            }
        }
        // `target` is the step the target model runs, never a speculative round
        Layout::Speculative(_) => {}
    }
    if let Some((dp, dt)) = d.draft() {
        let mut r = row("draft", dp, dt, dt, None, 1, 1, None);
        r.chip = pools[dp].chip.name.clone();
        rows.push(r);
    }
    rows
}

/// The bottleneck of the decode step, in words: the busiest track of the step's
/// schedule (the pool or link that bounds the steady-state step, overlap included), the
/// work that keeps it busy, and the shares of the step's work before overlap.
pub fn bottleneck(d: &DecodeOption, step: &crate::schedule::Timeline) -> String {
    use crate::schedule::Work;
    let b = &d.breakdown;
    // Shares of the work, before microbatch overlap hides some of it.
    let total = b.attn + b.other + b.ffn + b.allreduce + b.crossing + b.overhead + b.draft + b.prefill;
    let pct = |x: f64| (100.0 * x / total).round() as u64;
    let attn = b.attn + b.other;
    let comm = b.allreduce + b.crossing;
    let attn_memory = b.attn_memory_bound >= 0.5 * attn;
    let ffn_memory = b.ffn_memory_bound >= 0.5 * b.ffn;
    let kind = |memory: bool| if memory { "memory-bound" } else { "compute-bound" };
    let mut parts = [
        (attn, format!("attention side {}% ({})", pct(attn), kind(attn_memory))),
        (b.ffn, format!("FFN {}% ({})", pct(b.ffn), kind(ffn_memory))),
        (comm, format!("communication {}%", pct(comm))),
        (b.draft, format!("drafting {}%", pct(b.draft))),
        (b.prefill, format!("prefill chunks {}%", pct(b.prefill))),
        (b.overhead, format!("fixed costs {}%", pct(b.overhead))),
    ];
    parts.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let shares = parts.iter().filter(|p| p.0 > 0.0).map(|p| p.1.clone()).collect::<Vec<_>>().join(", ");
    // The busiest track bounds the step; the work that takes most of its time names it.
    let busiest = (0..step.tracks.len()).map(|k| (k, step.busy(k))).max_by(|x, y| x.1.total_cmp(&y.1));
    let Some((track, busy)) = busiest else { return shares };
    let mut by_work: std::collections::BTreeMap<Work, f64> = std::collections::BTreeMap::new();
    for op in step.ops.iter().filter(|o| o.track == track) {
        // the embedding and LM head count with the attention side
        let work = if op.work == Work::Head { Work::Attention } else { op.work };
        *by_work.entry(work).or_default() += op.dur;
    }
    let work = by_work.into_iter().max_by(|x, y| x.1.total_cmp(&y.1)).map_or(Work::Attention, |w| w.0);
    let lead = match work {
        Work::Attention | Work::Head if attn_memory => "decode attention, reading the KV cache and attention weights",
        Work::Attention | Work::Head => "decode attention compute",
        Work::Ffn if ffn_memory => "the FFN, reading its weights",
        Work::Ffn => "FFN compute",
        // data-parallel attention: the FFN's all-gathers and reduce-scatters, or MoE
        // dispatch and combine
        Work::Collective if d.attention().2 > 1 => "collectives (the groups' all-reduces, the FFN's gathers or expert all-to-alls)",
        // a cache split by context also combines the partial attention outputs (§4f)
        Work::Collective if d.context_split() > 1 => "tensor-parallel all-reduces and the KV split's combines",
        Work::Collective => "tensor-parallel all-reduces",
        Work::Crossing if d.stages().is_empty() => "attention<->FFN crossings between pools",
        Work::Crossing => "activations passed between pipeline stages",
        Work::Draft => "the draft model's steps",
        Work::Prefill => "the prefill chunks of arriving prompts",
        Work::Stage => "the pipeline's busiest stage",
        Work::Overhead => "fixed costs per step and per sequence",
    };
    // variants served in turn: the timeline shows one step of each size, not the round
    let period = if d.turns.is_some() { step.makespan } else { step.reported }.max(f64::MIN_POSITIVE);
    let share = (100.0 * busy / period).round().min(100.0);
    format!("{lead} on {}, busy {share:.0}% of each step: {shares}", step.tracks[track].name)
}

/// Which of `pts` no other point dominates: at least as good on both coordinates and
/// better on one (both maximised). Points without a coordinate are not on it.
fn pareto(pts: &[(f64, Option<f64>)]) -> Vec<bool> {
    pts.iter()
        .map(|&(ax, ay)| {
            let Some(ay) = ay else { return false };
            !pts.iter().any(|&(bx, by)| by.is_some_and(|by| bx >= ax && by >= ay && (bx > ax || by > ay)))
        })
        .collect()
}

/// The best point at every value of the plan's sweep, or without one at every
/// concurrency the solver tried, each marked where it is Pareto-optimal: tokens/s/user
/// against tokens/s per chip, per dollar and per MW.
pub fn frontier(plan: &Plan, solved: &Solved) -> Vec<FrontierPoint> {
    use crate::ir::SweepOver;
    // each point, the SLO or figure value it was solved at, and the plan it was solved
    // for (a figure's sweep: the plan with the figure at that value, which prices it)
    type Source<'a> = (&'a Point, Option<f64>, Option<f64>, std::borrow::Cow<'a, Plan>);
    let source: Vec<Source> = match &solved.sweep {
        Some((over, pts)) => pts
            .iter()
            .filter_map(|x| {
                let p = x.point.as_ref()?;
                Some(match over {
                    SweepOver::TokensPerSUser(_) => (p, Some(x.value), None, std::borrow::Cow::Borrowed(plan)),
                    SweepOver::Figure(input, _) => (p, None, Some(x.value), std::borrow::Cow::Owned(plan.with_input(input, x.value))),
                    SweepOver::Concurrency(_) => (p, None, None, std::borrow::Cow::Borrowed(plan)),
                })
            })
            .collect(),
        None => solved.per_batch.iter().map(|p| (p, None, None, std::borrow::Cow::Borrowed(plan))).collect(),
    };
    let mut pts: Vec<FrontierPoint> = source
        .into_iter()
        .map(|(p, slo, figure_value, plan)| {
            let plan = plan.as_ref();
            let m = metrics(plan, p);
            FrontierPoint {
                concurrency: p.instance.batch,
                tokens_per_s_per_user: m.tokens_per_s_per_user,
                throughput_per_chip: m.throughput_per_chip,
                cost_per_mtok_usd: m.cost_per_mtok_usd,
                tokens_per_s_per_mw: m.tokens_per_s_per_mw,
                pareto_per_chip: false,
                pareto_per_dollar: false,
                pareto_per_mw: false,
                slo_tokens_per_s_per_user: slo,
                figure_value,
                placement: placement_brief(&placement(plan, p)),
                chips: m.chips,
                ttft_s: m.ttft_s,
                band: None,
            }
        })
        .collect();
    let axis = |f: &dyn Fn(&FrontierPoint) -> Option<f64>| pareto(&pts.iter().map(|p| (p.tokens_per_s_per_user, f(p))).collect::<Vec<_>>());
    let chip = axis(&|p| Some(p.throughput_per_chip));
    let dollar = axis(&|p| p.cost_per_mtok_usd.filter(|c| *c > 0.0).map(|c| 1.0 / c));
    let mw = axis(&|p| p.tokens_per_s_per_mw);
    for (i, p) in pts.iter_mut().enumerate() {
        (p.pareto_per_chip, p.pareto_per_dollar, p.pareto_per_mw) = (chip[i], dollar[i], mw[i]);
    }
    pts
}

/// A plan's report from its solution and that solution's schedule (both computed by the
/// compilation, `Compilation::plan_report`; the report only formats them), or from
/// nothing when the plan was not solved.
pub fn plan_report(plan: &Plan, solution: Option<(&Solved, &crate::schedule::Schedule)>) -> PlanReport {
    let solved = solution.map(|(s, _)| s);
    let workload = WorkloadReport {
        name: plan.workload.name.clone(),
        input_tokens: plan.workload.input_tokens,
        output_tokens: plan.workload.output_tokens,
        concurrency: solved.map(|s| s.best.instance.batch),
        concurrency_range: [plan.workload.concurrency.0, plan.workload.concurrency.1],
        prefix: plan.workload.prefix.map(|p| PrefixReport { tokens: p.tokens, distinct: p.distinct, hit_rate: p.hit }),
    };
    let Some((s, schedule)) = solution else {
        return PlanReport {
            name: plan.name.clone(),
            status: "infeasible",
            objective: ObjectiveReport { kind: plan.objective.name(), direction: plan.objective.direction(), value: None },
            model: model_report(plan),
            workload,
            placement: vec![],
            metrics: None,
            memory: vec![],
            breakdown: None,
            bottleneck: None,
            solver: None,
            frontier: vec![],
            speculation: speculation_report(plan),
            runner_up: None,
            serving: None,
            schedule: None,
            sweep: None,
            served: None,
            uncertainty: None,
            timelines: None,
        };
    };
    let p = &s.best;
    let m = metrics(plan, p);
    let d = p.decode();
    let pre = p.prefill();
    let value = objective_value(plan, &m);
    let memory = pre
        .memory
        .iter()
        .chain(d.memory.iter())
        .map(|u| MemoryRow {
            stage: u.stage.name(),
            pool: plan.cluster.pools[u.pool].name.clone(),
            tier: u.tier.to_string(),
            used_bytes: u.used,
            capacity_bytes: u.capacity,
        })
        .collect();
    let b = &d.breakdown;
    let ttft = p.instance.pair_ttft(d, pre).unwrap_or(f64::NAN);
    // aggregated serving: the prompt's chunk steps, and no KV transfer; TTFT also holds
    // the engine's first-token latency
    let (prefill_s, kv_transfer_s, engine_first_token_s, prefill_tables) = match &d.aggregated {
        Some(a) => (a.prompt, 0.0, a.first_token, a.from_tables),
        None => (pre.time, ttft - pre.time - pre.first_token, pre.first_token, pre.from_tables),
    };
    let timelines = schedule.clone();
    let proven = s.per_batch.iter().all(|x| x.stats.proven);
    PlanReport {
        name: plan.name.clone(),
        status: if proven { "optimal" } else { "feasible" },
        objective: ObjectiveReport { kind: plan.objective.name(), direction: plan.objective.direction(), value },
        model: model_report(plan),
        workload,
        placement: placement(plan, p),
        metrics: Some(m),
        memory,
        breakdown: Some(Breakdown {
            decode_step_s: StepBreakdown {
                attn: b.attn,
                ffn: b.ffn,
                comm: b.allreduce + b.crossing,
                other: b.other,
                allreduce: b.allreduce,
                crossing: b.crossing,
                overhead: b.overhead,
                overlap: b.overlap,
                draft: b.draft,
                prefill: b.prefill,
                from_tables: b.from_tables,
            },
            prefill_s,
            kv_transfer_s,
            engine_first_token_s,
            prefill_from_tables_s: prefill_tables,
            extrapolated: p.instance.extrapolated(p.choice),
        }),
        bottleneck: Some(bottleneck(d, &timelines.decode)),
        solver: Some(SolverReport {
            backend: s.backend,
            variables: s.per_batch.iter().map(|x| x.stats.variables).max().unwrap_or(0),
            constraints: s.per_batch.iter().map(|x| x.stats.constraints).max().unwrap_or(0),
            solves: s.per_batch.iter().map(|x| x.stats.solves).sum(),
            batches: s.per_batch.len(),
            proven_optimal: proven,
            status: if proven { "optimal" } else { "time_limit" },
            gap: crate::solve::worst_gap(&s.per_batch),
            time_limit_s: plan.time_limit,
            solve_s: s.solve_s,
        }),
        frontier: frontier(plan, s),
        speculation: speculation_report(plan),
        runner_up: s.runner_up.as_ref().map(|r| runner_up_report(plan, p, r)),
        serving: Some(serving_report(plan, s)),
        schedule: Some(ScheduleReport { decode: timeline_report(&timelines.decode), prefill: timeline_report(&timelines.prefill) }),
        sweep: s.sweep.as_ref().map(|(over, pts)| SweepReport {
            variable: over.name(),
            unit: over.unit(),
            values: pts.len(),
            feasible: pts.iter().filter(|x| x.point.is_some()).count(),
            infeasible: pts.iter().filter(|x| x.point.is_none() && x.failed.is_none()).map(|x| x.value).collect(),
            failed: pts
                .iter()
                .filter_map(|x| x.failed.as_ref().map(|reason| SweepFailure { value: x.value, reason: reason.clone() }))
                .collect(),
            feasible_inside_ranges: vec![],
        }),
        served: None,
        uncertainty: None,
        timelines: Some(timelines),
    }
}

/// The objective's value of a point, in the objective's unit.
pub fn objective_value(plan: &Plan, m: &Metrics) -> Option<f64> {
    match plan.objective {
        Objective::CostPerMtok => m.cost_per_mtok_usd,
        Objective::ThroughputPerDollar => m.cost_per_hour_usd.map(|c| m.throughput_tokens_per_s / (c / 3600.0)),
        Objective::Tpot => Some(m.tpot_s),
        Objective::Ttft => Some(m.ttft_s),
        Objective::Chips => Some(m.chips as f64),
        Objective::Power => m.power_w,
        Objective::ThroughputPerChip => Some(m.throughput_per_chip),
        Objective::DecodeThroughputPerChip => Some(m.decode_throughput_per_chip),
        Objective::TokensPerMw => m.tokens_per_s_per_mw,
        // the simulation's, not the analytical metrics' (set from `served`)
        Objective::Goodput => None,
    }
}

/// A placement row's `expert_slots` in words: "4 expert slots per chip, 32 redundant".
pub fn expert_slots_words([slots, redundant]: [u64; 2]) -> String {
    format!("{slots} expert slots per chip, {redundant} redundant")
}

/// A placement table in one line, every stage with its chips and parallel degrees
/// (degrees of 1 left out): "prefill 4 × rubin on gpu (4 replicas); decode.attn 8 ×
/// rubin on gpu (dp 8); decode.ffn on decode.attn's chips (tp 8)".
pub fn placement_brief(rows: &[PlacementRow]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|r| {
            let degrees: Vec<String> =
                [("tp", r.tp), ("ep", r.ep), ("pp", r.pp), ("dp", r.dp), ("microbatches", r.microbatches), ("replicas", r.replicas)]
                    .iter()
                    .filter(|(_, n)| *n > 1)
                    .map(|(what, n)| if *what == "replicas" { format!("{n} replicas") } else { format!("{what} {n}") })
                    .chain(r.cp.map(|n| format!("cp {n}")))
                    .chain(r.expert_slots.map(expert_slots_words))
                    .chain(r.layers.map(|[a, b]| format!("layers {a}..{b}")))
                    .collect();
            let degrees = if degrees.is_empty() { String::new() } else { format!(" ({})", degrees.join(", ")) };
            match r.shares_chips_with {
                Some(other) => format!("{} on {other}'s chips{degrees}", r.stage),
                None => format!("{} {} × {} on {}{degrees}", r.stage, r.chips, r.chip, r.pool),
            }
        })
        .collect();
    parts.join("; ")
}

/// "prefill on gpu, decode.attn on gpu, decode.ffn on lpu (2 microbatches)"
pub fn describe_placement(plan: &Plan, p: &Point) -> String {
    let d = p.decode();
    let pool = |i: usize| plan.cluster.pools[i].name.as_str();
    let pre = p.prefill();
    let mut parts = vec![if pre.aggregated {
        format!("prefill inside the decode steps on {} (aggregated)", pool(pre.pool))
    } else if pre.pp > 1 && pre.chunks() > 1 {
        format!("prefill on {} (a pipeline of {} stages, the prompt in {} chunks)", pool(pre.pool), pre.pp, pre.chunks())
    } else if pre.pp > 1 {
        format!("prefill on {} (a pipeline of {} stages)", pool(pre.pool), pre.pp)
    } else if pre.cp > 1 {
        format!("prefill on {} (each prompt split {} ways by context)", pool(pre.pool), pre.cp)
    } else {
        format!("prefill on {}", pool(pre.pool))
    }];
    // the attention pool, and its data-parallel groups when more than one
    let attn = |p: usize, dp: u64| match dp {
        1 => format!("decode.attn on {}", pool(p)),
        dp => format!("decode.attn on {} ({dp} data-parallel groups)", pool(p)),
    };
    // an MoE FFN whose experts each split by width over `n` chips (§4h)
    let by_width = |experts, n: u64| {
        (plan.model.moe.is_some() && experts == crate::cost::MoeSplit::Width).then(|| format!("each expert split {n} ways by width"))
    };
    match &d.target().layout {
        Layout::Colocated(c) => {
            parts.push(match c.cp {
                1 => attn(c.pool, c.dp),
                cp => format!("{} (each sequence's KV cache split {cp} ways by context)", attn(c.pool, c.dp)),
            });
            // the FFN's chips over several nodes of a pool of nodes (docs/cost-model.md §4g),
            // an MoE's experts each split by width over them (§4h)
            let pa = &plan.cluster.pools[c.pool];
            let mut how = Vec::new();
            if let Some(s) = pa.scale_out.as_ref().filter(|s| c.tp * c.dp > s.node) {
                how.push(format!("over {} nodes, joined by {}", (c.tp * c.dp).div_ceil(s.node), s.link.name));
            }
            how.extend(by_width(c.experts, c.tp * c.dp));
            parts.push(match how.is_empty() {
                true => "decode.ffn with attention".to_string(),
                false => format!("decode.ffn with attention ({})", how.join("; ")),
            });
        }
        Layout::PingPong(pp) => {
            parts.push(attn(pp.attn.0, pp.dp));
            let mut how = Vec::new();
            if pp.groups > 1 {
                how.push(format!("its layers over {} groups", pp.groups));
            }
            if pp.microbatches > 1 {
                how.push(format!("{} microbatches", pp.microbatches));
            }
            how.extend(by_width(pp.experts, pp.ffn.1));
            parts.push(match how.is_empty() {
                true => format!("decode.ffn on {}", pool(pp.ffn.0)),
                false => format!("decode.ffn on {} ({})", pool(pp.ffn.0), how.join(", ")),
            });
        }
        Layout::Pipeline(pl) => {
            let stages: Vec<String> = pl.stages.iter().map(|s| format!("{} {}..{}", pool(s.pool), s.first, s.end)).collect();
            parts.push(format!("decode.layers as a pipeline: {}", stages.join(", ")));
        }
        // `target` is the step the target model runs, never a speculative round
        Layout::Speculative(_) => {}
    }
    if let Some((dp, _)) = d.draft() {
        parts.push(format!("draft on {}", pool(dp)));
    }
    parts.join(", ")
}

fn runner_up_report(plan: &Plan, best: &Point, r: &Point) -> RunnerUpReport {
    let goal = crate::solve::goal(plan);
    let (b, v) = (crate::solve::key(best, goal).0, crate::solve::key(r, goal).0);
    RunnerUpReport {
        placement: describe_placement(plan, r),
        concurrency: r.instance.batch,
        objective_value: objective_value(plan, &metrics(plan, r)),
        margin: if b.abs() > 0.0 { (v - b) / b.abs() } else { 0.0 },
    }
}

/// Which way the winner serves, and why: what the plan allows, and how the best
/// placement serving the other way compares.
fn serving_report(plan: &Plan, s: &Solved) -> ServingReport {
    let p = &s.best;
    let d = p.decode();
    let aggregated = d.aggregated.as_ref();
    let mode = if aggregated.is_some() { "aggregated" } else { "disaggregated" };
    let other = if aggregated.is_some() { "disaggregated" } else { "aggregated" };
    let allowed = match plan.serving {
        crate::ir::Serving::Auto => "auto",
        crate::ir::Serving::Aggregated => "aggregated",
        crate::ir::Serving::Disaggregated => "disaggregated",
    };
    let alternative = s.other_serving.as_ref().map(|r| runner_up_report(plan, p, r));
    let share = aggregated.map(|_| d.breakdown.prefill / d.tpot);
    let what = match (aggregated, share) {
        (Some(a), Some(x)) => format!(
            "prompts ride in the decode steps ({} step{} of up to {} tokens each; on average {:.0}% of a step is prefill)",
            a.steps.steps,
            if a.steps.steps == 1 { "" } else { "s" },
            a.chunk_tokens,
            100.0 * x
        ),
        _ => "prefill runs on chips of its own and moves the KV cache to decode".to_string(),
    };
    let why = match (&alternative, plan.serving) {
        (Some(alt), _) => {
            // goodput is simulated for the candidates only; the other way of serving is
            // compared on the analytical measure they are chosen by
            let measure = if plan.objective == Objective::Goodput {
                "throughput per chip (the analytical measure goodput's candidates are chosen by)"
            } else {
                plan.objective.name()
            };
            let word = if alt.margin >= 0.0 { "worse" } else { "better" };
            format!("the best {other} placement is {:.1}% {word} on {measure}", 100.0 * alt.margin.abs())
        }
        (None, crate::ir::Serving::Auto) if crate::solve::space::aggregated_pools(plan).is_empty() => {
            if plan.speculation.is_some() {
                "aggregated serving is not considered with speculative decoding (the draft runs on chips of its own)".to_string()
            } else {
                "no pool may take prefill, decode.attn and decode.ffn together, so aggregated serving is not possible".to_string()
            }
        }
        (None, crate::ir::Serving::Auto) => format!("no {other} placement is feasible"),
        (None, _) => format!("the plan says `serving = {allowed}`"),
    };
    ServingReport {
        mode,
        allowed,
        chunk_tokens: aggregated.map(|a| a.chunk_tokens),
        prompt_steps: aggregated.map(|a| a.steps.steps),
        prompts_per_step: aggregated.map(|a| a.per_step),
        prefill_share: share,
        alternative,
        reason: format!("{mode}: {what}; {why}"),
    }
}

fn speculation_report(plan: &Plan) -> Option<SpeculationReport> {
    plan.speculation.as_ref().map(|s| SpeculationReport {
        draft_model: s.draft.name.clone(),
        lookahead: s.lookahead,
        acceptance: s.acceptance,
        expected_tokens_per_step: crate::cost::expected_tokens_per_step(s.lookahead, s.acceptance),
    })
}

#[cfg(test)]
mod pareto_tests {
    #[test]
    fn dominated_and_missing_points_are_off_the_frontier() {
        // (tokens/s/user, throughput): (10, 1) and (5, 5) trade off; (4, 4) is dominated
        // by (5, 5); a tie is not domination; a missing coordinate is never on it.
        let pts = [(10.0, Some(1.0)), (5.0, Some(5.0)), (4.0, Some(4.0)), (5.0, Some(5.0)), (1.0, None)];
        assert_eq!(super::pareto(&pts), vec![true, true, false, true, false]);
    }
}
