//! The simulate phase: the solved (or pinned) placement of a plan served request by
//! request, a discrete-event simulation on the solve phase's own step times
//! ([`model::StepModel`]; docs/simulation.md).
//!
//! Requests arrive (Poisson, a closed loop of clients, or a trace), are prefilled (on
//! prefill chips of their own, then their KV cache queues on the link; or in chunks
//! inside the decode steps when serving is aggregated), wait for a decode slot and KV
//! room, and decode one token per step (a random number per round when speculative)
//! with continuous batching. Every figure is per request; the summary gives means and
//! percentiles beside the analytical model's means.

pub mod model;
pub mod rng;
pub mod search;
/// Traces are read with the workload that names them (resolve) or by the CLI.
pub use crate::resolve::trace;

pub use crate::diagnostics::catalog::SimProblem;
use crate::ir::Plan;
use crate::solve::Point;
use model::StepModel;
use rng::Rng;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

pub use crate::ir::{SIM_MAX_LENGTH as MAX_LENGTH, SIM_MAX_REQUESTS as MAX_REQUESTS};
/// Most output tokens one simulation may generate in all (bounds its steps).
pub const MAX_TOTAL_TOKENS: u64 = 500_000_000;
/// Samples kept of each counter over time (queue, running batch, KV use).
pub const MAX_SAMPLES: usize = 4096;

/// How requests arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// a Poisson process of this many requests per second
    Poisson { rate: f64 },
    /// independent gamma-distributed gaps of this shape, at this mean rate
    Gamma { rate: f64, shape: f64 },
    /// this many clients, each sending its next request when its last one finishes
    Closed { clients: u64 },
    /// arrival times and lengths read from a trace, the times multiplied by `scale`
    Trace { rows: std::sync::Arc<Vec<trace::Row>>, scale: f64 },
}

impl Arrivals {
    /// Drawn arrivals at `rate` requests per second with a workload's `burstiness`
    /// (Poisson at 1).
    pub fn renewal(rate: f64, burstiness: f64) -> Arrivals {
        if burstiness == 1.0 {
            Arrivals::Poisson { rate }
        } else {
            Arrivals::Gamma { rate, shape: burstiness }
        }
    }

    /// A trace as recorded.
    pub fn trace(rows: Vec<trace::Row>) -> Arrivals {
        Arrivals::Trace { rows: std::sync::Arc::new(rows), scale: 1.0 }
    }

    /// The workload's own arrival process, for a run of `point`'s placement: its trace,
    /// its `rate`, or (without either) a closed loop at the solved batch.
    pub fn of_workload(process: &crate::ir::ArrivalProcess, batch: u64) -> Arrivals {
        use crate::ir::ArrivalProcess as P;
        match process {
            P::Trace { rows, .. } => Arrivals::Trace { rows: rows.clone(), scale: 1.0 },
            P::Renewal { rate: Some(rate), burstiness, .. } => Arrivals::renewal(*rate, *burstiness),
            P::Renewal { rate: None, .. } | P::Closed => Arrivals::Closed { clients: batch },
        }
    }

    /// The mean arrival rate of a trace as recorded: its requests over the time from
    /// the first arrival to the last (`None` when they all arrive at once).
    pub fn trace_rate(rows: &[trace::Row]) -> Option<f64> {
        let first = rows.first()?.arrival;
        let span = rows.last()?.arrival - first;
        (span > 0.0 && rows.len() > 1).then(|| (rows.len() - 1) as f64 / span)
    }
}

/// How long prompts or answers are (tokens).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lengths {
    Fixed(u64),
    /// uniform over `lo..=hi`
    Uniform(u64, u64),
    /// lognormal with this mean and this standard deviation of the logarithm, rounded
    /// to whole tokens and cut off at [`LOGNORMAL_CAP`] times the mean
    LogNormal {
        mean: f64,
        sigma: f64,
    },
}

/// Draws of a lognormal length longer than this many times its mean are cut off there.
pub const LOGNORMAL_CAP: f64 = 8.0;

impl Lengths {
    /// A workload's lengths around `mean` tokens, as its `lengths` and `spread` say.
    pub fn of_traffic(mean: u64, t: &crate::ir::Traffic) -> Lengths {
        let mean = mean.clamp(1, MAX_LENGTH);
        match t.lengths {
            crate::ir::LengthShape::Fixed => Lengths::Fixed(mean),
            crate::ir::LengthShape::Uniform => {
                let half = (mean as f64 * t.spread).round() as u64;
                Lengths::Uniform(mean.saturating_sub(half).max(1), (mean + half).min(MAX_LENGTH))
            }
            crate::ir::LengthShape::LogNormal => Lengths::LogNormal { mean: mean as f64, sigma: t.spread },
        }
    }

