//! Every decode batch of the workload's range, exactly (docs/solver.md, "Every batch").
//!
//! The ILP solves one batch at a time. The solver solves the seed batches ([`seeds`]) and
//! bounds the batches strictly between two solved ones from their two spaces
//! ([`bound`]); a range whose bound cannot beat the best point found is never solved,
//! any other is split at its middle, least bound first, until every batch of the range
//! is solved or bounded out. Exact because, for one decode layout, a larger batch never
//! steps faster, holds less memory or starts a first token sooner (the cost model's
//! monotonicity; `tests/batches.rs` checks the bound and the search against solving
//! every batch).

// `(key, batch)` orders: the least key, then the smaller batch (docs/solver.md)
use super::brute::{key_order as order, LeastFirst};
use super::space::{self, Choice, Instance};
use super::{brute, ilp, tie_goal, Goal, Point};
use crate::ir::Plan;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};

/// The largest batch below which every batch is a seed: microbatches (1 to 8) and the
/// microbatches of a pipeline of up to 8 stages change with the batch up to here.
const EVERY_BATCH_UP_TO: u64 = 8;

/// The batches solved before any is bounded: the range's ends, every batch up to 8
/// (where microbatch and pipeline layouts change), each ping-pong microbatch count above
/// it when the plan may put the FFN on another pool than attention (12, 16, 24, 32: a
/// layout of `m` microbatches exists from batch `m`), the powers of two between
/// (where data-parallel attention groups appear) and the group counts that fill a node
/// or pool (`space::whole_pool_groups`), ascending. Between two consecutive
/// seeds the same decode layouts exist at every batch, which the relaxation needs.
///
/// Variants served in turn (`variants = K`) step over `⌊B/K⌋` and `⌈B/K⌉` sequences each:
/// their layouts change where one variant's batch crosses those seeds, so the seeds are
/// `K` times the seeds of one variant's range, and the range's ends.
pub fn seeds(plan: &Plan) -> Vec<u64> {
    let (lo, hi) = plan.workload.concurrency;
    let k = plan.model.variants.max(1);
    let (per_lo, per_hi) = ((lo / k).max(1), (hi / k).max(1));
    let mut v = seeds_in(per_lo, per_hi, space::ffn_may_leave_attention(plan));
    // data-parallel group counts that fill a node or pool (not powers of two)
    v.extend(space::whole_pool_groups(plan).into_iter().filter(|d| (per_lo..=per_hi).contains(d)));
    if k > 1 {
        v = v.into_iter().map(|b| b.saturating_mul(k)).filter(|b| (lo..=hi).contains(b)).chain([lo, hi]).collect();
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// [`seeds`] of the range `lo..=hi`, with the ping-pong microbatch counts or without.
pub fn seeds_in(lo: u64, hi: u64, ping_pong: bool) -> Vec<u64> {
    let mut v: Vec<u64> = (lo..=hi.min(EVERY_BATCH_UP_TO)).collect();
    if ping_pong {
        v.extend(space::MICROBATCHES.iter().filter(|&&m| (lo..=hi).contains(&m)));
    }
    v.extend(space::batch_candidates(lo, hi));
    v.sort_unstable();
    v.dedup();
    v
}

/// Batches one search solves at most (docs/limits.md): a range whose bounds stay below
/// the best point found after this many is not searched further, and the answer says
/// how far from the best over every batch it may be (W0403).
pub const MAX_SOLVED: usize = 4096;

/// A point's order: the goal, then its tie-break ([`tie_goal`]); smaller is better.
pub type Key = (f64, f64);

/// The key of choice `c` of `inst`; `None` when it is infeasible.
pub fn key(inst: &Instance, c: Choice, goal: Goal) -> Option<Key> {
    let t = inst.totals(c)?;
    Some((goal.value(&t), tie_goal(inst).value(&t)))
}

/// The configuration spaces of one plan, each batch's built once.
pub struct Batches<'p> {
    plan: &'p Plan,
    prefill: Vec<space::PrefillOption>,
    built: BTreeMap<u64, Arc<Built>>,
    /// a TPOT bound in place of the plan's own, in every space (a sweep over the SLO)
    tpot_limit: Option<Option<f64>>,
    /// every decode layout met so far, numbered (so that [`bound`] compares numbers);
    /// shared with the spaces [`Batches::fork`] gave, which number alike
    layouts: Arc<Mutex<Layouts>>,
    /// after [`Batches::fork`]: the spaces any of the forks built, each taken from here
    /// before it is built again
    forked: Option<Arc<SharedSpaces>>,
    /// why options were left out, over every batch built
    pub excluded: Vec<space::Excluded>,
    /// the nominal spaces this plan's are taken from, and how ([`Batches::reusing`])
    from: Option<(&'p NominalSpaces<'p>, Reuse)>,
    /// the decode options each space is built with ([`Batches::aggregated`])
    kinds: space::Kinds,
    /// an empty list with the room of the largest space built so far: each space's
    /// options are built in it, and those kept moved to a list of their own size
    /// ([`Built::of`]), so that building many spaces neither grows a list each time nor
    /// keeps the room of the options left out
    scratch: Vec<space::DecodeOption>,
    /// a search builds the batches inside a range that only some ping-pong classes can
    /// win with only those ([`space::Only`]); off, every space it builds is whole (the
    /// same answers: `tests/batches.rs`)
    restricting: bool,
    /// what every space built here and by the forks shares at this plan's figures
    /// ([`space::SpaceCache`])
    shared: Arc<space::SpaceCache>,
    /// with [`space::Kinds::Aggregated`]: the whole spaces another search of the plan
    /// built ([`Batches::aggregated`]), whose aggregated options are this one's at
    /// those batches
    whole: BTreeMap<u64, Arc<Built>>,
}

/// Spaces built by any of a search's forks ([`Batches::fork`]), by batch.
type SharedSpaces = Mutex<BTreeMap<u64, Arc<Built>>>;

/// What a plan with one figure moved can take of its nominal spaces ([`Batches::reusing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// everything: the figure moves only prices or powers (`Figure::moves_only_spend`),
    /// and each option's dollars and watts are taken again ([`Instance::repriced`])
    Repriced,
    /// the decode options: no decode option reads the figure (a chip or link only the
    /// plan's own prefill chips use), and only the prefill options are built again
    Decode,
}

/// A plan's spaces at its nominal figures, each batch's built once and shared by the
/// threads that solve the plan again with a figure moved that leaves some of each space
/// as it is ([`Reuse`]): a price or a power (every option repriced), or a figure no
/// decode option reads (the decode options kept). Reuse costs a copy where building
/// costs every decode option's step. It keeps what the searches asked for:
/// as many batches as they built (each search at most [`MAX_SOLVED`] and its bounds'
/// neighbours), for as long as the plan's inputs are varied.
pub struct NominalSpaces<'p> {
    plan: &'p Plan,
    prefill: Vec<space::PrefillOption>,
    built: Mutex<BTreeMap<u64, Arc<Instance>>>,
    /// each space as a search keeps it ([`Built::of`]), for the plans that only reprice
    /// it ([`Reuse::Repriced`]), its classes numbered by `layouts`
    kept: Mutex<BTreeMap<u64, Arc<Built>>>,
    layouts: Arc<Mutex<Layouts>>,
    /// what the spaces at the nominal figures share ([`space::SpaceCache`])
    shared: space::SpaceCache,
}

