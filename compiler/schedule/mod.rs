//! The schedule phase: the timeline of one decode step at the chosen batch and of one
//! prefill, across pools and links (docs/cost-model.md §8).
//!
//! Every operation gets a track (a pool's chips, or one direction of a link), a
//! duration from the solve phase's layout of the step ([`Layout`]) and its dependencies;
//! operations start as soon as their inputs are ready and their pool is free (a list
//! schedule from idle, in the order the step issues them). Links carry transfers side
//! by side (their cost is mostly latency), so overlapping transfers take extra lanes.
//! The critical path is followed back from the last operation to finish through
//! whichever predecessor (an input, or the previous operation on the same pool) it
//! waited for.

use crate::ir::Plan;
use crate::solve::space::{Colocated, DecodeOption, Instance, Layout, PingPong, Pipeline, PrefillOption, Speculative};
use crate::solve::Point;

/// What an operation does (the trace's category and the Gantt's legend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Compute,
    Collective,
    Transfer,
    Draft,
    Overhead,
}

/// The work an operation does, finer than its [`Kind`]: what a report names as the
/// step's bottleneck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    Attention,
    Ffn,
    /// the embedding and the LM head (the attention side's)
    Head,
    /// prompt tokens: a prefill, or the chunks an aggregated step carries
    Prefill,
    /// a layer pipeline's stage
    Stage,
    Collective,
    Crossing,
    Draft,
    Overhead,
}

impl Kind {
    /// The work an operation of this kind does unless it says otherwise (compute:
    /// attention).
    fn work(self) -> Work {
        match self {
            Kind::Compute => Work::Attention,
            Kind::Collective => Work::Collective,
            Kind::Transfer => Work::Crossing,
            Kind::Draft => Work::Draft,
            Kind::Overhead => Work::Overhead,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Compute => "compute",
            Kind::Collective => "collective",
            Kind::Transfer => "transfer",
            Kind::Draft => "draft",
            Kind::Overhead => "overhead",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// "pool `gpu` (8 × h100_sxm)", "link `spectrum_x` gpu → lpu"
    pub name: String,
    /// a pool runs one operation at a time; a link carries transfers side by side
    pub exclusive: bool,
    /// lanes a non-exclusive track needed (1 when nothing overlapped)
    pub lanes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub track: usize,
    /// the lane of a link track (0 on pools)
    pub lane: usize,
    pub name: String,
    pub kind: Kind,
    pub work: Work,
    pub start: f64,
    pub dur: f64,
    pub layer: Option<u64>,
    pub microbatch: Option<u64>,
    /// on the critical path (the chain of waits that ends last)
    pub critical: bool,
}

impl Op {
    pub fn end(&self) -> f64 {
        self.start + self.dur
    }
}

/// The timeline of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pub title: String,
    pub tracks: Vec<Track>,
    pub ops: Vec<Op>,
    /// when the last operation ends (one step from idle)
    pub makespan: f64,
    /// what the report states for this step: TPOT times the tokens of one round for
    /// decode (the steady-state period), TTFT for prefill
    pub reported: f64,
    /// `reported` in words: "TPOT", "TTFT", "one round (2.77 tokens)"
    pub reported_what: String,
    /// how `reported` relates to the makespan, in words
    pub note: String,
}

impl Timeline {
    /// Seconds each track is busy (lanes of a link together: the union of its transfers).
    pub fn busy(&self, track: usize) -> f64 {
        let mut spans: Vec<(f64, f64)> = self.ops.iter().filter(|o| o.track == track).map(|o| (o.start, o.end())).collect();
        spans.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let (mut total, mut cur): (f64, Option<(f64, f64)>) = (0.0, None);
        for (s, e) in spans {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        total + cur.map(|(s, e)| e - s).unwrap_or(0.0)
    }

    /// Seconds of the critical path by kind of operation, kinds in path order.
    pub fn critical_by_kind(&self) -> Vec<(&'static str, f64)> {
        let mut by_kind: Vec<(&'static str, f64)> = Vec::new();
        for o in self.ops.iter().filter(|o| o.critical) {
            match by_kind.iter_mut().find(|(k, _)| *k == o.kind.name()) {
                Some(e) => e.1 += o.dur,
                None => by_kind.push((o.kind.name(), o.dur)),
            }
        }
        by_kind
    }
}

/// Both timelines of a solved point.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub decode: Timeline,
    pub prefill: Timeline,
}

/// The timelines of `point`'s placement.
pub fn schedule(plan: &Plan, point: &Point) -> Schedule {
    let inst = &point.instance;
    let d = point.decode();
    let p = point.prefill();
    let prefill = match &d.aggregated {
        Some(a) => aggregated_prefill_timeline(plan, d, a),
        None => prefill_timeline(plan, p, &d.kv),
    };
    Schedule { decode: decode_timeline(plan, inst, d), prefill }
}

/// Builds a list schedule: operations in issue order, each starting when its inputs
/// are done and its (exclusive) track is free.
struct Builder<'a> {
    plan: &'a Plan,
    tracks: Vec<Track>,
    ops: Vec<Op>,
    /// per op, the predecessor it waited for
    waited: Vec<Option<usize>>,
    /// per track: the last op on it (exclusive) / per lane the end time (shared)
    last: Vec<Option<usize>>,
    lane_ends: Vec<Vec<f64>>,
}

/// What to add: (track, name, kind, duration, layer, microbatch).
struct Spec {
    track: usize,
    name: String,
    kind: Kind,
    work: Work,
    dur: f64,
    layer: Option<u64>,
    microbatch: Option<u64>,
}

impl<'a> Builder<'a> {
    fn new(plan: &'a Plan) -> Self {
        Builder { plan, tracks: Vec::new(), ops: Vec::new(), waited: Vec::new(), last: Vec::new(), lane_ends: Vec::new() }
    }