    /// Checks the parameters: a reason when they are not a distribution of lengths.
    pub fn check(&self) -> Result<(), SimProblem> {
        match *self {
            Lengths::Fixed(n) if n == 0 || n > MAX_LENGTH => Err(SimProblem::FixedLength { tokens: n, max: MAX_LENGTH }),
            Lengths::Uniform(lo, hi) if lo == 0 || hi > MAX_LENGTH || lo > hi => {
                Err(SimProblem::UniformLength { low: lo, high: hi, max: MAX_LENGTH })
            }
            Lengths::LogNormal { mean, sigma } if !(1.0..=MAX_LENGTH as f64).contains(&mean) || !(0.0..=3.0).contains(&sigma) => {
                Err(SimProblem::LogNormalLength { mean, sigma, max: MAX_LENGTH })
            }
            _ => Ok(()),
        }
    }

    /// The longest length a draw can give.
    pub fn longest(&self) -> u64 {
        match *self {
            Lengths::Fixed(n) => n,
            Lengths::Uniform(_, hi) => hi,
            Lengths::LogNormal { mean, .. } => ((mean * LOGNORMAL_CAP).round() as u64).clamp(1, MAX_LENGTH),
        }
    }

    fn draw(&self, rng: &mut Rng) -> u64 {
        match *self {
            Lengths::Fixed(n) => n,
            Lengths::Uniform(lo, hi) => rng.between(lo, hi),
            Lengths::LogNormal { mean, sigma } => {
                // the mean of exp(N(mu, sigma^2)) is exp(mu + sigma^2 / 2)
                let mu = mean.ln() - sigma * sigma / 2.0;
                let x = (mu + sigma * rng.normal()).exp();
                (x.round() as u64).clamp(1, self.longest())
            }
        }
    }
}

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arrivals: Arrivals,
    pub input: Lengths,
    pub output: Lengths,
    /// requests to run (a trace runs its own rows)
    pub requests: u64,
    pub seed: u64,
    /// most sequences decoding at once; default: the solved batch
    pub max_batch: Option<u64>,
    /// shared prompt prefixes a cache can hold (the workload's `prefix`)
    pub prefix: Option<crate::ir::Prefix>,
}

impl Config {
    /// The plan's own workload (its arrivals, lengths, prefixes and seed; without a
    /// `rate` or `trace`, a closed loop at the solved batch), 10,000 requests.
    pub fn of_plan(plan: &Plan, point: &Point) -> Config {
        let w = &plan.workload;
        Config {
            arrivals: Arrivals::of_workload(&w.traffic.arrivals, point.instance.batch),
            input: Lengths::of_traffic(w.input_tokens, &w.traffic),
            output: Lengths::of_traffic(w.output_tokens, &w.traffic),
            requests: 10_000,
            seed: w.traffic.seed,
            max_batch: None,
            prefix: w.prefix,
        }
    }
}

/// One request as it went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    pub arrival: f64,
    pub input: u64,
    pub output: u64,
    /// when its prefill started (on prefill chips, or its first chunk's step)
    pub prefill_start: f64,
    pub first_token: f64,
    pub finish: f64,
    /// the shared prefix its prompt begins with (prefix reuse), and the prompt tokens
    /// it found in the cache and did not prefill (0 on a miss)
    pub prefix: Option<u32>,
    pub cached: u64,
}

impl Request {
    pub fn ttft(&self) -> f64 {
        self.first_token - self.arrival
    }

    /// Mean time between its output tokens after the first (0 for one-token answers).
    pub fn tpot(&self) -> f64 {
        if self.output > 1 {
            (self.finish - self.first_token) / (self.output - 1) as f64
        } else {
            0.0
        }
    }

    pub fn e2e(&self) -> f64 {
        self.finish - self.arrival
    }
}

/// A counter's sample: at `time`, requests waiting (for prefill or a decode slot), in
/// the running batch, and KV-cache tokens reserved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub time: f64,
    pub waiting: u64,
    pub running: u64,
    pub kv_tokens: u64,
}

/// Mean and percentiles of one figure over the requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Dist {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Dist {
    /// Nearest-rank percentiles of `xs`.
    pub fn of(mut xs: Vec<f64>) -> Dist {
        if xs.is_empty() {
            return Dist::default();
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let rank = |q: f64| nearest_rank(&xs, q);
        Dist { mean: xs.iter().sum::<f64>() / n as f64, p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), max: xs[n - 1] }
    }
}

/// The nearest-rank quantile `q` of ascending `sorted` (0 when empty): the smallest
/// value with at least a share `q` of the values at or below it.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
}

/// The analytical model's means for the same placement (what the solver reported).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Analytical {
    pub ttft_s: f64,
    pub tpot_s: f64,
    pub tokens_per_s: f64,
    pub batch: u64,
}

/// The prefix cache over a run.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PrefixStats {
    /// the share of requests with a shared prefix that found it cached
    pub hit_rate: f64,
    /// the share the analytical model takes (the workload's `prefix_hit`)
    pub model_hit_rate: f64,
    /// cached prefixes evicted to make room
    pub evictions: u64,
    /// prompt tokens served from the cache instead of prefilled
    pub cached_tokens: u64,
}