impl<'p> NominalSpaces<'p> {
    pub fn new(plan: &'p Plan) -> NominalSpaces<'p> {
        NominalSpaces::after(plan, None)
    }

    /// The nominal spaces of `plan`, those its solve kept (`solved`: [`Batches::kept`])
    /// taken as they are: a plan repriced after its solve does not build them again.
    pub fn after(plan: &'p Plan, solved: Option<&Kept>) -> NominalSpaces<'p> {
        NominalSpaces {
            plan,
            prefill: space::prefill_options(plan, &mut Vec::new()),
            built: Mutex::new(BTreeMap::new()),
            kept: Mutex::new(solved.map(|k| k.built.clone()).unwrap_or_default()),
            layouts: solved.map(|k| k.layouts.clone()).unwrap_or_default(),
            shared: Default::default(),
        }
    }

    /// The nominal space at batch `b` (built by the first thread to ask; another asking
    /// meanwhile builds it too, and the first kept is the one shared: they are equal).
    fn at(&self, b: u64) -> Arc<Instance> {
        once_per_batch(&self.built, b, || {
            let decode = space::decode_options_in(self.plan, b, space::Kinds::All, &mut Vec::new(), Vec::new(), Some(&self.shared));
            space::instance_over(self.plan, b, decode, &self.prefill)
        })
    }

    /// The nominal space at batch `b` as a search keeps it ([`Built::of`]; built, like
    /// [`NominalSpaces::at`], by the first thread to ask). Every space taken from here
    /// numbers its classes alike.
    fn kept(&self, b: u64) -> Arc<Built> {
        once_per_batch(&self.kept, b, || Built::of((*self.at(b)).clone(), &self.layouts, &mut Vec::new()))
    }

    /// Whether `varied` (the plan with a figure moved) has the nominal spaces at every
    /// seed batch, option for option: then no option reads the figure.
    pub fn same_at_seeds(&self, varied: &mut Batches) -> bool {
        seeds(self.plan).into_iter().all(|b| varied.build_compared(b, &self.at(b)))
    }

    /// The bounds on `goal` that hold wherever every figure is no better than nominal
    /// ([`Floors`]), from the nominal spaces at the seed batches.
    pub fn floors(&self, goal: Goal) -> Option<Floors> {
        self.floors_under(goal, None)
    }

    /// [`NominalSpaces::floors`] with `tpot_limit` as the TPOT bound where given (an SLO
    /// sweep's value, in place of the plan's own).
    pub fn floors_under(&self, goal: Goal, tpot_limit: Option<Option<f64>>) -> Option<Floors> {
        let seeds = seeds(self.plan);
        let spaces: Vec<Arc<Instance>> = seeds.iter().map(|&b| self.at(b)).collect();
        let mut layouts = Layouts::default();
        let classes: Vec<Classes> = spaces.iter().map(|s| Classes::of(s, &mut layouts)).collect();
        Floors::of(&seeds, &spaces.iter().zip(&classes).map(|(s, c)| (&**s, c)).collect::<Vec<_>>(), goal, tpot_limit)
    }
}

/// A solve's spaces as its search kept them ([`Built`]: the options the dominance pass
/// leaves out left out), with the numbering of their classes ([`Batches::kept`]).
#[derive(Clone)]
pub struct Kept {
    built: BTreeMap<u64, Arc<Built>>,
    layouts: Arc<Mutex<Layouts>>,
}

impl Kept {
    /// The batches whose spaces it holds, ascending.
    pub fn batches(&self) -> impl Iterator<Item = u64> + '_ {
        self.built.keys().copied()
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Kept({} spaces)", self.built.len())
    }
}

/// What `map` holds at batch `b`, else `make`'s, kept there: the first of the threads
/// that make one at once is the one every thread takes (they are equal).
fn once_per_batch<T>(map: &Mutex<BTreeMap<u64, Arc<T>>>, b: u64, make: impl FnOnce() -> T) -> Arc<T> {
    let lock = || map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(x) = lock().get(&b) {
        return x.clone();
    }
    let made = Arc::new(make());
    lock().entry(b).or_insert(made).clone()
}

/// The classes of decode layouts met so far ([`space::DecodeOption::class_key`]: a
/// layout but for a ping-pong's microbatch count), numbered densely in the order met: by
/// their packed key where it exists ([`space::DecodeOption::packed_class`], one small
/// number to hash), else by their key.
#[derive(Default)]
struct Layouts {
    packed: rustc_hash::FxHashMap<u128, u32>,
    keyed: rustc_hash::FxHashMap<space::LayoutKey, u32>,
}

impl Layouts {
    /// The number of `d`'s class (a new one if it was not met before).
    fn number(&mut self, d: &space::DecodeOption) -> u32 {
        let n = (self.packed.len() + self.keyed.len()) as u32;
        match d.packed_class() {
            Some(k) => *self.packed.entry(k).or_insert(n),
            None => *self.keyed.entry(d.class_key()).or_insert(n),
        }
    }
}

/// What [`bound`] and the [`Floors`] read of one class's options at one batch
/// ([`Layouts`]), every option of the space counted (those a search leaves out too).
#[derive(Clone, Copy, Debug)]
struct Steps {
    fastest: f64,
    slowest: f64,
    /// by index into [`space::MICROBATCHES`], of the options with that many
    /// microbatches: the fastest and slowest steps, and the most tokens/s at the least
    /// multiple of an option's groups times its microbatches from this batch over its
    /// step ([`most_tokens_per_s`]); NaN where there is none
    counts: [(f64, f64, f64); space::MICROBATCHES.len()],
}

/// A space's decode options' class numbers ([`Layouts`]) and each class's [`Steps`].
#[derive(Clone)]
struct Classes {
    /// each decode option's class number
    layout: Vec<u32>,
    /// indexed by class number (`None`: no option of that class at this batch)
    steps: Vec<Option<Steps>>,
    /// indexed by class number, its options built (those left out counted)
    built: Vec<u32>,
    /// of those, the ping-pong options ([`space::Only`] restricts them)
    pingpong: usize,
}

impl Classes {
    /// Of every decode option of `inst`, its classes numbered by `layouts`.
    fn of(inst: &Instance, layouts: &mut Layouts) -> Classes {
        let layout: Vec<u32> = inst.decode.iter().map(|d| layouts.number(d)).collect();
        // class numbers are dense (0.. the classes met so far): one slot each
        let mut steps: Vec<Option<Steps>> = vec![None; layout.iter().max().map_or(0, |&l| l as usize + 1)];
        let mut built = vec![0; steps.len()];
        let mut pingpong = 0;
        let b = inst.batch;
        for (&l, d) in layout.iter().zip(&inst.decode) {
            built[l as usize] += 1;
            pingpong += usize::from(matches!(d.layout, space::Layout::PingPong(_)));
            let s = steps[l as usize].get_or_insert(Steps {
                fastest: d.tpot,
                slowest: d.tpot,
                counts: [(f64::NAN, f64::NAN, f64::NAN); space::MICROBATCHES.len()],
            });
            s.fastest = s.fastest.min(d.tpot);
            s.slowest = s.slowest.max(d.tpot);
            let mb = d.microbatches();
            if let Some(c) = space::MICROBATCHES.iter().position(|&x| x == mb) {
                let k = (d.attention().2 * mb).max(1);
                let (fastest, slowest, rate) = &mut s.counts[c];
                *fastest = fastest.min(d.tpot);
                *slowest = slowest.max(d.tpot);
                *rate = rate.max((b.div_ceil(k) * k) as f64 / d.tpot);
            }
        }
        Classes { layout, steps, built, pingpong }
    }

    /// The [`Steps`] of class number `l` here.
    fn steps(&self, l: u32) -> Option<&Steps> {
        self.steps.get(l as usize).and_then(|s| s.as_ref())
    }
}

/// One batch's space, without the decode options a search may leave out
/// ([`dominated`]), and its classes (those left out counted in their [`Steps`]).
#[derive(Clone)]
struct Built {
    inst: Arc<Instance>,
    classes: Classes,
}

impl Built {
    /// The space `inst` (every option), its classes numbered by `layouts`, without the
    /// options [`dominated`] leaves out. The options kept go to a list of their own size
    /// (a space is kept for the whole search, and the options left out are nearly half
    /// of a large one's); `scratch` (empty) gets the room of the list they were in, when
    /// that is more than it has.
    fn of(mut inst: Instance, layouts: &Mutex<Layouts>, scratch: &mut Vec<space::DecodeOption>) -> Built {
        let mut classes = Classes::of(&inst, &mut layouts.lock().unwrap_or_else(|e| e.into_inner()));
        let out = dominated(&inst, &classes.layout);
        let mut all = std::mem::take(&mut inst.decode);
        let left_out = out.iter().filter(|&&o| o).count();
        inst.decode = Vec::with_capacity(all.len() - left_out);
        inst.decode.extend(all.drain(..).zip(&out).filter(|(_, &o)| !o).map(|(d, _)| d));
        if all.capacity() > scratch.capacity() {
            *scratch = all;
        }
        if left_out > 0 {
            let mut flags = out.iter();
            classes.layout.retain(|_| !flags.next().is_some_and(|&o| o));
        }
        Built { inst: Arc::new(inst), classes }
    }