    fn track(&mut self, name: String, exclusive: bool) -> usize {
        if let Some(i) = self.tracks.iter().position(|t| t.name == name) {
            return i;
        }
        self.tracks.push(Track { name, exclusive, lanes: 1 });
        self.last.push(None);
        self.lane_ends.push(Vec::new());
        self.tracks.len() - 1
    }

    fn pool(&mut self, pool: usize, chips: u64) -> usize {
        let p = &self.plan.cluster.pools[pool];
        self.track(format!("pool `{}` ({chips} × {})", p.name, p.chip.name), true)
    }

    /// Part `i` of `pool` on `chips` chips of its own: a stage of a pipeline within it
    /// (`what` = "stage"), or a group of an FFN's layers ("layer group").
    fn part(&mut self, pool: usize, chips: u64, what: &str, i: usize) -> usize {
        let p = &self.plan.cluster.pools[pool];
        self.track(format!("pool `{}` {what} {} ({chips} × {})", p.name, i + 1, p.chip.name), true)
    }

    /// The scale-up link of `pool` (its collectives), with its scale-out link on a pool of
    /// nodes (a collective over more than a node crosses both).
    fn fabric(&mut self, pool: usize) -> usize {
        let p = &self.plan.cluster.pools[pool];
        let link = p.link.as_ref().map(|l| l.name.as_str()).unwrap_or("no link");
        match &p.scale_out {
            Some(s) => self.track(format!("links `{link}` + `{}` within `{}`", s.link.name, p.name), true),
            None => self.track(format!("link `{link}` within `{}`", p.name), true),
        }
    }

    /// One direction of the link between two pools (or a pool's own link when equal).
    fn wire(&mut self, from: usize, to: usize) -> usize {
        let pools = &self.plan.cluster.pools;
        // within one pool a transfer shares the pool's own link with its collectives
        if from == to {
            return self.fabric(from);
        }
        let name = self.plan.cluster.link_between(from, to).map(|l| l.link.name.as_str()).unwrap_or("no link");
        self.track(format!("link `{name}` {} → {}", pools[from].name, pools[to].name), false)
    }

    fn add(&mut self, s: Spec, deps: &[usize]) -> usize {
        let mut start: f64 = 0.0;
        let mut waited = None;
        // what an op waited for is the first of its inputs to end last; ends equal but
        // for rounding count as equal, so the critical path does not follow float noise
        for &d in deps {
            let end = self.ops[d].end();
            if waited.is_none() || later(end, start) {
                waited = Some(d);
            }
            start = start.max(end);
        }
        let lane = if self.tracks[s.track].exclusive {
            if let Some(prev) = self.last[s.track] {
                let end = self.ops[prev].end();
                if later(end, start) {
                    waited = Some(prev);
                }
                start = start.max(end);
            }
            0
        } else {
            let ends = &mut self.lane_ends[s.track];
            let lane = ends.iter().position(|&e| e <= start).unwrap_or(ends.len());
            if lane == ends.len() {
                ends.push(0.0);
            }
            ends[lane] = start + s.dur;
            self.tracks[s.track].lanes = self.tracks[s.track].lanes.max(lane + 1);
            lane
        };
        self.ops.push(Op {
            track: s.track,
            lane,
            name: s.name,
            kind: s.kind,
            work: s.work,
            start,
            dur: s.dur.max(0.0),
            layer: s.layer,
            microbatch: s.microbatch,
            critical: false,
        });
        self.waited.push(waited);
        let i = self.ops.len() - 1;
        self.last[s.track] = Some(i);
        i
    }