/// What a simulation gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub requests: Vec<Request>,
    /// from the first arrival to the last finish (seconds)
    pub duration: f64,
    pub samples: Vec<Sample>,
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub requests: u64,
    pub duration_s: f64,
    pub ttft_s: Dist,
    pub tpot_s: Dist,
    pub e2e_s: Dist,
    /// output tokens per second over the run
    pub tokens_per_s: f64,
    pub requests_per_s: f64,
    /// requests per second that met every SLO of the plan (TTFT and TPOT limits)
    pub goodput_requests_per_s: f64,
    /// the share of requests that met them
    pub good_share: f64,
    /// the SLO limits goodput counts against (seconds), when the plan has them
    pub ttft_limit_s: Option<f64>,
    pub tpot_limit_s: Option<f64>,
    /// mean wait before prefill started (seconds)
    pub prefill_wait_s: f64,
    /// prefix reuse: how the prefix cache did (absent without a shared prefix)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<PrefixStats>,
    /// Little's law: the time-averaged requests in the system, and arrival rate times
    /// mean time in the system (equal up to rounding)
    pub little_l: f64,
    pub little_lambda_w: f64,
    pub analytical: Analytical,
}

/// Events, in time order; at equal times in this order (a finishing step frees its
/// slots before the arrivals of the same instant are admitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    StepDone,
    KvReady(usize),
    PrefillDone(usize),
    /// a pipelined prefill replica may start its next prompt
    PrefillFree,
    Arrive(usize),
    /// a request reaches the engine after its first-token latency ([`StepModel::first_token`])
    Enter(usize),
}

/// Non-negative seconds as a totally ordered key (the bits of a non-negative f64 order
/// as the numbers do).
fn key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

/// The prefix cache: one entry per shared prefix, `tokens` each, in the KV memory of
/// the chips that prefill (docs/simulation.md, "Prefix caching"). An entry is held while
/// a request uses it (its KV blocks are shared) and is evictable, least recently
/// released first, once none does.
struct PrefixCache {
    tokens: u64,
    /// KV tokens the entries may take: `None` when they share the decode chips' cache
    /// with the running requests (aggregated serving), else the prefill chips' spare
    capacity: Option<u64>,
    /// per prefix: cached, and requests holding it
    cached: Vec<bool>,
    refs: Vec<u32>,
    /// cached entries no request holds, by when they were last released
    idle: BTreeSet<(u64, u32)>,
    released_at: Vec<u64>,
    clock: u64,
    /// tokens the cached entries hold
    used: u64,
    lookups: u64,
    hits: u64,
    evictions: u64,
}

impl PrefixCache {
    fn new(prefix: &crate::ir::Prefix, capacity: Option<u64>) -> PrefixCache {
        let n = prefix.distinct.clamp(1, crate::ir::MAX_PREFIXES) as usize;
        PrefixCache {
            tokens: prefix.tokens,
            capacity,
            cached: vec![false; n],
            refs: vec![0; n],
            idle: BTreeSet::new(),
            released_at: vec![0; n],
            clock: 0,
            used: 0,
            lookups: 0,
            hits: 0,
            evictions: 0,
        }
    }

    /// Looks prefix `id` up for a request: on a hit the request holds the entry.
    fn lookup(&mut self, id: u32) -> bool {
        self.lookups += 1;
        let k = id as usize;
        if !self.cached[k] {
            return false;
        }
        self.hits += 1;
        if self.refs[k] == 0 {
            self.idle.remove(&(self.released_at[k], id));
        }
        self.refs[k] += 1;
        true
    }

    fn release(&mut self, id: u32) {
        let k = id as usize;
        self.refs[k] -= 1;
        if self.refs[k] == 0 {
            self.clock += 1;
            self.released_at[k] = self.clock;
            self.idle.insert((self.clock, id));
        }
    }

    /// Evicts the least recently released idle entry other than `keep`; false when
    /// there is none.
    fn evict_except(&mut self, keep: Option<u32>) -> bool {
        let Some(&(at, id)) = self.idle.iter().find(|(_, id)| Some(*id) != keep) else { return false };
        self.idle.remove(&(at, id));
        self.cached[id as usize] = false;
        self.used -= self.tokens;
        self.evictions += 1;
        true
    }

    /// A request computed prefix `id`: it becomes an entry the request holds, when it
    /// is not one already and (with a capacity of its own) room can be made.
    fn insert(&mut self, id: u32) -> bool {
        let k = id as usize;
        if self.cached[k] {
            return false;
        }
        if let Some(cap) = self.capacity {
            if self.tokens > cap {
                return false;
            }
            while self.used + self.tokens > cap {
                if !self.evict_except(None) {
                    return false;
                }
            }
        }
        self.cached[k] = true;
        self.used += self.tokens;
        self.refs[k] = 1;
        true
    }
}