    /// This space of the nominal plan for `plan`, which moves only prices or powers
    /// ([`Reuse::Repriced`]): the options kept repriced ([`Instance::repriced`]), and
    /// the same classes. The same as repricing every option and leaving out what
    /// [`dominated`] leaves out then: it compares options of one class only where they
    /// have the same chips, and an option's dollars and watts are those of its chips at
    /// either prices; its steps and replicas do not move.
    fn repriced(&self, plan: &Plan, tpot_limit: Option<Option<f64>>) -> Built {
        let mut inst = self.inst.repriced(plan);
        if let Some(l) = tpot_limit {
            inst.tpot_limit = l;
        }
        Built { inst: Arc::new(inst), classes: self.classes.clone() }
    }
}

/// Which decode options of `inst` (their classes `class`, [`Layouts`]) a search may leave
/// out: a ping-pong option that another of its class (the same chips, KV placement,
/// dollars and watts) steps no slower than (of two alike, the earlier stays) and that
/// needs as many replicas of every prefill option that can feed them. Any choice with
/// it has one with the other at the same prefill option and replicas: as feasible (its
/// TPOT no higher, its TTFT the same, as many chips) and no worse in any goal or
/// tie-break, each per token/s lower at its higher tokens/s. So every search finds the
/// same best point, as the first of equals too: no slower option is ever as good in the
/// tie-break, which is per token/s. (A faster step needing more prefill replicas may be
/// worse: both stay.)
///
/// The replicas an option needs fall as its step slows, so the options of a class, fastest
/// first, need the same replicas as the one before them wherever any faster one does:
/// each is compared with the one before it.
fn dominated(inst: &Instance, class: &[u32]) -> Vec<bool> {
    let mut out = vec![false; inst.decode.len()];
    // (class, step, index), packed to sort by: the step's bits order as it does (positive)
    let mut pingpong: Vec<u128> = (inst.decode.iter().enumerate())
        .filter(|(_, d)| matches!(d.layout, space::Layout::PingPong(_)) && d.aggregated.is_none() && d.tpot > 0.0)
        .map(|(i, d)| (class[i] as u128) << 96 | (d.tpot.to_bits() as u128) << 32 | i as u128)
        .collect();
    pingpong.sort_unstable();
    // per KV placement met, the prefill options that can feed it
    type Feeds<'a> = Vec<(&'a [(usize, f64)], Vec<&'a space::PrefillOption>)>;
    let mut feeds: Feeds = Vec::new();
    let unpack = |x: u128| ((x >> 96) as u32, (x & 0xffff_ffff) as usize);
    // the replicas of every prefill option that can feed it, of the option compared last
    // (the next pair's first where it is comparable: each option's worked out once)
    let (mut last, mut next): ((usize, Vec<u64>), Vec<u64>) = ((usize::MAX, Vec::new()), Vec::new());
    for w in pingpong.windows(2) {
        let ((c, i), (k, j)) = (unpack(w[0]), unpack(w[1]));
        let (a, b) = (&inst.decode[i], &inst.decode[j]);
        if c != k
            || a.chips != b.chips
            || a.kv != b.kv
            || a.usd_per_s != b.usd_per_s
            || a.watts != b.watts
            || a.turns.is_some() != b.turns.is_some()
        {
            continue;
        }
        // [`Instance::min_replicas`] of each, from their request rates
        let (ra, rb) = (inst.request_rate(i), inst.request_rate(j));
        let f = match feeds.iter().position(|(kv, _)| *kv == &*b.kv) {
            Some(f) => f,
            None => {
                let by = inst.prefill.iter().filter(|p| Instance::prefill_ttft(p, &b.kv, false).is_some()).collect();
                feeds.push((&b.kv, by));
                feeds.len() - 1
            }
        };
        let by = &feeds[f].1;
        if last.0 != i {
            last.1.clear();
            last.1.extend(by.iter().map(|p| p.replicas_for(ra)));
        }
        next.clear();
        next.extend(by.iter().map(|p| p.replicas_for(rb)));
        out[j] = last.1 == next;
        std::mem::swap(&mut last.1, &mut next);
        last.0 = j;
    }
    out
}

impl<'p> Batches<'p> {
    pub fn new(plan: &'p Plan) -> Batches<'p> {
        let mut excluded = Vec::new();
        let prefill = space::prefill_options(plan, &mut excluded);
        Batches::over(plan, prefill, excluded, None, space::Kinds::All)
    }

    /// The spaces a solve of `plan` kept ([`Batches::kept`]: its own figures and bound,
    /// every kind of option) as built, each further one built afresh and numbered alike:
    /// what [`Batches::new`] would build, without building those again. (The reasons
    /// options were left out, [`Batches::excluded`], are those of the spaces built
    /// from here on.)
    pub fn resumed(plan: &'p Plan, kept: &Kept) -> Batches<'p> {
        Batches { built: kept.built.clone(), layouts: kept.layouts.clone(), ..Batches::new(plan) }
    }

    /// No space built yet, each to be built from `from` (else afresh) with `kinds` of
    /// decode options and these prefill options.
    fn over(
        plan: &'p Plan,
        prefill: Vec<space::PrefillOption>,
        excluded: Vec<space::Excluded>,
        from: Option<(&'p NominalSpaces<'p>, Reuse)>,
        kinds: space::Kinds,
    ) -> Batches<'p> {
        Batches {
            plan,
            prefill,
            built: BTreeMap::new(),
            tpot_limit: None,
            layouts: Default::default(),
            forked: None,
            excluded,
            from,
            kinds,
            scratch: Vec::new(),
            restricting: true,
            shared: Default::default(),
            whole: BTreeMap::new(),
        }
    }

    /// The spaces of `self`'s plan with only the choices that prefill inside the decode
    /// steps (aggregated serving): each batch's aggregated decode options
    /// ([`space::Kinds::Aggregated`], built without the others) and `self`'s aggregated
    /// prefill options, in their order. A search over them finds what a search over
    /// `self` that leaves out every other choice finds, without building the options
    /// it would leave out. At the batches whose whole spaces `self` built, those
    /// spaces' aggregated options, not built again (the same list: the dominance pass
    /// never leaves an aggregated option out of a kept space).
    pub fn aggregated(&self) -> Batches<'p> {
        let prefill = self.prefill.iter().filter(|p| p.aggregated).cloned().collect();
        let whole = if self.from.is_none() && self.kinds == space::Kinds::All { self.built.clone() } else { BTreeMap::new() };
        Batches {
            tpot_limit: self.tpot_limit,
            restricting: self.restricting,
            shared: self.shared.clone(),
            whole,
            ..Batches::over(self.plan, prefill, Vec::new(), None, space::Kinds::Aggregated)
        }
    }

    /// The same spaces for a search on another thread: from now on each space either
    /// builds is shared with the other (and with any other fork of either), not built
    /// twice, and every space numbers its layouts alike. The reasons options were left
    /// out ([`Batches::excluded`]) stay each fork's own: of the spaces it built.
    pub fn fork(&mut self) -> Batches<'p> {
        let forked = self.forked.get_or_insert_with(|| Arc::new(Mutex::new(self.built.clone()))).clone();
        Batches {
            built: self.built.clone(),
            tpot_limit: self.tpot_limit,
            layouts: self.layouts.clone(),
            forked: Some(forked),
            restricting: self.restricting,
            shared: self.shared.clone(),
            ..Batches::over(self.plan, self.prefill.clone(), self.excluded.clone(), self.from, self.kinds)
        }
    }

    /// The spaces of `plan`, which is `from`'s plan with one figure moved that leaves
    /// what `reuse` says as it is: each batch's is `from`'s, repriced
    /// ([`Instance::repriced`]) or with `plan`'s own prefill options
    /// ([`space::instance_over`]), the same space as [`Batches::new`] would build
    /// (`tests/uncertainty.rs`).
    pub fn reusing(plan: &'p Plan, from: &'p NominalSpaces<'p>, reuse: Reuse) -> Batches<'p> {
        let mut excluded = Vec::new();
        let prefill = match reuse {
            Reuse::Repriced => {
                let mut prefill = from.prefill.clone();
                for p in &mut prefill {
                    p.reprice(&plan.cluster.pools);
                }
                prefill
            }
            Reuse::Decode => space::prefill_options(plan, &mut excluded),
        };
        Batches::over(plan, prefill, excluded, Some((from, reuse)), space::Kinds::All)
    }

    /// Every space built so far of the plan as it is (its own figures and bound, every
    /// kind of option), as a search keeps them, those of its forks too
    /// ([`NominalSpaces::after`]); `None` for spaces of another kind.
    pub fn kept(&self) -> Option<Kept> {
        if self.from.is_some() || self.kinds != space::Kinds::All || self.tpot_limit.is_some() {
            return None;
        }
        let mut built = self.built.clone();
        if let Some(m) = &self.forked {
            for (b, s) in m.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                built.entry(*b).or_insert_with(|| s.clone());
            }
        }
        Some(Kept { built, layouts: self.layouts.clone() })
    }

