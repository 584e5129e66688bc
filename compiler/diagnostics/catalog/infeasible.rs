//! The words of an infeasible plan's diagnostics (E0401, E0402, E0406): the solve phase
//! says what it found as data (which constraint, which limit, which placement, where a
//! decode step's time goes), and these constructors put it into sentences. Quantities
//! arrive formatted (`12.3 ms`, `8 chips`, `$3.00/h`): they are values, not prose.

use super::{make, model_does_not_fit_alone, Footprint};
use crate::diagnostics::Diagnostic;
use crate::source::Span;

/// A constraint the cheapest relaxation loosens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Constraint<'a> {
    /// the mean TPOT bound (`tpot <= 20 ms`)
    Tpot,
    /// its inverse, `tokens_per_s_per_user >= 50 tok/s`
    TokensPerUser,
    /// the mean TTFT bound
    Ttft,
    /// the chips of the pool of this name
    Pool(&'a str),
    CostBudget,
    ChipsBudget,
    PowerBudget,
}

impl Constraint<'_> {
    fn name(&self) -> String {
        match self {
            Constraint::Tpot => "tpot".into(),
            Constraint::TokensPerUser => "tokens_per_s_per_user".into(),
            Constraint::Ttft => "ttft".into(),
            Constraint::Pool(p) => format!("pool `{p}`"),
            Constraint::CostBudget => "the cost budget".into(),
            Constraint::ChipsBudget => "the chips budget".into(),
            Constraint::PowerBudget => "the power budget".into(),
        }
    }

    /// an SLO's comparison (`None`: a pool or a budget, stated as a quantity)
    fn op(&self) -> Option<&'static str> {
        match self {
            Constraint::TokensPerUser => Some(">="),
            Constraint::Tpot | Constraint::Ttft => Some("<="),
            _ => None,
        }
    }

    /// the limit as the plan states it: an SLO with its comparison, else the quantity
    fn target(&self, limit: &str) -> String {
        match self.op() {
            Some(op) => format!("{op} {limit}"),
            None => limit.to_string(),
        }
    }
}

/// One loosened constraint: where it is declared, its limit and what the cheapest
/// relaxation needs instead, and by how much (percent; negative when an SLO's
/// minimum moves down).
#[derive(Clone, Debug, PartialEq)]
pub struct Relaxed<'a> {
    pub span: Span,
    pub constraint: Constraint<'a>,
    pub limit: String,
    pub needed: String,
    pub pct: f64,
}

impl Relaxed<'_> {
    fn reason(&self) -> String {
        let (what, target, best, pct) = (self.constraint.name(), self.constraint.target(&self.limit), &self.needed, self.pct);
        match (self.constraint.op(), self.constraint) {
            (Some(op), _) => format!("`{what} {target}` must become `{what} {op} {best}` ({pct:+.0}%)"),
            (None, Constraint::Pool(_)) => format!("{what} needs {best}, not {target} (+{pct:.0}%)"),
            (None, _) => format!("{what} must allow {best}, not {target} (+{pct:.0}%)"),
        }
    }
}