/// The run's state beside the requests.
struct Sim<'a> {
    m: &'a StepModel,
    reqs: Vec<Request>,
    /// tokens generated so far, and prompt tokens prefilled (aggregated)
    generated: Vec<u64>,
    prefilled: Vec<u64>,
    events: BinaryHeap<Reverse<(u64, Event, u64)>>,
    seq: u64,
    /// waiting for a free prefill server (disaggregated)
    prefill_queue: VecDeque<usize>,
    prefill_free: u64,
    link_free: f64,
    /// waiting for a decode slot and KV room
    decode_queue: VecDeque<usize>,
    /// admitted: decoding, and (aggregated) still prefilling, in admission order, per
    /// variant of the model (one list each for one model; docs/cost-model.md §15)
    decoding: Vec<Vec<usize>>,
    prefilling: Vec<VecDeque<usize>>,
    /// Σ context of each variant's decoding sequences (tokens)
    context_sum: Vec<f64>,
    /// variants served in turn: the one the running step is of, and the next to look at
    stepping: usize,
    next_turn: usize,
    kv_used: u64,
    busy: bool,
    /// this step's prompt tokens per prefilling request
    chunk: Vec<(usize, u64)>,
    rng: Rng,
    samples: Vec<Sample>,
    sample_every: u64,
    steps: u64,
    // Little's law: requests in the system and its integral over time
    in_system: u64,
    area: f64,
    last_change: f64,
    done: usize,
    /// closed loop: the next request a finishing client sends
    next_closed: Option<usize>,
    /// prefix reuse: the cache, and per request the KV tokens it reserved on the decode
    /// chips and whether it holds a cache entry
    cache: Option<PrefixCache>,
    reserved: Vec<u64>,
    holds: Vec<bool>,
}