    /// These spaces with every space a search builds whole, none restricted to the
    /// ping-pong classes that can still win ([`space::Only`]), as are the spaces of its
    /// forks: what the tests hold the restricted searches to.
    pub fn whole(self) -> Batches<'p> {
        Batches { restricting: false, ..self }
    }

    /// The plan whose spaces these are.
    pub fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// The space at batch `b`.
    pub fn at(&mut self, b: u64) -> &Instance {
        &self.build(b).inst
    }

    /// The space at batch `b`, built, shared (a [`Point`] holds it without copying its
    /// options).
    pub fn shared(&mut self, b: u64) -> Arc<Instance> {
        self.build(b).inst.clone()
    }

    /// Puts `limit` in place of the plan's own TPOT bound in every space, built or to be
    /// built: a sweep over the `tokens_per_s_per_user` SLO searches at each of its values
    /// with the spaces built once.
    pub fn set_tpot_limit(&mut self, limit: Option<f64>) {
        self.tpot_limit = Some(limit);
        debug_assert!(self.forked.is_none(), "forked spaces keep the bound they were forked with");
        for b in self.built.values_mut() {
            // a point holding the space keeps its own bound
            Arc::make_mut(&mut Arc::make_mut(b).inst).tpot_limit = limit;
        }
    }

    /// The space at batch `b` as a search keeps it, built once.
    fn build(&mut self, b: u64) -> &Built {
        self.build_from(b, None)
    }

    /// [`Batches::build`] from `inst` (the space at `b` with every option) where given.
    /// Shared with the forks: the first of them to build a space is the one every fork
    /// takes.
    fn build_from(&mut self, b: u64, inst: Option<Instance>) -> &Built {
        if !self.built.contains_key(&b) {
            let built = match self.forked.clone() {
                Some(forked) => once_per_batch(&forked, b, || self.kept_space(b, inst)),
                None => Arc::new(self.kept_space(b, inst)),
            };
            self.built.insert(b, built);
        }
        &self.built[&b]
    }

    /// The space at batch `b` as a search keeps it ([`Built::of`]): of `inst` where given,
    /// else of the space built; where the plan only reprices its nominal spaces, their
    /// kept space repriced ([`Built::repriced`], numbered as every other so taken).
    fn kept_space(&mut self, b: u64, inst: Option<Instance>) -> Built {
        match self.from {
            Some((from, Reuse::Repriced)) => from.kept(b).repriced(self.plan, self.tpot_limit),
            _ => {
                let inst = inst.unwrap_or_else(|| self.instance(b));
                Built::of(inst, &self.layouts, &mut self.scratch)
            }
        }
    }

    /// The space at batch `b` with every option (none left out), built.
    fn instance(&mut self, b: u64) -> Instance {
        let (plan, prefill) = (self.plan, &self.prefill);
        let mut inst = match self.from {
            Some((from, Reuse::Repriced)) => from.at(b).repriced(plan),
            Some((from, Reuse::Decode)) => space::instance_over(plan, b, from.at(b).decode.clone(), prefill),
            None => {
                let mut buf = std::mem::take(&mut self.scratch);
                let decode = match self.whole.get(&b) {
                    // the aggregated options of the whole space, in its order
                    Some(whole) => {
                        buf.extend(whole.inst.decode.iter().filter(|d| d.aggregated.is_some()).cloned());
                        buf
                    }
                    None => space::decode_options_in(plan, b, self.kinds, &mut self.excluded, buf, Some(&self.shared)),
                };
                space::instance_over(plan, b, decode, prefill)
            }
        };
        if let Some(l) = self.tpot_limit {
            inst.tpot_limit = l;
        }
        inst
    }

    /// Builds the space at batch `b` and says whether, with every option, it is `other`
    /// option for option (`false` where it was built before: the options left out are
    /// no longer there to compare).
    fn build_compared(&mut self, b: u64, other: &Instance) -> bool {
        if self.built.contains_key(&b) {
            return false;
        }
        let inst = self.instance(b);
        let same = inst == *other;
        self.build_from(b, Some(inst));
        same
    }

    /// The space at batch `b` as a search keeps it, built once, shared.
    fn kept_at(&mut self, b: u64) -> Arc<Built> {
        self.build(b);
        self.built[&b].clone()
    }

    /// Whether a search may build the space at batch `b` restricted to some classes
    /// ([`Batches::restricted`]) rather than whole: not where the whole space is built
    /// already (by this search's spaces or a fork's), nor for spaces taken from nominal
    /// ones ([`Batches::reusing`]): copies, built once for every search that takes them;
    /// nor for a model served in turn, whose spaces are built whole either way.
    fn restricts(&self, b: u64) -> bool {
        let has = |m: &Mutex<BTreeMap<u64, Arc<Built>>>| m.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&b);
        if self.built.contains_key(&b) || self.forked.as_deref().is_some_and(has) || self.whole.contains_key(&b) {
            return false;
        }
        self.from.is_none() && self.plan.model.variants == 1
    }

    /// The space at batch `b` as a search keeps it with the ping-pong options of no
    /// class but `only`'s ([`space::Only`]), built afresh and not kept: a search's own,
    /// for a batch inside a range whose other classes cannot win (`run`). The options it
    /// has are the full space's, in its order, and its classes are numbered as the full
    /// spaces' (by `layouts`: it is built only where they are, [`Batches::restricts`]).
    fn restricted(&mut self, b: u64, only: &space::Only) -> Built {
        debug_assert!(self.from.is_none(), "a space taken from a nominal one numbers its classes as that one");
        let buf = std::mem::take(&mut self.scratch);
        // the reasons options were left out are the full spaces' to give
        let decode = space::decode_options_only(self.plan, b, self.kinds, Some(only), &mut Vec::new(), buf, Some(&self.shared));
        let mut inst = space::instance_over(self.plan, b, decode, &self.prefill);
        if let Some(l) = self.tpot_limit {
            inst.tpot_limit = l;
        }
        Built::of(inst, &self.layouts, &mut self.scratch)
    }

    /// The spaces at batches `a` and `b`.
    fn two(&mut self, a: u64, b: u64) -> (&Built, &Built) {
        self.build(a);
        self.build(b);
        (&self.built[&a], &self.built[&b])
    }

    /// The bounds on `goal` that hold wherever every figure is no better than in these
    /// spaces ([`Floors`]), from their seed batches (built if they were not).
    pub fn floors(&mut self, goal: Goal) -> Option<Floors> {
        let seeds = seeds(self.plan);
        for &b in &seeds {
            self.build(b);
        }
        let spaces: Vec<(&Instance, &Classes)> = seeds.iter().map(|b| (&*self.built[b].inst, &self.built[b].classes)).collect();
        Floors::of(&seeds, &spaces, goal, None)
    }

    /// `old` (floors from figures no worse than these spaces') with what these spaces
    /// add: a bound of its own at every batch built here, the greater of the two where
    /// both give one, and each range between two of those batches bounded from the
    /// space at its start. For values worse than these spaces' (a bisection's next
    /// steps), tighter than `old`.
    pub fn tighten(&self, old: &Floors, goal: Goal) -> Floors {
        let space = |x: u64| self.built.get(&x).map(|b| (&*b.inst, &b.classes));
        let mut xs: Vec<u64> = old.points.iter().map(|p| p.0).chain(self.built.keys().copied()).collect();
        xs.sort_unstable();
        xs.dedup();
        let higher = |o: Option<f64>, new: Option<Option<f64>>| match (o, new) {
            // no pair at those figures, or at these (worse or equal): none at worse ones
            (_, Some(None)) => None,
            (Some(o), Some(Some(n))) => Some(o.max(n)),
            (o, None) => o,
            (None, Some(Some(_))) => None,
        };
        let points = xs
            .iter()
            .map(|&x| {
                let own = space(x).map(|(inst, _)| relaxed(inst, inst.tpot_limit, goal, |_, d| x as f64 / d.tpot));
                let before = match old.points.binary_search_by_key(&x, |p| p.0) {
                    Ok(i) => old.points[i].1,
                    // a batch strictly inside one of `old`'s ranges
                    Err(_) => old.gap_around((x - 1, x + 1)),
                };
                (x, higher(before, own))
            })
            .collect();
        let gaps = xs
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                if b < a + 2 {
                    return None;
                }
                higher(
                    old.gap_around((a, b)),
                    space(a).map(|at_a| gap_floor((a, b), (at_a, space(b).map(|s| s.1)), at_a.0.tpot_limit, goal)),
                )
            })
            .collect();
        Floors { points, gaps }
    }

    /// Every space built so far, in batch order.
    pub fn built(&self) -> impl Iterator<Item = &Instance> {
        self.built.values().map(|b| &*b.inst)
    }
}

/// How a search solves one batch's space: the best choice not excluded, and the
/// solve's statistics.
pub type SolveOne<'a> = dyn FnMut(&Instance, Option<&ilp::Exclude>) -> Result<(Option<Choice>, ilp::Stats), String> + 'a;

/// What a search found.
pub struct Found {
    /// the best point over every batch of the range
    pub best: Option<Point>,
    /// every batch solved, in batch order, with the key of its best choice (`None`:
    /// nothing feasible)
    pub solved: Vec<(u64, Option<Key>)>,
    /// the search stopped at [`MAX_SOLVED`] batches: the least bound on the batches it
    /// did not solve
    pub unsearched: Option<Key>,
    /// of `solved`, in batch order, the batches solved over a restricted space
    /// ([`space::Only`]): their key is that of the classes that could still win there,
    /// not below the full space's but maybe above it
    pub restricted: Vec<u64>,
}

impl Found {
    /// The batches solved over their full spaces with their keys (`+∞` where nothing was
    /// feasible): the start of a search for a point within these (a runner-up), whose
    /// key is never less. A batch solved over a restricted space is left to the ranges
    /// between them (its key bounds only this search's choices).
    pub fn as_start(&self) -> Vec<(u64, Option<Key>)> {
        let inf = (f64::INFINITY, f64::INFINITY);
        self.solved.iter().filter(|(b, _)| self.restricted.binary_search(b).is_err()).map(|&(b, k)| (b, Some(k.unwrap_or(inf)))).collect()
    }
}

/// Whether `exclude` leaves choice `c` out ([`ilp::Exclude::covers`]).
pub fn excluded(exclude: Option<&ilp::Exclude>, c: Choice) -> bool {
    exclude.is_some_and(|e| e.covers(c))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Item {
    /// solve this batch
    One(u64),
    /// the batches strictly between two solved ones
    Gap(u64, u64),
    /// the batches strictly between two seeds, bounded from afar ([`Floors`]): their
    /// bound from the two spaces is taken when it is popped
    Lazy(u64, u64),
}

/// A queued item with a lower bound on its key and its least batch: the heap pops the
/// least `(bound, batch)` first.
struct Queued(Key, u64, Item);

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    /// reversed, so that `BinaryHeap` (a max-heap) pops the least bound first; then the
    /// item, so that equal bounds pop in one order every run
    fn cmp(&self, other: &Self) -> Ordering {
        let item = |i: &Item| match *i {
            Item::One(b) => (0, b, b),
            Item::Gap(a, b) => (1, a, b),
            Item::Lazy(a, b) => (2, a, b),
        };
        order((other.0, other.1), (self.0, self.1)).then_with(|| item(&other.2).cmp(&item(&self.2)))
    }
}

/// The best point over every batch from the first of `start` to its last: each of
/// `start` is solved unless its lower bound (`Some`) cannot beat the best found, and
/// the batches between them are bounded and split. `exclude` leaves choices out of a
/// batch's space (the same choices at every batch: by layout and pool), `solve_one`
/// solves one space.
pub fn search(
    batches: &mut Batches,
    goal: Goal,
    start: &[(u64, Option<Key>)],
    exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>,
    solve_one: &mut SolveOne,
) -> Result<Found, String> {
    search_at_most(batches, goal, start, exclude, solve_one, MAX_SOLVED)
}

/// [`search`] over every batch of `batches`' plan, from its seed batches ([`seeds`]) with
/// no bound yet: the plan's whole range.
pub fn search_all(batches: &mut Batches, goal: Goal, solve_one: &mut SolveOne) -> Result<Found, String> {
    search_all_at_most(batches, goal, solve_one, MAX_SOLVED)
}

/// [`search_all`], solving at most `max_solved` batches.
pub fn search_all_at_most(batches: &mut Batches, goal: Goal, solve_one: &mut SolveOne, max_solved: usize) -> Result<Found, String> {
    let start = seed_start(batches.plan());
    search_at_most(batches, goal, &start, &|_| None, solve_one, max_solved)
}

/// A search of `plan`'s whole range starts from its seed batches ([`seeds`]), no bound
/// on any yet.
fn seed_start(plan: &Plan) -> Vec<(u64, Option<Key>)> {
    seeds(plan).into_iter().map(|b| (b, None)).collect()
}

/// [`search`], solving at most `max_solved` batches.
pub fn search_at_most(
    batches: &mut Batches,
    goal: Goal,
    start: &[(u64, Option<Key>)],
    exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>,
    solve_one: &mut SolveOne,
    max_solved: usize,
) -> Result<Found, String> {
    let queue = queued(batches, goal, start, exclude);
    run(batches, goal, queue, exclude, solve_one, max_solved, None)
}

/// [`search`]'s first queue: each of `start` at its bound, and each range between two
/// of them bounded from its ends.
fn queued(
    batches: &mut Batches,
    goal: Goal,
    start: &[(u64, Option<Key>)],
    exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>,
) -> BinaryHeap<Queued> {
    let none = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut queue: BinaryHeap<Queued> = start.iter().map(|&(b, lb)| Queued(lb.unwrap_or(none), b, Item::One(b))).collect();
    for w in start.windows(2) {
        if w[1].0 >= w[0].0 + 2 {
            if let Some(lb) = bound(batches, goal, (w[0].0, w[1].0), exclude) {
                queue.push(Queued(lb, w[0].0 + 1, Item::Gap(w[0].0, w[1].0)));
            }
        }
    }
    queue
}