    fn finish(mut self, title: String, (reported, reported_what): (f64, String), note: String) -> Timeline {
        let makespan = self.ops.iter().map(Op::end).fold(0.0, f64::max);
        // the last op to end (the first of equals), then back through what it waited for
        let mut at = self.ops.iter().position(|o| !later(makespan, o.end()));
        while let Some(i) = at {
            self.ops[i].critical = true;
            at = self.waited[i];
        }
        Timeline { title, tracks: self.tracks, ops: self.ops, makespan, reported, reported_what, note }
    }
}

/// `a` ends after `b` by more than rounding (a billionth of the larger).
fn later(a: f64, b: f64) -> bool {
    a - b > 1e-9 * a.abs().max(b.abs())
}

fn spec(track: usize, name: impl Into<String>, kind: Kind, dur: f64) -> Spec {
    Spec { track, name: name.into(), kind, work: kind.work(), dur, layer: None, microbatch: None }
}

impl Spec {
    /// The same operation, doing `work`.
    fn doing(self, work: Work) -> Spec {
        Spec { work, ..self }
    }
}

fn layer_spec(track: usize, name: &str, kind: Kind, dur: f64, layer: u64, microbatch: Option<u64>) -> Spec {
    let label = match microbatch {
        Some(j) => format!("{name} L{layer} mb{j}"),
        None => format!("{name} L{layer}"),
    };
    Spec { track, name: label, kind, work: kind.work(), dur, layer: Some(layer), microbatch }
}

fn decode_timeline(plan: &Plan, inst: &Instance, d: &DecodeOption) -> Timeline {
    let mut b = Builder::new(plan);
    let (tokens, note) = match &d.layout {
        Layout::Speculative(Speculative { tokens, .. }) => (
            *tokens,
            format!("one speculative round; it yields {tokens:.2} tokens per sequence on average, so TPOT is the round over {tokens:.2}"),
        ),
        _ => (1.0, String::new()),
    };
    let turns_note = match &d.turns {
        None => {
            lay_out_step(&mut b, plan, d, None);
            None
        }
        Some(t) => Some(lay_out_turns(&mut b, plan, inst.batch, t)),
    };
    let reported = d.tpot * tokens;
    let what = if d.draft().is_some() { format!("TPOT × {tokens:.2} tokens") } else { "TPOT".to_string() };
    let note = turns_note.unwrap_or(note);
    let mut tl = b.finish(format!("decode step at concurrency {}", inst.batch), (reported, what), note);
    if tl.note.is_empty() {
        tl.note = if (tl.makespan - reported).abs() <= 1e-9 * reported.max(1e-12) {
            "the step runs start to end; TPOT is its length".into()
        } else if d.microbatches() > 1 {
            format!(
                "{} microbatches from an idle start; in steady state the step repeats every TPOT (the pools' load or one microbatch's round trip, whichever is longer)",
                d.microbatches()
            )
        } else {
            "from an idle start; TPOT is the steady-state period".into()
        };
    }
    tl
}

/// Lays out one step of each size a round of variants served in turn takes (the larger
/// share of the batch's `batch` sequences, then the smaller if any variant has it), each
/// op named for its step; returns the note that the round is the TPOT.
/// A round of every variant would repeat these steps up to `variants` times (up to
/// `ir::MAX_VARIANTS`), so the timeline stays one step of each size.
fn lay_out_turns(b: &mut Builder, plan: &Plan, batch: u64, t: &crate::solve::space::Turns) -> String {
    let k = t.variants.max(1);
    let hi_seqs = batch.div_ceil(k);
    let mut steps = vec![(&t.hi, t.at_hi, hi_seqs)];
    if let Some(lo) = &t.lo {
        steps.push((lo, k - t.at_hi, batch / k));
    }
    let mut last = None;
    for &(d, _, seqs) in &steps {
        let from = b.ops.len();
        last = lay_out_step(b, plan, d, last);
        for op in &mut b.ops[from..] {
            op.name = format!("variant step ({seqs} seq): {}", op.name);
        }
    }
    let mut counts: Vec<String> =
        steps.iter().map(|&(_, n, seqs)| format!("{n} over {seqs} sequence{}", if seqs == 1 { "" } else { "s" })).collect();
    if t.lo.is_none() && t.at_hi < k {
        let idle = k - t.at_hi;
        counts.push(format!("{idle} without a sequence take{} none", if idle == 1 { "s" } else { "" }));
    }
    format!(
        "{k} variants served in turn: a round runs each variant's step once ({}), and TPOT is the round; shown: one step of each size",
        counts.join(", ")
    )
}

/// Lays out decode option `d`'s step after `after` and, with aggregated serving, the
/// prompts' chunks it carries on average, on the same chips; returns the last op issued.
fn lay_out_step(b: &mut Builder, plan: &Plan, d: &DecodeOption, after: Option<usize>) -> Option<usize> {
    let last = lay_out(b, plan, d, after);
    let Some(a) = &d.aggregated else { return last };
    let (p, chips) = d.head();
    let pool = b.pool(p, chips);
    let what = format!("prefill chunks (mean per step: {:.3} prompts)", a.per_step);
    Some(b.add(spec(pool, what, Kind::Compute, d.breakdown.prefill).doing(Work::Prefill), &last.into_iter().collect::<Vec<_>>()))
}

/// Lays out decode option `d` after `after` (an op index), returns the last op issued.
fn lay_out(b: &mut Builder, plan: &Plan, d: &DecodeOption, after: Option<usize>) -> Option<usize> {
    let layers = plan.model.layers;
    let lf = layers as f64;
    let bd = &d.breakdown;
    let deps = |x: Option<usize>| x.into_iter().collect::<Vec<_>>();
    match &d.layout {
        Layout::Colocated(Colocated { pool, tp, dp, cp, attn_collective, ffn_collective, .. }) => {
            let (at, dp) = (*pool, *dp);
            let pool = b.pool(at, tp * dp);
            let fabric = if *attn_collective > 0.0 || *ffn_collective > 0.0 { b.fabric(at) } else { pool };
            let mut prev = after;
            for l in 0..layers {
                let a = b.add(layer_spec(pool, "attention", Kind::Compute, bd.attn / lf, l, None), &deps(prev));
                let mut x = a;
                if *attn_collective > 0.0 {
                    // with the cache split by context, the partial attention outputs'
                    // combine goes before the all-reduce (docs/cost-model.md §4f)
                    let what = if *cp > 1 { "KV combine + all-reduce" } else { "all-reduce" };
                    x = b.add(layer_spec(fabric, what, Kind::Collective, *attn_collective, l, None), &[x]);
                }
                x = b.add(layer_spec(pool, "FFN", Kind::Compute, bd.ffn / lf, l, None).doing(Work::Ffn), &[x]);
                if *ffn_collective > 0.0 {
                    let what = if dp > 1 { "FFN all-gather + reduce-scatter" } else { "all-reduce" };
                    x = b.add(layer_spec(fabric, what, Kind::Collective, *ffn_collective, l, None), &[x]);
                }
                prev = Some(x);
            }
            let mut last = b.add(spec(pool, "embedding + LM head", Kind::Compute, bd.other).doing(Work::Head), &deps(prev));
            if bd.overhead > 0.0 {
                last = b.add(spec(pool, "step overhead", Kind::Overhead, bd.overhead), &[last]);
            }
            Some(last)
        }
        Layout::PingPong(PingPong { attn: (a, ta), dp, ffn: (f, tf), groups, microbatches, t_a, t_e, t_c, other, .. }) => {
            let (a, f, tf) = (*a, *f, *tf);
            // every data-parallel attention group runs its share of each microbatch at once
            let pa = b.pool(a, ta * dp);
            // the FFN's layers over groups of chips (the first `L mod g` groups hold one
            // layer more): a track per group
            let g = (*groups).max(1);
            let groups: Vec<usize> = match g {
                1 => vec![b.pool(f, tf)],
                _ => (0..g as usize).map(|i| b.part(f, tf, "layer group", i)).collect(),
            };
            // each layer's group's track
            let group_of: Vec<usize> =
                crate::cost::even_ranges(layers, g).zip(&groups).flat_map(|((lo, hi), &track)| (lo..hi).map(move |_| track)).collect();
            let out = b.wire(a, f);
            let back = b.wire(f, a);
            let m = *microbatches;
            let mut ready: Vec<Option<usize>> = vec![after; m as usize];
            for l in 0..layers {
                for j in 0..m {
                    let mb = Some(j);
                    let a = b.add(layer_spec(pa, "attention", Kind::Compute, *t_a, l, mb), &deps(ready[j as usize]));
                    let x = b.add(layer_spec(out, "to FFN", Kind::Transfer, *t_c, l, mb), &[a]);
                    let e = b.add(layer_spec(group_of[l as usize], "FFN", Kind::Compute, *t_e, l, mb).doing(Work::Ffn), &[x]);
                    ready[j as usize] = Some(b.add(layer_spec(back, "to attention", Kind::Transfer, *t_c, l, mb), &[e]));
                }
            }
            let mut last = None;
            for j in 0..m {
                let s =
                    Spec { microbatch: Some(j), ..spec(pa, format!("embedding + LM head mb{j}"), Kind::Compute, *other).doing(Work::Head) };
                last = Some(b.add(s, &deps(ready[j as usize])));
            }
            if bd.overhead > 0.0 {
                let all: Vec<usize> = (0..b.ops.len()).collect();
                last = Some(b.add(spec(pa, "step overhead", Kind::Overhead, bd.overhead), &all));
            }
            last
        }
        Layout::Pipeline(Pipeline { stages, microbatches, cross_in, back }) => {
            let m = *microbatches;
            let mut last = None;
            // stages that share a pool (a pipeline within it) run on chips of their own:
            // a track each
            let mut per_pool = vec![0usize; b.plan.cluster.pools.len()];
            for s in stages {
                per_pool[s.pool] += 1;
            }
            let tracks: Vec<usize> = stages
                .iter()
                .enumerate()
                .map(|(i, s)| match per_pool[s.pool] > 1 {
                    true => b.part(s.pool, s.tp, "stage", i),
                    false => b.pool(s.pool, s.tp),
                })
                .collect();
            for j in 0..m {
                let mut prev = after;
                for (i, s) in stages.iter().enumerate() {
                    if i > 0 && cross_in[i] > 0.0 {
                        let w = b.wire(stages[i - 1].pool, s.pool);
                        let x = Spec { microbatch: Some(j), ..spec(w, format!("activations mb{j}"), Kind::Transfer, cross_in[i]) };
                        prev = Some(b.add(x, &deps(prev)));
                    }
                    let name = format!("layers {}..{} mb{j}", s.first, s.end);
                    let c = Spec { microbatch: Some(j), ..spec(tracks[i], name, Kind::Compute, s.time - cross_in[i]).doing(Work::Stage) };
                    prev = Some(b.add(c, &deps(prev)));
                }
                if *back > 0.0 {
                    let (tail, head) = (stages[stages.len() - 1].pool, stages[0].pool);
                    // without a link of their own the ids go back along the pipeline's links
                    // (within one pool, over its own link)
                    let w = match tail == head || b.plan.cluster.link_between(tail, head).is_some() {
                        true => b.wire(tail, head),
                        false => {
                            let pools = &b.plan.cluster.pools;
                            b.track(format!("links back along the pipeline {} → {}", pools[tail].name, pools[head].name), false)
                        }
                    };
                    let x = Spec { microbatch: Some(j), ..spec(w, format!("token ids mb{j}"), Kind::Transfer, *back) };
                    prev = Some(b.add(x, &deps(prev)));
                }
                last = prev;
            }
            last
        }
        Layout::Speculative(Speculative { draft: (dp, dt), lookahead, draft_step, link, target, .. }) => {
            let (dp, dt) = (*dp, *dt);
            let dtrack = b.pool(dp, dt);
            let mut prev = after;
            for i in 0..*lookahead {
                prev = Some(b.add(spec(dtrack, format!("draft token {}", i + 1), Kind::Draft, *draft_step), &deps(prev)));
            }
            let out = b.wire(dp, target.head().0);
            prev = Some(b.add(spec(out, "drafted token ids", Kind::Transfer, *link), &deps(prev)));
            let verified = lay_out(b, plan, target, prev);
            let back = b.wire(target.head().0, dp);
            Some(b.add(spec(back, "verdicts", Kind::Transfer, *link), &deps(verified)))
        }
    }
}

fn prefill_timeline(plan: &Plan, p: &PrefillOption, kv: &[(usize, f64)]) -> Timeline {
    let mut b = Builder::new(plan);
    let layers = plan.model.layers;
    let mut prev = engine_latency(&mut b, plan, p.first_token);
    if p.stages.is_empty() {
        let overhead = crate::cost::step_fixed(&plan.cluster.pools[p.pool].chip, 1);
        let compute = (p.time - p.allreduce - overhead) / layers as f64;
        let ar = p.allreduce / (2.0 * layers as f64);
        let pool = b.pool(p.pool, p.chips());
        // split by context, the KV ring rides with the all-reduces (docs/cost-model.md §14b)
        let what = if p.cp > 1 { "all-reduces + KV ring" } else { "all-reduces" };
        prev = prefill_layers(&mut b, (pool, p.pool), (0, layers), (compute, ar), what, prev);
        if overhead > 0.0 {
            prev = Some(b.add(spec(pool, "overhead", Kind::Overhead, overhead), &prev.into_iter().collect::<Vec<_>>()));
        }
    } else if p.chunks() > 1 {
        // a prompt in chunks: each chunk on each stage as one bar (its layers, all-reduces,
        // fixed cost and the crossing into the stage), once the stage has finished the
        // chunk before and the stage before has finished this one (docs/cost-model.md §14)
        let tracks: Vec<usize> = (0..p.stages.len()).map(|i| b.part(p.pool, p.tp, "stage", i)).collect();
        let mut last_of_stage: Vec<Option<usize>> = vec![None; p.stages.len()];
        let start = prev;
        for j in 0..p.chunks() as usize {
            let mut before = start;
            for (i, st) in p.stages.iter().enumerate() {
                let Some(&t) = st.chunks.get(j) else { continue };
                let what = format!("prefill chunk {} of {}, L{}..{}", j + 1, p.chunks(), st.first, st.end);
                let deps: Vec<usize> = before.into_iter().chain(last_of_stage[i]).collect();
                let x = b.add(spec(tracks[i], what, Kind::Compute, t).doing(Work::Prefill), &deps);
                last_of_stage[i] = Some(x);
                before = Some(x);
            }
            prev = before;
        }
    } else {
        // a pipeline: each stage on its own group in turn, the prompt's activations passed
        // over the pool's link between them (one prompt: the stages do not overlap)
        for (i, st) in p.stages.iter().enumerate() {
            let track = b.part(p.pool, p.tp, "stage", i);
            if st.crossing > 0.0 {
                let fabric = b.fabric(p.pool);
                prev = Some(b.add(
                    spec(fabric, "activations to the next stage", Kind::Transfer, st.crossing),
                    &prev.into_iter().collect::<Vec<_>>(),
                ));
            }
            if st.allreduce > 0.0 {
                let n = (st.end - st.first).max(1) as f64;
                prev = prefill_layers(
                    &mut b,
                    (track, p.pool),
                    (st.first, st.end),
                    (st.compute / n, st.allreduce / (2.0 * n)),
                    "all-reduces",
                    prev,
                );
            } else {
                // one chip a stage: its layers run back to back, one operation (a 126-layer
                // model over 11 wafers draws 11 bars, not 126)
                let what = format!("prefill L{}..{}", st.first, st.end);
                let deps: Vec<usize> = prev.into_iter().collect();
                prev = Some(b.add(spec(track, what, Kind::Compute, st.compute).doing(Work::Prefill), &deps));
            }
            if st.overhead > 0.0 {
                prev = Some(b.add(spec(track, "overhead", Kind::Overhead, st.overhead), &prev.into_iter().collect::<Vec<_>>()));
            }
        }
    }
    let done: Vec<usize> = prev.into_iter().collect();
    for &(to, share) in kv {
        if let Some((latency, bulk)) = p.kv_path.get(to).copied().flatten() {
            let w = b.wire(p.pool, to);
            let what = if share < 1.0 { format!("KV cache ({:.0}%)", 100.0 * share) } else { "KV cache".to_string() };
            b.add(spec(w, what, Kind::Transfer, latency + share * bulk), &done);
        }
    }
    let ttft = p.ttft(kv).unwrap_or(p.time);
    let tokens = plan.workload.input_tokens;
    let cached = match plan.workload.prefix {
        Some(x) if x.hit >= 1.0 => format!(", its {}-token prefix cached", x.tokens),
        Some(x) => format!(": the mean over the {:.0}% whose {}-token prefix is cached and the rest", 100.0 * x.hit, x.tokens),
        None => String::new(),
    };
    b.finish(
        format!("prefill of one request ({tokens} tokens{cached})"),
        (ttft, "TTFT".into()),
        if p.first_token > 0.0 {
            "TTFT is the serving engine's first-token latency, the prefill and the KV cache's move to decode".into()
        } else {
            "TTFT is the prefill and the KV cache's move to decode".into()
        },
    )
}

/// Layers `first..end` of a prompt's prefill on `track` (a group of chips of `pool`), one
/// after another: each layer's `compute`, then its two all-reduces `2·ar` on the pool's
/// link when there are any. Returns the last operation.
fn prefill_layers(
    b: &mut Builder,
    (track, pool): (usize, usize),
    (first, end): (u64, u64),
    (compute, ar): (f64, f64),
    collective: &str,
    mut prev: Option<usize>,
) -> Option<usize> {
    let fabric = if ar > 0.0 { b.fabric(pool) } else { track };
    for l in first..end {
        let deps: Vec<usize> = prev.into_iter().collect();
        let mut x = b.add(layer_spec(track, "prefill", Kind::Compute, compute, l, None).doing(Work::Prefill), &deps);
        if ar > 0.0 {
            x = b.add(layer_spec(fabric, collective, Kind::Collective, 2.0 * ar, l, None), &[x]);
        }
        prev = Some(x);
    }
    prev
}

/// The serving engine's first-token latency outside the chips' steps
/// (`Engine::first_token`), on a track of its own, first in a request's path; `None`
/// when there is none.
fn engine_latency(b: &mut Builder, plan: &Plan, latency: f64) -> Option<usize> {
    if latency <= 0.0 {
        return None;
    }
    let track = b.track(format!("serving engine `{}`", plan.framework.as_deref().unwrap_or("")), false);
    Some(b.add(spec(track, "first-token latency (request path)", Kind::Overhead, latency), &[]))
}

/// Of an aggregated TTFT, the other variants' steps between a prompt's chunk steps when
/// variants are served in turn (0 for one model).
fn waits_between(d: &DecodeOption, a: &crate::solve::space::Aggregated) -> f64 {
    d.turns.as_ref().map_or(0.0, |t| a.steps.steps.saturating_sub(1) as f64 * (d.tpot - t.hi.tpot).max(0.0))
}

/// Aggregated serving's prefill: half a running step's wait, then the steps that carry
/// the prompt's chunks, on the decode chips.
fn aggregated_prefill_timeline(plan: &Plan, d: &DecodeOption, a: &crate::solve::space::Aggregated) -> Timeline {
    let mut b = Builder::new(plan);
    let (p, chips) = d.head();
    let pool = b.pool(p, chips);
    // the wait is half a running step whatever the prompt (TTFT less the mean prompt)
    let latency = engine_latency(&mut b, plan, a.first_token);
    let mut prev = b.add(
        spec(
            pool,
            if d.turns.is_some() { "wait for the variant's turn" } else { "wait for the running step" },
            Kind::Overhead,
            a.ttft - a.first_token - a.prompt - waits_between(d, a),
        ),
        &latency.into_iter().collect::<Vec<_>>(),
    );
    let tokens = plan.workload.input_tokens;
    // with prefix reuse, `steps` may be those of a prompt after its cached prefix
    let own = a.steps_tokens;
    // variants served in turn: the other variants' steps between two of the prompt's
    // (the round less its own variant's step, docs/cost-model.md §15)
    let gap = d.turns.as_ref().map_or(0.0, |t| (d.tpot - t.hi.tpot).max(0.0));
    for j in 0..a.steps.steps {
        if j > 0 && gap > 0.0 {
            prev = b.add(spec(pool, "the other variants' steps", Kind::Overhead, gap), &[prev]);
        }
        let chunk = a.chunk_tokens.min(own - j * a.chunk_tokens);
        let what = format!("decode step + prompt chunk {} ({chunk} tokens)", j + 1);
        prev = b.add(spec(pool, what, Kind::Compute, a.steps.step(j)).doing(Work::Prefill), &[prev]);
    }
    let what = if own < tokens { format!("{own} of {tokens} tokens, its prefix cached") } else { format!("{tokens} tokens") };
    b.finish(
        format!("prefill of one request ({what}) inside the decode steps"),
        (a.ttft, "TTFT".into()),
        match (d.turns.is_some(), a.first_token > 0.0) {
            (true, engine) => format!(
                "aggregated serving of variants in turn: TTFT is {}half a round, then the steps that carry the prompt's chunks, one per turn of its variant, the other variants' steps between them",
                if engine { "the serving engine's first-token latency, " } else { "" }
            ),
            (false, true) => "aggregated serving: TTFT is the serving engine's first-token latency, half a running step, then the decode steps that carry the prompt's chunks".into(),
            (false, false) => "aggregated serving: TTFT is half a running step, then the decode steps that carry the prompt's chunks".into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every timeline: exclusive tracks never run two ops at once, and the critical
    /// path is a chain of ops that touch end to start and ends at the makespan.
    fn well_formed(t: &Timeline) {
        for (k, track) in t.tracks.iter().enumerate() {
            let mut ops: Vec<&Op> = t.ops.iter().filter(|o| o.track == k).collect();
            ops.sort_by(|a, b| a.start.partial_cmp(&b.start).unwrap());
            for lane in 0..track.lanes {
                let on: Vec<&&Op> = ops.iter().filter(|o| o.lane == lane).collect();
                for w in on.windows(2) {
                    assert!(w[1].start >= w[0].end() - 1e-15, "{}: {} overlaps {}", track.name, w[0].name, w[1].name);
                }
            }
        }
        let crit: Vec<&Op> = t.ops.iter().filter(|o| o.critical).collect();
        assert!(!crit.is_empty());
        assert!((crit.iter().map(|o| o.end()).fold(0.0, f64::max) - t.makespan).abs() < 1e-15);
        assert!(crit[0].start == 0.0, "the critical path starts at 0");
    }

    fn compile(src: &str) -> (Plan, crate::solve::Solved) {
        let mut c = crate::compile("s.hplan", src, None, crate::Mode::Build);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        (c.program.plans.remove(0), c.solved.remove(0).expect("solved"))
    }

    const COLOCATED: &str = "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
        workload w {\n  input = 4032 tok\n  output = 128 tok\n  concurrency = 64\n}\n\
        cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
        plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n  place prefill on gpu\n  place decode.attn on gpu\n  place decode.ffn on gpu\n  inventory = free\n  serving = disaggregated\n}\n";

    #[test]
    fn aggregated_steps_end_at_tpot_and_ttft() {
        let src = COLOCATED.replace("serving = disaggregated", "serving = aggregated");
        let (plan, solved) = compile(&src);
        let s = schedule(&plan, &solved.best);
        let d = solved.best.decode();
        let a = d.aggregated.as_ref().expect("aggregated");
        well_formed(&s.decode);
        well_formed(&s.prefill);
        // the step, then the mean prefill chunks it carries: TPOT
        assert!((s.decode.makespan - d.tpot).abs() < 1e-9 * d.tpot, "{} vs {}", s.decode.makespan, d.tpot);
        // 80 layers x 4, the head, the step's fixed cost (h100_sxm's carried-over
        // engine costs) and the prefill chunks
        assert_eq!(s.decode.ops.len(), 80 * 4 + 1 + 1 + 1);
        let last = s.decode.ops.last().unwrap();
        assert!((last.dur - d.breakdown.prefill).abs() < 1e-15 && d.breakdown.prefill > 0.0);
        // half a running step, then the prompt's one chunk step (4032 tokens): TTFT
        assert_eq!(a.steps.steps, 1);
        assert!((s.prefill.makespan - a.ttft).abs() < 1e-12 * a.ttft);
        assert!((s.prefill.ops[0].dur - d.tpot / 2.0).abs() < 1e-12);
        assert_eq!(s.prefill.ops.len(), 2);
    }

    /// [`COLOCATED`] as 4 variants of Llama-3.1-70B (FP8) on 16 H100s.
    fn four_variants() -> String {
        COLOCATED.replace("{ weights = fp8 }", "{ weights = fp8, variants = 4 }").replace("h100_sxm x 8", "h100_sxm x 16")
    }

    #[test]
    fn variants_lay_out_one_step_of_each_share() {
        // 4 variants over 66 sequences: two steps of 17, two of 16
        let src = four_variants().replace("concurrency = 64", "concurrency = 66");
        let (plan, solved) = compile(&src);
        let s = schedule(&plan, &solved.best);
        let d = solved.best.decode();
        well_formed(&s.decode);
        let t = d.turns.as_ref().expect("variants served in turn");
        let lo = t.lo.as_ref().expect("an uneven split");
        assert_eq!((t.at_hi, solved.best.instance.batch), (2, 66));
        // one step of 17 sequences, then one of 16, one chain on the same chips
        assert!((s.decode.makespan - (t.hi.tpot + lo.tpot)).abs() < 1e-9 * d.tpot, "{} vs {} + {}", s.decode.makespan, t.hi.tpot, lo.tpot);
        assert!(s.decode.ops.iter().filter(|o| o.name.starts_with("variant step (17 seq)")).count() > 80);
        assert!(s.decode.ops.iter().filter(|o| o.name.starts_with("variant step (16 seq)")).count() > 80);
        // the round, every variant's step once, is what the report states
        assert!((s.decode.reported - (2.0 * t.hi.tpot + 2.0 * lo.tpot)).abs() < 1e-9 * d.tpot);
        assert!(
            s.decode.note.contains("4 variants served in turn") && s.decode.note.contains("2 over 17 sequences, 2 over 16 sequences"),
            "{}",
            s.decode.note
        );
    }

    #[test]
    fn an_aggregated_round_of_variants_ends_at_its_tpot_and_ttft() {
        // 4 variants, prompts of 4032 tokens in chunks of 1024: four chunk steps, one per
        // turn of the prompt's variant
        let src = four_variants().replace("serving = disaggregated", "serving = aggregated\n  chunk = 1024");
        let (plan, solved) = compile(&src);
        let s = schedule(&plan, &solved.best);
        let d = solved.best.decode();
        well_formed(&s.decode);
        well_formed(&s.prefill);
        let a = d.aggregated.as_ref().expect("aggregated");
        assert!(d.turns.is_some() && a.steps.steps == 4);
        // the prompt: a wait for its variant's turn, four chunk steps, three gaps of the
        // other variants' steps; it ends at the TTFT
        assert!((s.prefill.makespan - a.ttft).abs() < 1e-9 * a.ttft, "{} vs {}", s.prefill.makespan, a.ttft);
        let gaps: Vec<&Op> = s.prefill.ops.iter().filter(|o| o.name == "the other variants' steps").collect();
        assert_eq!(gaps.len(), 3);
        assert!(s.prefill.note.contains("one per turn of its variant"));
        // the decode steps carry their own variants' chunks, laid out with them
        assert!(s.decode.ops.iter().any(|o| o.work == Work::Prefill && o.name.starts_with("variant step")));
    }

    #[test]
    fn colocated_step_ends_at_tpot() {
        let (plan, solved) = compile(COLOCATED);
        let s = schedule(&plan, &solved.best);
        let d = solved.best.decode();
        well_formed(&s.decode);
        well_formed(&s.prefill);
        // a colocated step is one chain: its length is TPOT to rounding
        assert!((s.decode.makespan - d.tpot).abs() < 1e-9 * d.tpot, "{} vs {}", s.decode.makespan, d.tpot);
        assert!(s.decode.ops.iter().all(|o| o.critical), "a chain is all critical");
        // busy time of the pool + its link = the step
        let busy: f64 = (0..s.decode.tracks.len()).map(|k| s.decode.busy(k)).sum();
        assert!((busy - d.tpot).abs() < 1e-9 * d.tpot);
        // prefill: ends at TTFT
        let p = solved.best.prefill();
        assert!((s.prefill.makespan - p.ttft(&d.kv).unwrap()).abs() < 1e-12);
        // 80 layers x (attention, all-reduce, FFN, all-reduce) + the head + the step's
        // fixed cost (h100_sxm's carried-over engine costs)
        assert!(d.breakdown.overhead > 0.0);
        assert_eq!(s.decode.ops.len(), 80 * 4 + 1 + 1);
    }

    #[test]
    fn pingpong_layout_matches_the_period() {
        // Two pools, an FFN pool behind a slow link: ping-pong with m microbatches; the
        // schedule from idle is no longer than the steady-state TPOT plus one round trip
        // per microbatch, and each pool's busy time is exactly its work.
        let (t_a, t_e, t_c, other) = (30e-6, 20e-6, 15e-6, 50e-6);
        let src = COLOCATED.replace(
            "  pool gpu = h100_sxm x 8 over nvlink4\n",
            "  pool gpu = h100_sxm x 8 over nvlink4\n  pool ffn = h100_sxm x 8 over nvlink4\n  link gpu <-> ffn over nvlink4\n",
        );
        let (plan, solved) = compile(&src);
        let mut d = solved.best.decode().clone();
        let layers = plan.model.layers;
        for m in 1..=4u64 {
            d.layout = Layout::PingPong(PingPong {
                attn: d.head(),
                dp: 1,
                ffn: (1, 4),
                groups: 1,
                microbatches: m,
                t_a,
                t_e,
                t_c,
                other,
                experts: crate::cost::MoeSplit::Experts,
            });
            d.breakdown.overhead = 0.0;
            let period = crate::cost::pingpong_iteration(t_a, t_e, t_c, m, layers);
            d.tpot = period + m as f64 * other;
            let t = decode_timeline(&plan, &solved.best.instance, &d);
            well_formed(&t);
            let busy_a = t.busy(0);
            assert!((busy_a - m as f64 * (layers as f64 * t_a + other)).abs() < 1e-12, "m={m}");
            // never faster than the pools' load; never slower than the period + one trip
            assert!(t.makespan >= m as f64 * layers as f64 * t_a - 1e-12);
            assert!(t.makespan <= d.tpot + m as f64 * (t_a + t_e + 2.0 * t_c) + 1e-12, "m={m}: {} vs {}", t.makespan, d.tpot);
            if m == 1 {
                assert!((t.makespan - d.tpot).abs() < 1e-12);
            }
        }
    }

    /// A ping-pong whose attention takes exactly an FFN round trip (t_a = t_e + 2·t_c)
    /// is all ties: each attention op waits for the pool and the FFN's answer at once.
    /// The critical path must not change when a time moves by rounding (it used to follow float
    /// noise, so an unrelated change to how a sum was taken flipped it).
    #[test]
    fn the_critical_path_does_not_follow_rounding() {
        let src = COLOCATED.replace(
            "  pool gpu = h100_sxm x 8 over nvlink4\n",
            "  pool gpu = h100_sxm x 8 over nvlink4\n  pool ffn = h100_sxm x 8 over nvlink4\n  link gpu <-> ffn over nvlink4\n",
        );
        let (plan, solved) = compile(&src);
        let flags = |t_a: f64, t_e: f64| {
            let mut d = solved.best.decode().clone();
            d.layout = Layout::PingPong(PingPong {
                attn: d.head(),
                dp: 1,
                ffn: (1, 4),
                groups: 1,
                microbatches: 2,
                t_a,
                t_e,
                t_c: 5e-6,
                other: 50e-6,
                experts: crate::cost::MoeSplit::Experts,
            });
            let t = decode_timeline(&plan, &solved.best.instance, &d);
            well_formed(&t);
            t.ops.iter().map(|o| o.critical).collect::<Vec<bool>>()
        };
        let base = flags(30e-6, 20e-6);
        for (a, e) in [(30e-6 * (1.0 + 1e-14), 20e-6), (30e-6 * (1.0 - 1e-14), 20e-6), (30e-6, 20e-6 * (1.0 + 1e-14))] {
            assert_eq!(flags(a, e), base, "t_a {a:e}, t_e {e:e}");
        }
    }

    #[test]
    fn pipeline_ids_without_a_link_back_go_along_the_pipeline() {
        // three pools linked only in a chain: the token ids from the last stage to the
        // first have no link of their own, and the timeline says which way they go
        let src = COLOCATED
            .replace(
                "  pool gpu = h100_sxm x 8 over nvlink4\n",
                "  pool gpu = h100_sxm x 8 over nvlink4\n  pool a = h100_sxm x 1\n  pool b = h100_sxm x 1\n  pool c = h100_sxm x 1\n  link a <-> b over nvlink4\n  link b <-> c over nvlink4\n  link gpu <-> a over nvlink4\n  link gpu <-> b over nvlink4\n  link gpu <-> c over nvlink4\n",
            )
            .replace("  place decode.attn on gpu\n  place decode.ffn on gpu\n", "  place decode.attn on a\n  place decode.layers on any [a, b, c]\n")
            // 140 GB of BF16 weights need all three single-GPU pools
            .replace("llama3_1_70b { weights = fp8 }", "llama3_1_70b");
        let (plan, solved) = compile(&src);
        let d = solved.best.decode();
        assert_eq!(d.stages().len(), 3, "{:?}", d.stages());
        let t = decode_timeline(&plan, &solved.best.instance, d);
        well_formed(&t);
        let names: Vec<&str> = t.tracks.iter().map(|k| k.name.as_str()).collect();
        assert!(names.iter().all(|n| !n.contains("no link")), "{names:?}");
        let (head, tail) = (&plan.cluster.pools[d.stages()[0].pool].name, &plan.cluster.pools[d.stages()[2].pool].name);
        let back = format!("links back along the pipeline {tail} → {head}");
        assert!(names.contains(&back.as_str()), "{names:?}");
    }
}