impl Sim<'_> {
    fn push(&mut self, t: f64, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((key(t), e, self.seq)));
    }

    fn population(&mut self, t: f64, delta: i64) {
        self.area += self.in_system as f64 * (t - self.last_change);
        self.last_change = t;
        self.in_system = (self.in_system as i64 + delta) as u64;
    }

    /// A request is sent: it is in the system from now, and reaches the engine after the
    /// engine's first-token latency (at once without one).
    fn arrive(&mut self, t: f64, i: usize) {
        self.population(t, 1);
        if self.m.first_token > 0.0 {
            self.push(t + self.m.first_token, Event::Enter(i));
        } else {
            self.enter(t, i);
        }
    }

    fn enter(&mut self, t: f64, i: usize) {
        if self.m.prefill.is_some() {
            self.prefill_queue.push_back(i);
            self.start_prefills(t);
        } else {
            self.decode_queue.push_back(i);
        }
    }

    fn start_prefills(&mut self, t: f64) {
        let Some(p) = &self.m.prefill else { return };
        while self.prefill_free > 0 {
            let Some(i) = self.prefill_queue.pop_front() else { break };
            self.prefill_free -= 1;
            self.reqs[i].prefill_start = t;
            let hit = match (&mut self.cache, self.reqs[i].prefix) {
                (Some(c), Some(id)) => c.lookup(id),
                _ => false,
            };
            let time = if hit {
                self.holds[i] = true;
                self.reqs[i].cached = self.m.prefix_tokens;
                p.time_cached(self.reqs[i].input)
            } else {
                p.time(self.reqs[i].input)
            };
            self.push(t + time, Event::PrefillDone(i));
            // a pipeline's first stage takes the next prompt before this one is done
            if p.pipelined {
                self.push(t + p.interval(self.reqs[i].input, hit), Event::PrefillFree);
            }
        }
    }

    /// A pipelined replica's slowest stage is through with a prompt: it may start another.
    fn prefill_free(&mut self, t: f64) {
        self.prefill_free += 1;
        self.start_prefills(t);
    }

    /// A prefill server finished: the KV cache queues for the link (its bytes one
    /// transfer after another, the latency beside them).
    fn prefill_done(&mut self, t: f64, i: usize) {
        if !self.m.prefill.as_ref().is_some_and(|p| p.pipelined) {
            self.prefill_free += 1;
        }
        // the prefill chips' cache: a hit lets its entry go, a miss leaves its prefix
        if let (Some(c), Some(id)) = (&mut self.cache, self.reqs[i].prefix) {
            // a hit held its entry while it prefilled; an entry a miss made starts held
            if std::mem::take(&mut self.holds[i]) || c.insert(id) {
                c.release(id);
            }
        }
        let (latency, busy) = self.m.prefill.as_ref().map_or((0.0, 0.0), |p| p.transfer(self.reqs[i].input));
        let start = t.max(self.link_free);
        self.link_free = start + busy;
        self.push(start + busy + latency, Event::KvReady(i));
        self.start_prefills(t);
    }

    /// The KV cache arrived: the first token (prefill made it) is out; the rest need
    /// a decode slot.
    fn kv_ready(&mut self, t: f64, i: usize) {
        self.reqs[i].first_token = t;
        self.generated[i] = 1;
        if self.reqs[i].output <= 1 {
            self.finish(t, i);
        } else {
            self.decode_queue.push_back(i);
        }
    }

    /// KV-cache tokens the prefix cache's entries take in the decode chips' memory (with
    /// aggregated serving; prefill chips of their own keep it otherwise).
    fn cache_in_kv(&self) -> u64 {
        match (&self.cache, &self.m.prefill) {
            (Some(c), None) => c.used,
            _ => 0,
        }
    }

    /// A request is done: its KV room and any cache entry it holds are let go.
    fn finish(&mut self, t: f64, i: usize) {
        self.reqs[i].finish = t;
        self.kv_used -= std::mem::take(&mut self.reserved[i]);
        if let (Some(c), Some(id), true) = (&mut self.cache, self.reqs[i].prefix, std::mem::take(&mut self.holds[i])) {
            c.release(id);
        }
        self.population(t, -1);
        self.done += 1;
        if let Some(next) = self.next_closed {
            if next < self.reqs.len() {
                self.next_closed = Some(next + 1);
                self.reqs[next].arrival = t;
                self.push(t, Event::Arrive(next));
            }
        }
    }

    /// Admits waiting requests in arrival order while a slot (of their variant's share,
    /// with variants) and their whole KV cache (prompt and answer) fit; the first that
    /// does not fit holds the rest back. With
    /// aggregated serving's prefix cache in the same memory, a request whose prefix is
    /// cached needs room only for the rest, and idle entries are evicted (least recently
    /// used first) before a request waits for room.
    fn admit(&mut self, t: f64) {
        // variants served in turn: each variant's engine holds its share of the batch
        // (what its steps are priced up to, docs/cost-model.md §15)
        let per_variant = self.m.max_batch.div_ceil(self.decoding.len() as u64);
        while let Some(&i) = self.decode_queue.front() {
            let v = self.variant(i);
            if self.running() >= self.m.max_batch || (self.decoding[v].len() + self.prefilling[v].len()) as u64 >= per_variant {
                break;
            }
            // aggregated serving's cache is in this memory: a cached prefix is shared
            let own_cache = self.m.prefill.is_none();
            let prefix = self.reqs[i].prefix.filter(|_| own_cache);
            let shared = match (&self.cache, prefix) {
                (Some(c), Some(id)) if c.cached[id as usize] => c.tokens,
                _ => 0,
            };
            let need = self.reqs[i].input + self.reqs[i].output - shared;
            if self.kv_used + self.cache_in_kv() + need > self.m.kv_tokens {
                // an idle entry other than the one this request would share makes room
                let keep = prefix.filter(|_| shared > 0);
                if own_cache && self.cache.as_mut().is_some_and(|c| c.evict_except(keep)) {
                    continue;
                }
                break;
            }
            self.decode_queue.pop_front();
            self.kv_used += need;
            self.reserved[i] = need;
            if let (Some(c), Some(id)) = (&mut self.cache, prefix) {
                // the entry is still there (it was spared): a hit holds it
                if c.lookup(id) {
                    self.holds[i] = true;
                    self.reqs[i].cached = shared;
                    self.prefilled[i] = shared;
                }
            }
            if self.m.prefill.is_some() {
                self.context_sum[v] += (self.reqs[i].input + self.generated[i]) as f64;
                self.decoding[v].push(i);
            } else {
                self.reqs[i].prefill_start = t;
                self.prefilling[v].push_back(i);
            }
        }
    }

    fn sample(&mut self, t: f64) {
        self.steps += 1;
        if self.steps % self.sample_every != 0 {
            return;
        }
        if self.samples.len() >= MAX_SAMPLES {
            // keep every other sample and sample half as often
            let kept: Vec<Sample> = self.samples.iter().copied().step_by(2).collect();
            self.samples = kept;
            self.sample_every *= 2;
        }
        self.samples.push(Sample {
            time: t,
            waiting: (self.prefill_queue.len() + self.decode_queue.len()) as u64,
            running: self.running(),
            kv_tokens: self.kv_used + self.cache_in_kv(),
        });
    }

    /// The variant request `i` is of: requests are spread over the variants in turn.
    fn variant(&self, i: usize) -> usize {
        i % self.decoding.len()
    }

    /// Sequences admitted, decoding or prefilling, of every variant.
    fn running(&self) -> u64 {
        self.decoding.iter().zip(&self.prefilling).map(|(d, p)| (d.len() + p.len()) as u64).sum()
    }

    /// Starts a step when the decode chips are idle and have work: of the next variant in
    /// turn that has sequences (of the model, for one).
    fn try_step(&mut self, t: f64) {
        if self.busy {
            return;
        }
        self.admit(t);
        let k = self.decoding.len();
        let Some(v) = (0..k).map(|j| (self.next_turn + j) % k).find(|&v| !self.decoding[v].is_empty() || !self.prefilling[v].is_empty())
        else {
            return;
        };
        self.stepping = v;
        self.next_turn = (v + 1) % k;
        self.sample(t);
        // this step's chunk: prompt tokens in admission order, up to the budget
        self.chunk.clear();
        let mut budget = self.m.chunk_tokens;
        let mut prompt = 0;
        for &i in &self.prefilling[v] {
            if budget == 0 {
                break;
            }
            let take = (self.reqs[i].input - self.prefilled[i]).min(budget);
            budget -= take;
            prompt += take;
            self.chunk.push((i, take));
        }
        let b = self.decoding[v].len() as u64;
        let context =
            if b > 0 { self.context_sum[v] / b as f64 } else { self.chunk.first().map_or(1.0, |&(i, _)| self.reqs[i].input as f64) };
        let dt = self.m.decode(b, context) + self.m.per_prompt_token * prompt as f64;
        self.busy = true;
        self.push(t + dt, Event::StepDone);
    }

    /// A step ended: every decoding sequence of its variant has its tokens, prompts their
    /// chunks.
    fn step_done(&mut self, t: f64) {
        self.busy = false;
        let v = self.stepping;
        let mut k = 0;
        while k < self.decoding[v].len() {
            let i = self.decoding[v][k];
            let tokens = match self.m.speculative {
                None => 1,
                Some((lookahead, acceptance)) => 1 + (0..lookahead).take_while(|_| self.rng.chance(acceptance)).count() as u64,
            };
            let add = tokens.min(self.reqs[i].output - self.generated[i]);
            self.generated[i] += add;
            self.context_sum[v] += add as f64;
            if self.generated[i] >= self.reqs[i].output {
                self.decoding[v].swap_remove(k);
                self.context_sum[v] -= (self.reqs[i].input + self.generated[i]) as f64;
                self.finish(t, i);
            } else {
                k += 1;
            }
        }
        // swap_remove changes the order only among decoding sequences, which step together
        for idx in 0..self.chunk.len() {
            let (i, take) = self.chunk[idx];
            self.prefilled[i] += take;
            if self.prefilled[i] >= self.reqs[i].input {
                // the prompt's last chunk: its first token comes out of this step
                self.prefilling[v].retain(|&x| x != i);
                self.reqs[i].first_token = t;
                self.generated[i] = 1;
                // a miss's prefix becomes the cache's entry: its tokens move from the
                // request's reservation to the entry, which the request holds
                if let (false, Some(c), Some(id)) = (self.holds[i], &mut self.cache, self.reqs[i].prefix) {
                    if c.insert(id) {
                        self.holds[i] = true;
                        self.reserved[i] -= c.tokens;
                        self.kv_used -= c.tokens;
                    }
                }
                if self.reqs[i].output <= 1 {
                    self.finish(t, i);
                } else {
                    self.context_sum[v] += (self.reqs[i].input + 1) as f64;
                    self.decoding[v].push(i);
                }
            }
        }
        if self.context_sum[v].abs() < 0.5 {
            self.context_sum[v] = 0.0; // no drift once empty
        }
    }
}