/// [`search_all`] where every figure of the plan is no better than in the plan whose
/// nominal spaces gave `floors`: the seeds and the ranges between them queued at those
/// bounds, so that a seed or a range they put above the best point found is never
/// built. The same best point as [`search_all`] (`tests/uncertainty.rs`).
pub fn search_floored(batches: &mut Batches, goal: Goal, floors: &Floors, solve_one: &mut SolveOne) -> Result<Found, String> {
    search_below(batches, goal, Some(floors), None, solve_one)
}

/// The search a comparison with a key `below` needs: whether the plan's best key is
/// less than it, equal or greater. [`search_floored`] from `floors` (else
/// [`search_all`]) that stops at the first point whose key is less than `below` (its
/// `best` is then that point, not the best) and leaves out every batch and range
/// bounded above `below`; so its `best` is the best point where that is at `below` or
/// less, else none or a point above `below`. With `below` `None`, the full search.
pub fn search_below(
    batches: &mut Batches,
    goal: Goal,
    floors: Option<&Floors>,
    below: Option<f64>,
    solve_one: &mut SolveOne,
) -> Result<Found, String> {
    let queue = match floors {
        Some(f) => floored(f),
        None => queued(batches, goal, &seed_start(batches.plan()), &|_| None),
    };
    run(batches, goal, queue, &|_| None, solve_one, MAX_SOLVED, below)
}

/// The first queue from `floors`: each seed and each range between two queued at its
/// bound ([`search_floored`]).
fn floored(floors: &Floors) -> BinaryHeap<Queued> {
    let at = |f: f64| (f, f64::NEG_INFINITY);
    let mut queue = BinaryHeap::new();
    for (i, &(b, f)) in floors.points.iter().enumerate() {
        // a batch without a choice at the floors' figures has none at worse ones
        if let Some(f) = f {
            queue.push(Queued(at(f), b, Item::One(b)));
        }
        if let (Some(&Some(f)), Some(&(next, _))) = (floors.gaps.get(i), floors.points.get(i + 1)) {
            queue.push(Queued(at(f), b + 1, Item::Lazy(b, next)));
        }
    }
    queue
}

/// The search's loop from `queue`: the least bound first, solving each batch and
/// splitting each range, until no item left can beat the best point found; with
/// `below`, until a point's key is less than it or no item left is bounded at it or
/// less ([`search_below`]).
fn run(
    batches: &mut Batches,
    goal: Goal,
    mut queue: BinaryHeap<Queued>,
    exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>,
    solve_one: &mut SolveOne,
    max_solved: usize,
    below: Option<f64>,
) -> Result<Found, String> {
    // the best key, its batch, choice and statistics
    let mut best: Option<(Key, u64, Choice, ilp::Stats)> = None;
    let mut solved = Vec::new();
    let mut unsearched = None;
    // this search's spaces of batches inside a range that only some ping-pong classes
    // can win, with only those (`space::Only`), and those classes by range
    let mut own: BTreeMap<u64, Arc<Built>> = BTreeMap::new();
    // per range queued, the classes its bound left out (`None`: none) and the least key
    // alone of each ping-pong class it bounded
    let mut ranges: BTreeMap<(u64, u64), Narrowed> = BTreeMap::new();
    let space = |batches: &mut Batches, own: &BTreeMap<u64, Arc<Built>>, b: u64| own.get(&b).cloned().unwrap_or_else(|| batches.kept_at(b));
    while let Some(Queued(lb, least, item)) = queue.pop() {
        // every item left is bounded at least as high: none can beat the best
        if best.as_ref().is_some_and(|(k, b, _, _)| order((lb, least), (*k, *b)) == Ordering::Greater) {
            break;
        }
        // every item left is bounded above the key compared with: none is at it or less
        if below.is_some_and(|c| lb.0 > c) {
            break;
        }
        if solved.len() >= max_solved {
            // best first: no batch left is bounded below this
            unsearched = Some(lb);
            break;
        }
        match item {
            Item::One(b) => {
                let restricted = own.get(&b).cloned();
                let inst = match &restricted {
                    Some(r) => &r.inst,
                    None => batches.at(b),
                };
                let ex = exclude(inst);
                let (choice, stats) = solve_one(inst, ex.as_ref())?;
                let k = choice.and_then(|c| key(inst, c, goal));
                if let (Some(c), Some(k)) = (choice, k) {
                    if best.as_ref().is_none_or(|(bk, bb, _, _)| order((k, b), (*bk, *bb)) == Ordering::Less) {
                        best = Some((k, b, c, stats));
                    }
                }
                solved.push((b, k));
                // a key less than the one compared with answers the comparison
                if k.zip(below).is_some_and(|(k, c)| k.0 < c) {
                    break;
                }
            }
            // bounded from afar: the bound from its two spaces, if higher, from now on
            Item::Lazy(a, b) => {
                let ends = (space(batches, &own, a), space(batches, &own, b));
                if let (Some(l), classes) = bound_over((&ends.0, &ends.1), goal, (a, b), exclude, None) {
                    let l = if order((l, 0), (lb, 0)) == Ordering::Less { lb } else { l };
                    queue.push(Queued(l, least, Item::Gap(a, b)));
                    ranges.insert((a, b), (None, classes));
                }
            }
            // a gap of one batch splits into that batch alone
            Item::Gap(a, b) => {
                let mid = a + (b - a) / 2;
                // the ping-pong classes that can still beat the best between a and b: the
                // middle's space is built with only those, and the halves bounded over them
                let queued = ranges.remove(&(a, b));
                let only = match &best {
                    Some((k, kb, _, _)) if batches.restricting => {
                        // the ranges the search started from were bounded before it
                        let (left, classes) = queued.unwrap_or_else(|| {
                            let ends = (space(batches, &own, a), space(batches, &own, b));
                            let ex = exclude(&ends.0.inst);
                            (None, class_keys(&alone_keys((&ends.0, &ends.1), goal, (a, b), ex.as_ref(), None), &ends.0))
                        });
                        let (live, dead): (Vec<&ClassKey>, Vec<&ClassKey>) =
                            classes.iter().partition(|c| order((c.alone, a + 1), (*k, *kb)) != Ordering::Greater);
                        let only = (left.is_some() || !dead.is_empty()).then(|| Arc::new(space::Only::new(live.iter().map(|c| c.class))));
                        // built whole where that leaves out less than half the options
                        // (at `a`: those of every ping-pong class not live)
                        let at_a = space(batches, &own, a);
                        let live_options: usize = live.iter().map(|c| c.built as usize).sum();
                        let left_out = at_a.classes.pingpong.saturating_sub(live_options);
                        let whole = at_a.classes.built.iter().map(|&n| n as usize).sum::<usize>().max(1);
                        let at_least_half = left_out * 2 >= whole;
                        if let Some(o) = only.as_ref().filter(|_| (left.is_some() || at_least_half) && batches.restricts(mid)) {
                            let r = batches.restricted(mid, o);
                            own.insert(mid, Arc::new(r));
                        }
                        only
                    }
                    _ => queued.and_then(|q| q.0),
                };
                queue.push(Queued(lb, mid, Item::One(mid)));
                for (x, y) in [(a, mid), (mid, b)] {
                    if y >= x + 2 {
                        let ends = (space(batches, &own, x), space(batches, &own, y));
                        if let (Some(l), classes) = bound_over((&ends.0, &ends.1), goal, (x, y), exclude, only.as_deref()) {
                            // both bound the batches between x and y: keep the higher
                            let l = if order((l, 0), (lb, 0)) == Ordering::Less { lb } else { l };
                            queue.push(Queued(l, x + 1, Item::Gap(x, y)));
                            ranges.insert((x, y), (only.clone(), classes));
                        }
                    }
                }
            }
        }
    }
    solved.sort_by_key(|(b, _)| *b);
    // a batch solved over a restricted space: its choice is the full space's best (every
    // option left out has a greater key), held with the options of that space
    let best = best.map(|(_, b, choice, stats)| Point { instance: space(batches, &own, b).inst.clone(), choice, stats });
    let restricted = solved.iter().map(|&(b, _)| b).filter(|b| own.contains_key(b)).collect();
    Ok(Found { best, solved, unsearched, restricted })
}

/// Lower bounds on a plan's goal at every batch of its range that hold wherever every
/// figure is no better than in the plan whose nominal spaces give them (a figure varied
/// to its worse side, `uncertainty::more_is_worse`): per seed batch, and per range
/// between two consecutive seeds. Each is the least over the nominal space's pairs of
/// the goal with the prefill replicas a pair needs taken as the fraction `λ·s` that
/// just keeps up (no rounding up), every budget and pool size left out. A worse
/// figure makes every step, prefill and price no better, so every pair's value so
/// taken no lower, and the rounding and the limits only raise it further:
///
/// - a goal per token/s (`N_d/x + (s_p/O)·N_p`, `x` the option's tokens/s): at a seed
///   `x = B/τ`; over a range `(a, b)`, `x ≤ (b − 1)/τ_a` (a layout that fits between
///   two seeds fits at `a`, and steps no faster at a larger batch, [`bound`]);
/// - TPOT and TTFT: their least at the seed (at `a` for a range: both grow with the
///   batch).
///
/// The SLOs do apply: a step or a first token slower than its bound at the nominal
/// figures is slower still at worse ones (and at a larger batch).
///
/// `None` for the goals that count chips or watts in all: fewer replicas keep up with a
/// slower decode, so those can fall as a figure gets worse.
pub struct Floors {
    /// the batches with a bound of their own, ascending (every seed among them), and
    /// that bound (`None`: no pair there at these figures or worse)
    points: Vec<(u64, Option<f64>)>,
    /// between each of `points` and the next: a bound over the batches strictly between
    /// (`None`: none between, or no pair there)
    gaps: Vec<Option<f64>>,
}