/// How a stage is laid out, for a placement in words.
#[derive(Clone, Debug, PartialEq)]
pub enum DecodeLayout<'a> {
    /// attention on `pool` in `dp` groups of `tp` chips, the FFN beside it or on a
    /// pool of its own with its chips, its layers over that many groups of them
    Groups { pool: &'a str, tp: u64, dp: u64, ffn: Option<(&'a str, u64, u64)> },
    /// a layer pipeline: (first layer, end, pool, chips) per stage
    Pipeline(Vec<(u64, u64, &'a str, u64)>),
}

/// Where prefill runs in a placement.
#[derive(Clone, Debug, PartialEq)]
pub enum PrefillLayout<'a> {
    /// inside the decode steps: the steps a prompt takes, the mean prefill time a step
    /// carries, the TTFT
    Aggregated { pool: &'a str, steps: u64, per_step: String, ttft: String },
    /// on chips of its own: replicas of `chips` chips (a pipeline of `stages` groups when
    /// more than one); decode's request rate (requests/s), one replica's time for one
    /// prompt and the interval between the prompts it starts (a pipeline's slowest stage)
    Own { pool: &'a str, replicas: u64, chips: u64, stages: u64, request_rate: f64, time: String, interval: String },
}

/// A whole placement at one concurrency.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement<'a> {
    pub concurrency: u64,
    pub decode: DecodeLayout<'a>,
    /// the draft model's pool and chips
    pub draft: Option<(&'a str, u64)>,
    pub prefill: PrefillLayout<'a>,
}

fn chips(n: u64) -> String {
    if n == 1 {
        "1 chip".to_string()
    } else {
        format!("{n} chips")
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl std::fmt::Display for Placement<'_> {
    /// "concurrency 8: `decode.attn` on `gpu` with 8 chips, ...; `prefill` on ..."
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        match &self.decode {
            DecodeLayout::Groups { pool, tp, dp, ffn } => {
                parts.push(match dp {
                    1 => format!("`decode.attn` on `{pool}` with {}", chips(*tp)),
                    dp => format!("`decode.attn` on `{pool}` with {dp} data-parallel groups of {}", chips(*tp)),
                });
                match ffn {
                    Some((f, t, 1)) => parts.push(format!("`decode.ffn` on `{f}` with {}", chips(*t))),
                    Some((f, t, g)) => parts.push(format!("`decode.ffn` on `{f}` with its layers over {g} groups of {}", chips(*t))),
                    None => {}
                }
            }
            DecodeLayout::Pipeline(stages) => {
                let stages: Vec<String> =
                    stages.iter().map(|(first, end, pool, tp)| format!("layers {first}..{end} on `{pool}` with {}", chips(*tp))).collect();
                parts.push(format!("`decode.layers` as a pipeline: {}", stages.join(", ")));
            }
        }
        if let Some((pool, n)) = self.draft {
            parts.push(format!("`draft` on `{pool}` with {n} chips"));
        }
        parts.push(match &self.prefill {
            PrefillLayout::Aggregated { pool, steps, per_step, ttft } => format!(
                "`prefill` inside the decode steps on `{pool}` (aggregated: {steps} step{} per prompt, {per_step} of prefill chunks in each step on average; TTFT {ttft})",
                plural(*steps)
            ),
            PrefillLayout::Own { pool, replicas, chips, stages: 1, request_rate, time, .. } => format!(
                "`prefill` on `{pool}`: {replicas} replica{} of {chips} chip{} (decode completes {request_rate:.1} requests/s; one replica prefills one in {time})",
                plural(*replicas),
                plural(*chips)
            ),
            PrefillLayout::Own { pool, replicas, chips, stages, request_rate, time, interval } => format!(
                "`prefill` on `{pool}`: {replicas} replica{} of {chips} chips, each a pipeline of {stages} stages (decode completes {request_rate:.1} requests/s; one replica prefills one in {time} and starts one every {interval})",
                plural(*replicas),
            ),
        });
        write!(f, "concurrency {}: {}", self.concurrency, parts.join(", "))
    }
}

/// Where a decode step's time goes (formatted times; `None` or absent: not part of it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepParts<'a> {
    pub total: String,
    pub attn: String,
    pub ffn: String,
    pub allreduce: Option<String>,
    pub other: Option<String>,
    pub draft: Option<String>,
    pub overhead: Option<String>,
    pub prefill: Option<String>,
    /// attention and FFN on pools of their own with a link: the crossings' time, their
    /// count, the two pools, each one's time, and the link's name and span
    pub crossings: Option<Crossings<'a>>,
    /// crossings of a layer pipeline between its pools
    pub pipeline_crossing: Option<String>,
    pub overlap: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Crossings<'a> {
    pub total: String,
    pub count: u64,
    pub from: &'a str,
    pub to: &'a str,
    pub each: String,
    pub link: &'a str,
    pub link_span: Span,
}

/// What a TTFT is made of, when the relaxation loosens the TTFT bound.
#[derive(Clone, Debug, PartialEq)]
pub enum PrefillTime<'a> {
    /// on prefill chips of their own: the prompt's tokens, the time, the chips (a pipeline
    /// of `stages` groups when more than one)
    Own { tokens: u64, time: String, chips: u64, stages: u64, pool: &'a str, first_token: Option<String> },
    /// inside the decode steps: the prompt's chunk steps and their time
    Aggregated { tokens: u64, steps: u64, time: String, pool: &'a str, first_token: Option<String> },
}

/// Why a plan has no placement at all (E0406's notes) when no relaxation explains it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Infeasible<'a> {
    /// the stage of this name has no configuration on any pool it may use
    NoConfiguration(&'a str),
    /// no prefill option reaches `decode.attn` on this pool over a declared link
    NoKvPath(&'a str),
}

fn infeasible_reason(r: &Infeasible) -> String {
    match r {
        Infeasible::NoConfiguration(stage) => format!("stage `{stage}` has no configuration on its pools"),
        Infeasible::NoKvPath(pool) => {
            format!("no prefill option can hand its KV cache to `decode.attn` on `{pool}` over a declared link")
        }
    }
}

fn no_feasible(span: Span, reasons: &[String]) -> Diagnostic {
    let mut d = make(
        "E0406",
        span,
        "no placement satisfies every constraint".into(),
        "this plan has no feasible placement",
        "add chips to the pools, allow more pools for the stages (`place ... on auto`), or relax the SLOs or the budget",
    );
    for r in reasons {
        d = d.note(r.clone());
    }
    d
}

/// E0406 without a relaxation: what no combination gets past.
pub fn no_feasible_placement(span: Span, reasons: &[Infeasible]) -> Diagnostic {
    no_feasible(span, &reasons.iter().map(infeasible_reason).collect::<Vec<_>>())
}

/// E0402 (one SLO loosened) or E0406 (anything else): the cheapest relaxation, the
/// placement it is for, and, when it loosens TPOT or TTFT, what the step and the
/// prefill are made of. `relaxed` is not empty.
pub fn relaxation(relaxed: &[Relaxed], placement: &Placement, step: Option<&StepParts>, prefill: Option<&PrefillTime>) -> Diagnostic {
    let first = &relaxed[0];
    let single_slo = relaxed.len() == 1 && first.constraint.op().is_some();
    let mut d = if single_slo {
        let (metric, target) = (first.constraint.name(), first.constraint.target(&first.limit));
        make(
            "E0402",
            first.span,
            format!("`{metric}` {target} cannot be met"),
            format!("the best placement reaches {}", first.needed),
            format!("relax this objective to at least {}, or give the plan faster chips or links", first.needed),
        )
        .note(format!("the best placement ({placement})"))
    } else {
        let mut d = no_feasible(first.span, &relaxed.iter().map(Relaxed::reason).collect::<Vec<_>>())
            .note(format!("the cheapest relaxation (the smallest total relative slack) is for {placement}"));
        for x in &relaxed[1..] {
            d = d.label(x.span, format!("{}: relaxed to {}", x.constraint.name(), x.needed));
        }
        d
    };
    if let Some(s) = step {
        d = d.note(format!("its decode step takes {}: {}", s.total, step_parts(s)));
        if let Some(c) = &s.crossings {
            d = d.label(c.link_span, format!("crossings use link `{}`", c.link));
        }
    }
    if let Some(p) = prefill {
        d = d.note(match p {
            PrefillTime::Own { tokens, time, chips, stages, pool, first_token } => format!(
                "its prefill of {tokens} input tokens takes {time} on {chips} chips of `{pool}`{} before the KV cache moves to decode{}",
                if *stages > 1 { format!(" (a pipeline of {stages} stages)") } else { String::new() },
                after_first_token(first_token)
            ),
            PrefillTime::Aggregated { tokens, steps, time, pool, first_token } => format!(
                "its {tokens} input tokens take {steps} decode step{} of {time} in all on `{pool}`, after waiting for the running step{}",
                plural(*steps),
                after_first_token(first_token)
            ),
        });
    }
    d
}

fn after_first_token(latency: &Option<String>) -> String {
    match latency {
        Some(l) => format!(", and the serving engine's first-token latency adds {l}"),
        None => String::new(),
    }
}

fn step_parts(s: &StepParts) -> String {
    let named = |what: &str, t: &Option<String>| t.as_ref().map(|t| format!("{what} {t}"));
    let crossings = s
        .crossings
        .as_ref()
        .map(|c| format!("{} of it is {} {}<->{} crossings at {} each (link `{}`)", c.total, c.count, c.from, c.to, c.each, c.link));
    let parts = [
        Some(format!("attention {}", s.attn)),
        Some(format!("FFN {}", s.ffn)),
        named("tensor-parallel all-reduce", &s.allreduce),
        named("embedding and LM head", &s.other),
        named("drafting", &s.draft),
        named("fixed costs per step and per sequence", &s.overhead),
        named("prefill chunks of arriving prompts", &s.prefill),
        crossings,
        named("passing activations between pools", &s.pipeline_crossing),
        s.overlap.as_ref().map(|t| format!("minus {t} hidden by overlapping microbatches")),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(", ")
}

/// E0401 with the closest option: the stage's need per chip on a pool with `tp` chips,
/// what the chips offer, the pool's chips if it has no link to combine them, the
/// model's footprint and the pool's declaration.
#[allow(clippy::too_many_arguments)]
pub fn model_does_not_fit(
    span: Span,
    stage: &str,
    need: &str,
    (pool_span, pool, tp): (Span, &str, u64),
    capacity: &str,
    unlinked: Option<(&str, u64)>,
    f: Footprint,
) -> Diagnostic {
    let need = format!("{need} per chip on `{pool}` with {tp} chip{}", plural(tp));
    model_does_not_fit_alone(span, stage, &need, &format!("{capacity} per chip"), unlinked, f.weights_precision)
        .note(format!(
            "weights are {} at {}; the KV cache is {} per token at {}, for contexts of {} tokens at concurrency {}",
            f.weights, f.weights_precision, f.kv_per_token, f.kv_precision, f.context, f.concurrency
        ))
        .label(pool_span, format!("pool `{pool}` declared here"))
}

/// A pin's label on an infeasible plan's diagnostics: "pinned: `decode.attn` tp = 4".
pub fn pinned(stage: &str, name: &str, value: u64) -> String {
    format!("pinned: `{stage}` {name} = {value}")
}