/// Why a simulation cannot run (the catalog words it).
#[derive(Clone, Debug, PartialEq)]
pub struct SimError(pub SimProblem);

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The requests of `config` (arrival times and lengths), drawn with its seed; closed
/// loops get their arrivals as the run goes.
fn draw_requests(config: &Config, rng: &mut Rng) -> Result<Vec<Request>, SimError> {
    let blank = |arrival: f64, input: u64, output: u64| Request {
        arrival,
        input,
        output,
        prefill_start: 0.0,
        first_token: 0.0,
        finish: 0.0,
        prefix: None,
        cached: 0,
    };
    // prefix reuse: a prompt longer than the prefix begins with one of them, drawn
    // uniformly (after the lengths, so a workload without one draws as before)
    let with_prefix = |mut r: Request, rng: &mut Rng| {
        if let Some(p) = config.prefix {
            if r.input > p.tokens {
                r.prefix = Some(rng.between(0, p.distinct.clamp(1, crate::ir::MAX_PREFIXES) - 1) as u32);
            }
        }
        r
    };
    match &config.arrivals {
        Arrivals::Trace { rows, scale } => {
            if rows.len() as u64 > MAX_REQUESTS {
                return Err(SimError(SimProblem::TraceTooLong { requests: rows.len(), max: MAX_REQUESTS }));
            }
            Ok(rows.iter().map(|r| with_prefix(blank(r.arrival * scale, r.input, r.output), rng)).collect())
        }
        other => {
            if config.requests == 0 || config.requests > MAX_REQUESTS {
                return Err(SimError(SimProblem::RequestCount { requests: config.requests, max: MAX_REQUESTS }));
            }
            config.input.check().map_err(SimError)?;
            config.output.check().map_err(SimError)?;
            let mut t = 0.0;
            let mut out = Vec::with_capacity(config.requests as usize);
            for _ in 0..config.requests {
                match *other {
                    Arrivals::Poisson { rate } => t += rng.exponential(1.0 / rate),
                    // a gamma gap of shape k and mean 1/rate: a unit-scale draw over k·rate
                    Arrivals::Gamma { rate, shape } => t += rng.gamma(shape) / (shape * rate),
                    _ => {}
                }
                let mut input = config.input.draw(rng);
                let output = config.output.draw(rng);
                if let Some(p) = config.prefix {
                    // every drawn prompt holds the prefix and at least a token of its own
                    input = input.max(p.tokens + 1);
                }
                out.push(with_prefix(blank(t, input, output), rng));
            }
            Ok(out)
        }
    }
}