impl Floors {
    /// From the spaces at the plan's `seeds`, in order, with `tpot_limit` as the TPOT
    /// bound where given (an SLO sweep's value), else each space's own.
    fn of(seeds: &[u64], spaces: &[(&Instance, &Classes)], goal: Goal, tpot_limit: Option<Option<f64>>) -> Option<Floors> {
        if matches!(goal, Goal::Chips | Goal::Power) {
            return None;
        }
        let limit = |inst: &Instance| tpot_limit.unwrap_or(inst.tpot_limit);
        let points =
            seeds.iter().zip(spaces).map(|(&b, (inst, _))| (b, relaxed(inst, limit(inst), goal, |_, d| b as f64 / d.tpot))).collect();
        let gaps = seeds
            .windows(2)
            .zip(spaces.windows(2))
            .map(|(w, sp)| gap_floor((w[0], w[1]), (sp[0], Some(sp[1].1)), limit(sp[0].0), goal))
            .collect();
        Some(Floors { points, gaps })
    }

    /// These floors raised by `keys`, each batch's best key in the same spaces under a
    /// looser TPOT bound (an SLO sweep's previous value: a tighter bound only removes
    /// choices); a batch with nothing feasible there (an infinite key) has none.
    pub fn raised(&self, keys: &[(u64, Option<Key>)]) -> Floors {
        let key = |b: u64| keys.iter().find(|k| k.0 == b).and_then(|k| k.1);
        let points = self
            .points
            .iter()
            .map(|&(b, f)| match (f, key(b)) {
                (Some(_), Some(k)) if k.0 == f64::INFINITY => (b, None),
                (Some(f), Some(k)) => (b, Some(f.max(k.0))),
                (f, _) => (b, f),
            })
            .collect();
        Floors { points, gaps: self.gaps.clone() }
    }

    /// The bound over the batches strictly between `points[i]` and `points[i + 1]`: the
    /// gap's, as a range wholly inside it
    fn gap_around(&self, (a, b): (u64, u64)) -> Option<f64> {
        let i = self.points.partition_point(|p| p.0 <= a).checked_sub(1)?;
        debug_assert!(self.points.get(i + 1).is_none_or(|p| p.0 >= b));
        self.gaps.get(i).copied().flatten()
    }
}

/// The bound over the batches strictly between `a` and `b` (no seed between them) from
/// the space at `a` and, where given, at `b` ([`Floors`]); `None` when there are none
/// or no pair forms there.
fn gap_floor(
    (a, b): (u64, u64),
    (at_a, at_b): ((&Instance, &Classes), Option<&Classes>),
    tpot_limit: Option<f64>,
    goal: Goal,
) -> Option<f64> {
    if b < a + 2 {
        return None;
    }
    let most = gap_tokens_per_s((a, b), (at_a, at_b));
    relaxed(at_a.0, tpot_limit, goal, |i, _| most[i])
}

/// The least over `inst`'s pairs of `goal` (a goal per token/s, TPOT or TTFT) with each
/// decode option `d` at `tput(d)` tokens/s and the replicas of its prefill the fraction
/// that just keeps up ([`Goal::floor`]), the SLOs applied (`tpot_limit` as the TPOT
/// bound) but no budget or pool size ([`Floors`]); `None` when no pair can form, and for
/// the goals that count chips or watts in all.
fn relaxed(inst: &Instance, tpot_limit: Option<f64>, goal: Goal, tput: impl Fn(usize, &space::DecodeOption) -> f64) -> Option<f64> {
    use ilp::Q;
    let (num, den) = ilp::ratio(goal);
    if den != Q::Tput && !matches!(num, Q::Tpot | Q::Ttft) {
        return None;
    }
    let mut feeds = space::Feeds::default();
    let mut least: Option<f64> = None;
    for (i, d) in inst.decode.iter().enumerate().filter(|(_, d)| inst.decode_allowed_under(d, tpot_limit)) {
        let Some(fed) = inst.fed(i, &mut feeds) else { continue };
        let alone = space::Totals { tokens_per_s: tput(i, d), ..inst.alone(i) };
        let v = goal.floor(&alone, d, Some(&fed));
        least = Some(least.map_or(v, |l| l.min(v)));
    }
    least
}

/// Per decode option of the space at `a` (with its classes), the most tokens/s its
/// class gives at a batch strictly between `a` and `b` ([`most_tokens_per_s`], with its
/// class's steps in the space at `b` where given, numbered alike), at those figures or
/// worse: the reasons hold at any figures, and a worse figure only slows the steps.
fn gap_tokens_per_s((a, b): (u64, u64), ((at_a, classes), at_b): ((&Instance, &Classes), Option<&Classes>)) -> Vec<f64> {
    let class = |i: usize| classes.layout[i];
    at_a.decode
        .iter()
        .enumerate()
        .map(|(i, d)| most_tokens_per_s(d, (a, b), (classes.steps(class(i)), at_b.and_then(|c| c.steps(class(i))))))
        .collect()
}

/// The most tokens/s decode option `d` of the space at batch `a` gives at a batch
/// strictly between `a` and `b` (no seed between them), and where `d` is the fastest of
/// its class at `a` ([`Layouts`], with its steps there `at_a`), any option of its class:
/// `(b − 1)/τ_a`, and where the class exists at `b` (its steps there `at_b`), no more
/// than `m/τ_b`, `m` the least multiple of an option's groups or microbatches from `b`
/// (tokens/s never falls from one whole multiple to the next), the largest of those over
/// the class's microbatch counts. Not so for a layer pipeline, whose cut moves
/// with the batch (its stages' caches grow), so its tokens/s may fall from one multiple
/// of its microbatches to the next, nor for variants served in turn, which split the
/// batch unevenly between those multiples.
fn most_tokens_per_s(d: &space::DecodeOption, (a, b): (u64, u64), (at_a, at_b): (Option<&Steps>, Option<&Steps>)) -> f64 {
    let own = b.saturating_sub(1).max(a) as f64 / d.tpot;
    match (at_a, at_b) {
        (Some(sa), Some(_)) if by_multiples(d) => count_ranges(d, (a, b), sa, at_b).map(|r| r.1).fold(f64::NAN, f64::max).min(own),
        _ => own,
    }
}

/// Whether `d`'s tokens/s never falls from one whole multiple of its groups times its
/// microbatches to the next ([`most_tokens_per_s`]): not a layer pipeline's, nor
/// variants' served in turn.
fn by_multiples(d: &space::DecodeOption) -> bool {
    !matches!(d.target().layout, space::Layout::Pipeline(_)) && d.turns.is_none()
}

/// Per microbatch count of `d`'s class at batch `a` (its steps there `at_a`; between `a`
/// and `b` there are no others: each count is a seed from where it exists), that
/// count's fastest step at `a` and the range of tokens/s its options give at a batch
/// strictly between `a` and `b`: at most `(b − 1)/τ_a` and, where the count exists at
/// `b` (the class's steps there `at_b`), no more than `m/τ_b` (but for a layer pipeline
/// or variants served in turn, [`most_tokens_per_s`]); at least `(a + 1)/τ_b` of its
/// slowest step at `b` (0 where it is not there).
fn count_ranges<'s>(
    d: &space::DecodeOption,
    (a, b): (u64, u64),
    at_a: &'s Steps,
    at_b: Option<&'s Steps>,
) -> impl Iterator<Item = (f64, f64, f64)> + 's {
    let multiples = by_multiples(d);
    at_a.counts.iter().enumerate().filter(|(_, x)| !x.0.is_nan()).map(move |(c, &(fastest, _, _))| {
        let at_b = at_b.map(|s| s.counts[c]).filter(|x| !x.0.is_nan());
        let most = b.saturating_sub(1).max(a) as f64 / fastest;
        let most = match at_b {
            Some((_, _, rate)) if multiples => most.min(rate),
            _ => most,
        };
        (fastest, most, at_b.map_or(0.0, |(_, slowest, _)| (a + 1).min(b) as f64 / slowest))
    })
}

/// A lower bound on the key of every choice not excluded at every batch strictly
/// between `a` and `b`; `None` when none is feasible there (docs/solver.md, "Every
/// batch"). Between two consecutive seeds the same layouts exist at every batch, and a
/// layout that fits at a batch between fits at `a`; per layout, with `τ_a` and `τ_b` its
/// steps at `a` and `b`, a batch between
///
/// - steps no faster than at `a` and starts its first token no sooner (so TPOT, TTFT and
///   the SLOs are taken at `a`);
/// - gives tokens/s from `(a + 1)/τ_b` (0 when the layout does not fit at `b`) up to
///   `min((b − 1)/τ_a, m/τ_b)`, `m` the least multiple of the layout's groups or
///   microbatches `k` from `b` (tokens/s never falls from one whole multiple of `k` to
///   the next), or `(b − 1)/τ_a` alone for a layer pipeline, whose cut moves to another
///   layer as the stages' caches grow and whose tokens/s can fall (Llama-3.1-405B over
///   an H100 and an H200 node: 8,331 tok/s at batch 458, 8,221 at 460), and for variants
///   served in turn, whose batch splits over them unevenly between those multiples;
/// - needs at least `⌈x·s_p/O⌉` replicas of a prefill option starting a prompt every
///   `s_p` at `x` tokens/s (requests are tokens/s over output tokens `O`).
///
/// For a goal per token/s, `(N_d + r·N_p)/x` over `x` in that range and `r` replicas
/// enough for `x` is least at `x = r/c` with `r = ⌊x_max·c⌋` or at `x = x_max` with
/// `r = ⌈x_max·c⌉` (`c = s_p/O`), the most replicas the pools and budget allow if fewer;
/// any other goal is least at the fewest replicas. Each component of the key is bounded
/// so; the least over pairs bounds every batch between.
pub fn bound(batches: &mut Batches, goal: Goal, (a, b): (u64, u64), exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>) -> Option<Key> {
    let (built_a, built_b) = batches.two(a, b);
    bound_over((built_a, built_b), goal, (a, b), exclude, None).0
}