/// Checks `config` and draws its requests.
fn prepare(config: &Config) -> Result<Vec<Request>, SimError> {
    match config.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Gamma { rate, .. } if !(rate.is_finite() && rate > 0.0) => {
            return Err(SimError(SimProblem::Rate(rate)))
        }
        Arrivals::Gamma { shape, .. } if !(crate::ir::MIN_BURSTINESS..=crate::ir::MAX_BURSTINESS).contains(&shape) => {
            return Err(SimError(SimProblem::Burstiness(shape)))
        }
        Arrivals::Trace { scale, .. } if !(scale.is_finite() && scale > 0.0) => return Err(SimError(SimProblem::TraceScale(scale))),
        Arrivals::Closed { clients } if clients == 0 || clients > MAX_REQUESTS => {
            return Err(SimError(SimProblem::Clients { clients, max: MAX_REQUESTS }))
        }
        _ => {}
    }
    let mut rng = Rng::new(config.seed);
    let reqs = draw_requests(config, &mut rng)?;
    if reqs.is_empty() {
        return Err(SimError(SimProblem::NoRequests));
    }
    let total: u64 = reqs.iter().map(|r| r.output).sum();
    if total > MAX_TOTAL_TOKENS {
        return Err(SimError(SimProblem::TooManyTokens { total, max: MAX_TOTAL_TOKENS }));
    }
    Ok(reqs)
}

/// Simulates `point`'s placement of `plan` under `config`.
pub fn simulate(plan: &Plan, point: &Point, config: &Config) -> Result<Outcome, SimError> {
    let reqs = prepare(config)?;
    let longest_prompt = reqs.iter().map(|r| r.input).max().unwrap_or(1);
    let m = StepModel::new(plan, point, config.max_batch, longest_prompt, config.prefix.map(|p| p.tokens))?;
    run(plan, point, &m, config, reqs)
}

/// [`simulate`] on a step model already priced (the rate search prices each
/// configuration once); `m` must price prompts as long as `config` draws.
pub fn simulate_on(plan: &Plan, point: &Point, m: &StepModel, config: &Config) -> Result<Outcome, SimError> {
    let reqs = prepare(config)?;
    run(plan, point, m, config, reqs)
}

fn run(plan: &Plan, point: &Point, m: &StepModel, config: &Config, reqs: Vec<Request>) -> Result<Outcome, SimError> {
    if let Some(p) = &m.prefill {
        if let Some(r) = reqs.iter().find(|r| r.input > p.longest()) {
            return Err(SimError(SimProblem::PromptBeyondPriced { tokens: r.input, longest: p.longest() }));
        }
    }
    if let Some(r) = reqs.iter().find(|r| r.input + r.output > m.kv_tokens) {
        return Err(SimError(SimProblem::RequestBeyondKv { input: r.input, output: r.output, batch: m.max_batch, kv_tokens: m.kv_tokens }));
    }
    let rng = Rng::new(config.seed ^ 0x005E_ED0F_D4A7);
    let n = reqs.len();
    let mut sim = Sim {
        m,
        reqs,
        generated: vec![0; n],
        prefilled: vec![0; n],
        events: BinaryHeap::new(),
        seq: 0,
        prefill_queue: VecDeque::new(),
        prefill_free: m.prefill.as_ref().map_or(0, |p| p.replicas),
        link_free: 0.0,
        decode_queue: VecDeque::new(),
        decoding: vec![Vec::new(); m.variants.max(1) as usize],
        prefilling: vec![VecDeque::new(); m.variants.max(1) as usize],
        context_sum: vec![0.0; m.variants.max(1) as usize],
        stepping: 0,
        next_turn: 0,
        kv_used: 0,
        busy: false,
        chunk: Vec::new(),
        rng,
        samples: Vec::new(),
        sample_every: 1,
        steps: 0,
        in_system: 0,
        area: 0.0,
        last_change: 0.0,
        done: 0,
        next_closed: None,
        cache: config.prefix.map(|p| {
            let capacity = m.prefill.as_ref().map(|p| p.cache_tokens);
            PrefixCache::new(&p, capacity)
        }),
        reserved: vec![0; n],
        holds: vec![false; n],
    };
    match config.arrivals {
        Arrivals::Closed { clients } => {
            // Clients start spread evenly over one request's life as the analytical model
            // prices it, so the loop starts near its steady state: started together with
            // fixed lengths, they would stay in lockstep for ever.
            let first = (clients as usize).min(n);
            let inst = &point.instance;
            let d = point.decode();
            let life = inst.pair_ttft(d, point.prefill()).unwrap_or(0.0) + d.tpot * inst.output_tokens;
            for i in 0..first {
                let t = if life.is_finite() { life * i as f64 / first as f64 } else { 0.0 };
                sim.reqs[i].arrival = t;
                sim.push(t, Event::Arrive(i));
            }
            sim.next_closed = Some(first);
        }
        _ => {
            for i in 0..n {
                let t = sim.reqs[i].arrival;
                sim.push(t, Event::Arrive(i));
            }
        }
    }
    sim.last_change = sim.reqs.iter().map(|r| r.arrival).fold(f64::INFINITY, f64::min);
    while let Some(Reverse((k, event, _))) = sim.events.pop() {
        let t = f64::from_bits(k);
        match event {
            Event::Arrive(i) => sim.arrive(t, i),
            Event::Enter(i) => sim.enter(t, i),
            Event::PrefillDone(i) => sim.prefill_done(t, i),
            Event::PrefillFree => sim.prefill_free(t),
            Event::KvReady(i) => sim.kv_ready(t, i),
            Event::StepDone => sim.step_done(t),
        }
        sim.try_step(t);
    }
    if sim.done != n {
        return Err(SimError(SimProblem::Stalled { unfinished: n - sim.done, requests: n }));
    }
    let cache = sim.cache.as_ref().map(|c| (c.hits as f64 / c.lookups.max(1) as f64, c.evictions));
    let Sim { reqs, samples, area, .. } = sim;
    Ok(summarise(plan, point, reqs, samples, area, cache, config.prefix))
}

/// The tightest limits a request's TTFT and TPOT must meet to count towards goodput:
/// every SLO of the plan on them, a mean's or a percentile's (`tokens_per_s_per_user
/// >= X` as TPOT <= 1/X).
pub fn request_limits(plan: &Plan) -> (Option<f64>, Option<f64>) {
    use crate::ir::SloMetric;
    let tightest = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.min(b)));
    plan.slos.iter().fold((None, None), |(ttft, tpot), s| match s.metric {
        SloMetric::Ttft => (tightest(ttft, s.limit), tpot),
        SloMetric::Tpot => (ttft, tightest(tpot, s.limit)),
        SloMetric::TokensPerSUser => (ttft, tightest(tpot, 1.0 / s.limit)),
    })
}

/// `cache`: the prefix cache's hit rate and evictions.
fn summarise(
    plan: &Plan,
    point: &Point,
    reqs: Vec<Request>,
    samples: Vec<Sample>,
    area: f64,
    cache: Option<(f64, u64)>,
    prefix: Option<crate::ir::Prefix>,
) -> Outcome {
    let start = reqs.iter().map(|r| r.arrival).fold(f64::INFINITY, f64::min);
    let end = reqs.iter().map(|r| r.finish).fold(0.0, f64::max);
    let duration = (end - start).max(f64::MIN_POSITIVE);
    let n = reqs.len() as f64;
    let inst = &point.instance;
    let (ttft_limit, tpot_limit) = request_limits(plan);
    let good = reqs.iter().filter(|r| ttft_limit.is_none_or(|l| r.ttft() <= l) && tpot_limit.is_none_or(|l| r.tpot() <= l)).count() as f64;
    let d = point.decode();
    let p = point.prefill();
    let analytical = Analytical {
        ttft_s: inst.pair_ttft(d, p).unwrap_or(f64::NAN),
        tpot_s: d.tpot,
        tokens_per_s: inst.throughput(point.choice.decode),
        batch: inst.batch,
    };
    let mean_sojourn = reqs.iter().map(|r| r.e2e()).sum::<f64>() / n;
    let summary = Summary {
        requests: reqs.len() as u64,
        duration_s: duration,
        ttft_s: Dist::of(reqs.iter().map(|r| r.ttft()).collect()),
        tpot_s: Dist::of(reqs.iter().filter(|r| r.output > 1).map(|r| r.tpot()).collect()),
        e2e_s: Dist::of(reqs.iter().map(|r| r.e2e()).collect()),
        tokens_per_s: reqs.iter().map(|r| r.output).sum::<u64>() as f64 / duration,
        requests_per_s: n / duration,
        goodput_requests_per_s: good / duration,
        good_share: good / n,
        ttft_limit_s: ttft_limit,
        tpot_limit_s: tpot_limit,
        prefill_wait_s: reqs.iter().map(|r| r.prefill_start - r.arrival).sum::<f64>() / n,
        prefix_cache: cache.zip(prefix).map(|((hit_rate, evictions), p)| PrefixStats {
            hit_rate,
            model_hit_rate: p.hit,
            evictions,
            cached_tokens: reqs.iter().map(|r| r.cached).sum(),
        }),
        little_l: area / duration,
        little_lambda_w: n / duration * mean_sojourn,
        analytical,
    };
    Outcome { requests: reqs, duration, samples, summary }
}