/// Per decode option of the space at `a` that can pair at a batch strictly between `a`
/// and `b` ([`bound`]), but for the ping-pong classes `only` does not keep: the key of its
/// own chips alone at its most tokens/s there with the least a prefill that can feed it
/// adds ([`Goal::floor`]; the prefill options are the same at every batch, so no pair of
/// it is below that), its index and its least and most tokens/s. A
/// ping-pong class is one entry per microbatch count, of its fastest option at `a`.
fn alone_keys(
    (built_a, built_b): (&Built, &Built),
    goal: Goal,
    (a, b): (u64, u64),
    ex: Option<&ilp::Exclude>,
    only: Option<&space::Only>,
) -> Vec<(Key, usize, f64, f64)> {
    let at_a = &built_a.inst;
    let tie = tie_goal(at_a);
    let mut options: Vec<(Key, usize, f64, f64)> = Vec::new();
    // an option the exclusion leaves out with every prefill option bounds no pair
    let whole = ex.filter(|e| e.covers_every_prefill(at_a.prefill.len()));
    let mut feeds = space::Feeds::default();
    for (di, d) in at_a.decode.iter().enumerate() {
        if !at_a.decode_allowed(d) || whole.is_some_and(|e| e.has_decode(di)) {
            continue;
        }
        if only.is_some_and(|o| !o.allows(d.pingpong_class())) {
            continue;
        }
        let class = built_a.classes.layout[di];
        let (steps_at_a, steps_at_b) = (built_a.classes.steps(class), built_b.classes.steps(class));
        // the same prefill options at every batch: what they add at the least holds
        // between `a` and `b`
        let fed = at_a.fed(di, &mut feeds);
        let mut push = |most: f64, fewest: f64| {
            let alone = space::Totals { tokens_per_s: most, ..at_a.alone(di) };
            let floor = |g: Goal| g.floor(&alone, d, fed.as_ref());
            options.push(((floor(goal), floor(tie)), di, most, fewest));
        };
        match (&d.layout, steps_at_a) {
            // A ping-pong class's options share their chips, dollars, watts and KV
            // placement, and so their prefill pairs and any exclusion: its fastest
            // option left at `a` (one only: of two as fast, [`dominated`] leaves the later
            // out) bounds each microbatch count's options between `a` and `b` with that
            // count's range of tokens/s, those left out too.
            (space::Layout::PingPong(_), Some(sa)) => {
                if d.tpot == sa.fastest {
                    // a count whose fastest step at `a` breaks the TPOT bound breaks it between
                    let allowed = |fastest: f64| at_a.tpot_limit.is_none_or(|l| fastest <= l);
                    for (_, most, fewest) in count_ranges(d, (a, b), sa, steps_at_b).filter(|r| allowed(r.0)) {
                        push(most, fewest);
                    }
                }
            }
            _ => {
                let most = most_tokens_per_s(d, (a, b), (steps_at_a, steps_at_b));
                push(most, steps_at_b.map_or(0.0, |s| (a + 1).min(b) as f64 / s.slowest));
            }
        }
    }
    options
}

/// Per ping-pong class among `options` ([`alone_keys`] of the space `at_a`), the least
/// key of its options alone (none of its choices is below it in the range) and how many
/// options of it the space at `a` built.
fn class_keys(options: &[(Key, usize, f64, f64)], at_a: &Built) -> Vec<ClassKey> {
    // a class's entries are one option's (its fastest, per microbatch count), in a run
    let mut out: Vec<ClassKey> = Vec::new();
    let mut last = usize::MAX;
    for &(k, di, _, _) in options {
        if di == last {
            if let Some(e) = out.last_mut().filter(|e| order((k, 0), (e.alone, 0)) == Ordering::Less) {
                e.alone = k;
            }
            continue;
        }
        if let Some(class) = at_a.inst.decode[di].pingpong_class() {
            last = di;
            out.push(ClassKey { class, alone: k, built: at_a.classes.built[at_a.classes.layout[di] as usize] });
        }
    }
    out
}

/// A queued range's ping-pong classes: those its bound kept (`None`: every one), and the
/// least key alone of each of them that it bounded ([`class_keys`]).
type Narrowed = (Option<Arc<space::Only>>, Vec<ClassKey>);

/// A ping-pong class a range's bound met ([`class_keys`]).
#[derive(Clone, Copy, Debug)]
struct ClassKey {
    /// [`space::DecodeOption::pingpong_class`]
    class: u128,
    /// the least key of its options alone in the range
    alone: Key,
    /// its options in the space at the range's start
    built: u32,
}

/// [`bound`] from the spaces at `a` and `b`, leaving out the ping-pong classes `only`
/// does not keep (where given: classes that cannot win anywhere in the range), and the
/// least key alone of each ping-pong class it bounded ([`class_keys`]).
fn bound_over(
    (built_a, built_b): (&Built, &Built),
    goal: Goal,
    (a, b): (u64, u64),
    exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>,
    only: Option<&space::Only>,
) -> (Option<Key>, Vec<ClassKey>) {
    let at_a = &built_a.inst;
    let ex = exclude(at_a);
    let tie = tie_goal(at_a);
    let per_token = |g: Goal| ilp::ratio(g).1 == ilp::Q::Tput;
    let o = at_a.output_tokens;
    // per decode option, its range of tokens/s and the key of its own chips alone at the
    // most tokens/s: options are taken in its order until it reaches the least pair found
    let options = alone_keys((built_a, built_b), goal, (a, b), ex.as_ref(), only);
    let classes = class_keys(&options, built_a);
    // taken in order until one reaches the least pair found, which is mostly early: a
    // heap orders only those taken (O(n + k log n), not a full sort)
    let mut options: BinaryHeap<LeastFirst<(f64, f64)>> =
        options.into_iter().map(|(k, di, most, fewest)| LeastFirst(k, di, (most, fewest))).collect();
    let mut least: Option<Key> = None;
    while let Some(LeastFirst(alone, di, (most, fewest))) = options.pop() {
        if least.is_some_and(|l| order((alone, 0), (l, 0)) != Ordering::Less) {
            break;
        }
        let d = &at_a.decode[di];
        for (pi, p) in at_a.prefill.iter().enumerate() {
            if excluded(ex.as_ref(), Choice { decode: di, prefill: pi, replicas: 1 }) || !at_a.compatible(d, p) {
                continue;
            }
            // the same (replicas, tokens/s) recur below: each is checked once
            let mut memo: [(u64, f64, Option<space::Totals>); 4] = [(0, f64::NAN, None); 4];
            let mut at_r = |r: u64, x: f64| {
                if let Some(m) = memo.iter().find(|m| m.0 == r && m.1 == x) {
                    return m.2;
                }
                let t = at_a.totals_at(Choice { decode: di, prefill: pi, replicas: r }, x);
                memo.rotate_right(1);
                memo[0] = (r, x, t);
                t
            };
            // replicas per token/s
            let c = if p.aggregated || d.aggregated.is_some() { 0.0 } else { p.interval / o };
            let need = |x: f64| space::fewest_replicas(x * c);
            let (lo_r, hi_r) = match p.fixed_replicas {
                Some(n) if need(fewest) > n => continue,
                Some(n) => (n, n),
                None if c == 0.0 => (1, 1),
                // the free inventory bounds replicas by the fastest option of each batch:
                // not here
                None => (need(fewest), if at_a.pool_sizes.iter().all(|s| s.is_none()) { u64::MAX } else { p.max_replicas }),
            };
            if lo_r > hi_r {
                continue;
            }
            // the fewest replicas, at the most tokens/s: a bound for goals not per token/s
            let Some(t_few) = at_r(lo_r, most) else { continue };
            // goals per token/s: the replicas that just keep up with the most tokens/s,
            // the most that do not, or the most the pools and budget allow
            let mut per: Vec<space::Totals> = Vec::new();
            let top = need(most).clamp(lo_r, hi_r);
            let feasible_top = if at_r(top, most).is_some() {
                top
            } else {
                // the most replicas that fit: fewer only loosen pools and budgets
                let (mut ok, mut bad) = (lo_r, top);
                while bad - ok > 1 {
                    let mid = ok + (bad - ok) / 2;
                    if at_r(mid, most).is_some() {
                        ok = mid;
                    } else {
                        bad = mid;
                    }
                }
                ok
            };
            for r in [feasible_top, feasible_top.saturating_sub(1).max(lo_r)] {
                let x = if c > 0.0 { most.min(r as f64 / c) } else { most };
                per.extend(at_r(r, x));
            }
            let component = |g: Goal| {
                if per_token(g) {
                    per.iter().map(|t| g.value(t)).fold(f64::INFINITY, f64::min)
                } else {
                    g.value(&t_few)
                }
            };
            let k = (component(goal), component(tie));
            if least.is_none_or(|l| order((k, 0), (l, 0)) == Ordering::Less) {
                least = Some(k);
            }
        }
    }
    (least, classes)
}

/// [`search`]'s `solve_one` by the ILP.
pub fn by_ilp(goal: Goal, time_limit: f64) -> impl FnMut(&Instance, Option<&ilp::Exclude>) -> Result<(Option<Choice>, ilp::Stats), String> {
    move |inst, ex| ilp::solve_excluding(inst, goal, time_limit, ex).map(|o| (o.choice, o.stats))
}

/// A batch solved in the solver's order: the goal, then its tie-break ([`key`]), the
/// first of equal keys as [`brute::best_by`] keeps it; [`by_goal_then`] without a
/// further order.
pub fn by_goal(goal: Goal) -> impl FnMut(&Instance, Option<&ilp::Exclude>) -> Result<(Option<Choice>, ilp::Stats), String> {
    by_goal_then(goal, |_, _| false)
}

/// A batch solved under the key `(goal, its tie-break, then(choice))` by
/// [`brute::best_pruned`]: the choice of enumerating every pair, each option's pairs
/// taken only while its key alone can still win (`tests/batches.rs`,
/// `a_batch_solves_to_the_pair_enumerations_choice`).
pub fn by_goal_then(
    goal: Goal,
    then: impl Fn(&Instance, Choice) -> bool,
) -> impl FnMut(&Instance, Option<&ilp::Exclude>) -> Result<(Option<Choice>, ilp::Stats), String> {
    move |inst, ex| {
        let best = brute::best_pruned(inst, (goal, tie_goal(inst)), ex, &then);
        Ok((best.map(|(c, _)| c), ilp::Stats { proven: true, ..ilp::Stats::default() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_the_ends_every_batch_to_8_and_the_powers_of_two() {
        assert_eq!(seeds_in(1, 100, false), vec![1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 100]);
        assert_eq!(seeds_in(10, 20, false), vec![10, 16, 20]);
        assert_eq!(seeds_in(6, 6, false), vec![6]);
        // with ping-pong, every microbatch count in the range
        assert_eq!(seeds_in(1, 100, true), vec![1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 64, 100]);
        assert_eq!(seeds_in(10, 20, true), vec![10, 12, 16, 20]);
    }

    /// A plan seeds the microbatch counts exactly when its FFN may run on another pool
    /// than its attention (`space::ffn_may_leave_attention`).
    #[test]
    fn only_a_plan_that_may_split_attention_and_ffn_seeds_the_microbatch_counts() {
        let text = |ffn: &str| {
            format!(
                "use std::chips::b200\nuse std::links::{{nvlink5, spectrum_x}}\nuse std::models::llama3_1_8b\n\
                 workload w {{\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 40\n}}\n\
                 cluster c {{\n  pool a = b200 x 8 over nvlink5\n  pool b = b200 x 8 over nvlink5\n  link a <-> b over spectrum_x\n}}\n\
                 plan p {{\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place prefill on a\n  place decode.attn on a\n  place decode.ffn on {ffn}\n}}\n"
            )
        };
        for (ffn, split) in [("a", false), ("b", true), ("any [a, b]", true)] {
            let comp = crate::compile("t.hplan", &text(ffn), None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{ffn}: {:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            let plan = &comp.program.plans[0];
            assert_eq!(space::ffn_may_leave_attention(plan), split, "{ffn}");
            assert_eq!(seeds(plan), seeds_in(1, 40, split), "{ffn}");
        }
    }

    /// Llama-3.1-8B in FP8 at 1-64 sequences, prefill and decode attention on 8 B200s and
    /// `places` (the FFN's, the layers') over them and 64 LP30s, checked.
    fn b200_and_lp30(places: &str) -> crate::Compilation {
        let text = format!(
            "use std::chips::{{b200, lp30}}\nuse std::links::{{nvlink5, groq3_c2c, spectrum_x}}\nuse std::models::llama3_1_8b\n\
             workload w {{\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}}\n\
             cluster c {{\n  pool a = b200 x 8 over nvlink5\n  pool b = lp30 x 64 over groq3_c2c\n  link a <-> b over spectrum_x\n}}\n\
             plan p {{\n  model = llama3_1_8b {{ weights = fp8, activations = fp8 }}\n  cluster = c\n  workload = w\n  place prefill on a\n  \
             place decode.attn on a\n  {places}\n}}\n"
        );
        let comp = crate::compile("t.hplan", &text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        comp
    }

    /// Classes are numbered by their packed key where it exists and by their key
    /// elsewhere: two options get the same number exactly when their classes are equal
    /// (their layouts but for a ping-pong's microbatch count), over colocated,
    /// data-parallel, ping-pong and pipeline options at several batches.
    #[test]
    fn options_share_a_class_number_exactly_when_their_classes_are_equal() {
        let comp = b200_and_lp30("place decode.ffn on any [a, b]\n  place decode.layers on any [a, b]");
        let plan = &comp.program.plans[0];
        let prefill = space::prefill_options(plan, &mut Vec::new());
        let mut layouts = Layouts::default();
        let mut seen: Vec<(space::LayoutKey, u32)> = Vec::new();
        let (mut packed, mut keyed) = (0, 0);
        // per ping-pong class number, the microbatch counts met
        let mut counts: Vec<(u32, u64)> = Vec::new();
        for b in [1, 3, 8, 24, 64] {
            let inst = space::instance(plan, b, &prefill, &mut Vec::new());
            let classes = Classes::of(&inst, &mut layouts);
            for (d, &n) in inst.decode.iter().zip(&classes.layout) {
                match d.packed_class() {
                    Some(_) => packed += 1,
                    None => keyed += 1,
                }
                if matches!(d.layout, space::Layout::PingPong(_)) {
                    counts.push((n, d.microbatches()));
                }
                let k = d.class_key();
                match seen.iter().find(|(s, _)| *s == k) {
                    Some((_, m)) => assert_eq!(*m, n, "{k:?}"),
                    None => {
                        assert!(seen.iter().all(|(_, m)| *m != n), "{k:?} shares number {n} with another class");
                        seen.push((k, n));
                    }
                }
            }
        }
        assert!(packed > 0 && keyed > 0, "both kinds of key: {packed} packed, {keyed} keyed");
        for kind in ["Colocated", "PingPong", "Pipeline"] {
            assert!(seen.iter().any(|(k, _)| format!("{k:?}").starts_with(kind)), "no {kind} layout");
        }
        // a ping-pong class holds its options of every microbatch count
        counts.sort_unstable();
        counts.dedup();
        assert!(counts.windows(2).any(|w| w[0].0 == w[1].0), "no ping-pong class with two microbatch counts");
        // numbers are dense, in the order met
        let mut numbers: Vec<u32> = seen.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..seen.len() as u32).collect::<Vec<_>>());
    }

    /// A search stopped at its bound on batches says so, with a bound no greater than the
    /// best over every batch, and its answer is no better than that best.
    #[test]
    fn a_search_cut_short_bounds_what_it_left() {
        let text = "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\
                    workload w {\n  input = 1k tok\n  output = 256 tok\n  concurrency = 1 ..= 4096\n}\n\
                    cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
                    plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  serving = disaggregated\n}\n";
        let comp = crate::compile("t.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let goal = super::super::goal(plan);
        let start: Vec<(u64, Option<Key>)> = seeds_in(1, 4096, false).into_iter().map(|b| (b, None)).collect();
        let full = search(&mut Batches::new(plan), goal, &start, &|_| None, &mut by_goal(goal)).unwrap();
        assert!(full.unsearched.is_none() && full.solved.len() > start.len() + 2);
        let cut = search_at_most(&mut Batches::new(plan), goal, &start, &|_| None, &mut by_goal(goal), start.len() + 2).unwrap();
        assert_eq!(cut.solved.len(), start.len() + 2);
        let (lb, best) = (cut.unsearched.unwrap(), full.best.unwrap());
        let best_key = key(&best.instance, best.choice, goal).unwrap();
        let found = cut.best.unwrap();
        assert!(lb.0 <= best_key.0 && key(&found.instance, found.choice, goal).unwrap().0 >= best_key.0);
    }

    /// Forks share every space either builds (one space, not two alike) and number
    /// layouts alike; two searches on two forks, side by side on two threads, find what
    /// each finds alone on spaces of its own.
    #[test]
    fn forks_share_the_spaces_they_build_and_search_as_alone() {
        let comp = b200_and_lp30("place decode.ffn on any [a, b]");
        let plan = &comp.program.plans[0];
        let goal = super::super::goal(plan);
        let mut one = Batches::new(plan);
        one.build(8);
        let mut two = one.fork();
        // built by either after the fork: the same space in both, built once
        let (a, b) = (two.build(24) as *const Built, one.build(24) as *const Built);
        assert_eq!(a, b);
        let (a, b) = (one.build(3) as *const Built, two.build(3) as *const Built);
        assert_eq!(a, b);
        // a fork's numbering is the other's: a class first met by one has one number
        let pingpong = |x: &Built| x.inst.decode.iter().position(|d| matches!(d.layout, space::Layout::PingPong(_))).unwrap();
        let x = two.build(40);
        let k = x.inst.decode[pingpong(x)].class_key();
        let n = x.classes.layout[pingpong(x)];
        let y = one.build(40);
        assert_eq!((y.inst.decode[pingpong(y)].class_key(), y.classes.layout[pingpong(y)]), (k, n));
        // a search on each fork, side by side, finds what each finds alone
        let start: Vec<(u64, Option<Key>)> = seeds(plan).into_iter().map(|b| (b, None)).collect();
        let alone = |exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>| {
            let f = search(&mut Batches::new(plan), goal, &start, exclude, &mut by_goal(goal)).unwrap();
            (f.solved, f.best)
        };
        // the second search leaves out the best's kind of layout (with every prefill)
        let (solved, best) = alone(&|_| None);
        let kind = std::mem::discriminant(&best.as_ref().unwrap().decode().layout);
        let other_kind = |inst: &Instance| {
            let decode = (0..inst.decode.len()).filter(|&d| std::mem::discriminant(&inst.decode[d].layout) == kind).collect();
            Some(ilp::Exclude::new(decode, (0..inst.prefill.len()).collect()))
        };
        let all = (solved, best.map(|p| (p.instance.batch, p.choice)));
        let (solved, best) = alone(&other_kind);
        let split = (solved, best.map(|p| (p.instance.batch, p.choice)));
        assert!(all.1.is_some() && split.1.is_some() && all.1 != split.1, "{all:?} {split:?}");
        let mut other = one.fork();
        let (x, y) = std::thread::scope(|s| {
            let h = s.spawn(|| search(&mut other, goal, &start, &other_kind, &mut by_goal(goal)).unwrap());
            let x = search(&mut one, goal, &start, &|_| None, &mut by_goal(goal)).unwrap();
            (x, h.join().unwrap())
        });
        assert_eq!((x.solved, x.best.map(|p| (p.instance.batch, p.choice))), all);
        assert_eq!((y.solved, y.best.map(|p| (p.instance.batch, p.choice))), split);
    }
}
