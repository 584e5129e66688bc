//! Solving with uncertain inputs (docs/uncertainty.md). Each figure of a plan's chips
//! and links written with its uncertainty (`ir::uncertain::Input`) is varied one at a
//! time: the plan is solved again with it at its low and at its high end, every other
//! figure nominal. Where the placement (which pool each stage runs on, as the
//! runner-up defines it) differs at an end, the value at which it changes is found by
//! bisection between the nominal and that end. These re-solves search every batch as
//! the plan's own solve does, each batch's space enumerated (`best_enumerated`); the
//! plan's answer is the ILP's.

use super::batch::{self, Batches, Floors, NominalSpaces, Reuse};
use super::space::Choice;
use super::sweep::SweepPoint;
use super::{decode_signature, goal, space, DecodeSignature, Goal, Point};
use crate::ir::uncertain::{Figure, Input, MAX_INPUTS};
use crate::ir::{Plan, Stage, SweepOver};

/// Bisection steps for a change of placement: the value is found to within 1/256 of
/// the distance from the nominal to the end (in log space when that spans more than
/// a factor of 10).
pub const BISECTION_STEPS: usize = 8;

/// One input, varied.
#[derive(Clone, Debug)]
pub struct Varied {
    pub input: Input,
    /// the best point with the input at its low end, and at its high end (`None`: no
    /// feasible placement there)
    pub low: Option<Point>,
    pub high: Option<Point>,
    /// where the placement changes between the nominal and the low end, and the high
    /// end: the value nearest the nominal at which the best placement is another
    pub switch_low: Option<f64>,
    pub switch_high: Option<f64>,
    /// with a sweep: its best points with the input at its low end and at its high end
    /// (the frontier's bands)
    pub sweep: Option<[SweptEnd; 2]>,
}

/// A plan's sweep with one input at one end of its range.
#[derive(Clone, Debug)]
pub enum SweptEnd {
    /// every value's best point is the nominal sweep's (a figure no answer uses at its
    /// worse end, or no option reads); its metrics are still those of the plan with the
    /// figure there (a price moves the cost)
    Nominal,
    /// solved again: the best point at each value, in the sweep's order
    Solved(Vec<SweepPoint>),
}

/// A plan's inputs, varied.
#[derive(Clone, Debug)]
pub struct Sensitivity {
    pub varied: Vec<Varied>,
    /// inputs beyond [`MAX_INPUTS`], not varied
    pub not_varied: usize,
    /// why no input was varied, when none was
    pub because: Option<NotVaried>,
}

/// Why a plan's inputs were not varied (the report words it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotVaried {
    /// the answer comes from the simulated rate search (percentile SLOs, goodput): its
    /// ends would need that search again per input, which `vary` does not run, and an
    /// end solved without it is not the plan's answer there
    Simulated,
}

/// Which pool each stage runs on: what "the placement changes" means here.
pub type Assignment = (DecodeSignature, usize, bool);

pub fn assignment(p: &Point) -> Assignment {
    let pre = p.prefill();
    (decode_signature(p.decode()), pre.pool, pre.aggregated)
}

/// The best point of `plan` over its whole space (no runner-up, no diagnostics), as the
/// plan's answer is found ([`super::search_batches`]).
pub fn best_point(plan: &Plan) -> Result<Option<Point>, String> {
    Ok(super::search_batches(plan, &mut Batches::new(plan))?.best)
}

/// The spaces of `plan` (a plan with one figure moved), taken `from` its nominal
/// spaces where given ([`Batches::reusing`]), else built.
fn batches_of<'p>(plan: &'p Plan, from: Option<(&'p NominalSpaces<'p>, Reuse)>) -> Batches<'p> {
    match from {
        Some((from, reuse)) => Batches::reusing(plan, from, reuse),
        None => Batches::new(plan),
    }
}

/// The best point over every batch of `batches`' plan ([`batch::search`]), each batch
/// solved by enumerating the decode and prefill pairs at their fewest replicas that keep
/// up ([`batch::by_goal_then`]: the choice of the exact enumeration the ILP's answers are
/// tested against, `brute::best_by`,
/// 15-300x faster than the ILP on the examples' instances: `cargo bench --bench
/// solve`), in the solver's order: the goal, its tie-break (`tie_goal`), the smaller
/// batch; among choices equal in all three the `nominal` placement is kept, so an exact
/// tie is never reported as a change of placement.
///
/// With `floors` (the plan's figures are no better than those of the nominal spaces
/// that gave them) the seeds and the ranges between them are queued at those bounds
/// ([`batch::search_floored`]): the same point, building only the spaces that can hold
/// it.
///
/// With `below`, only how the best key compares with `below` is asked: a point whose
/// key is less where the best's is, else the best ([`batch::search_below`]).
fn best_enumerated(batches: &mut Batches, goal: Goal, nominal: &Assignment, floors: Option<&Floors>, below: Option<f64>) -> Option<Point> {
    let mut solve_one = batch::by_goal_then(goal, |inst: &space::Instance, c: Choice| {
        let (d, k) = (&inst.decode[c.decode], &inst.prefill[c.prefill]);
        (decode_signature(d), k.pool, k.aggregated) != *nominal
    });
    // enumeration never fails
    batch::search_below(batches, goal, floors, below, &mut solve_one).ok().and_then(|f| f.best)
}

/// The value between `from` (where the placement is `nominal`'s) and `to` (where it is
/// not) nearest `from` at which the best placement is another one.
///
/// `floors`: those of the end's spaces ([`Around::end_floors`]) when `to` is a better
/// figure than the nominal (every value between is worse than `to`; toward a worse end
/// the nominal spaces' serve).
///
/// Each step's spaces tighten the floors for the steps after it where their values are
/// all worse than its value: after a step that keeps the nominal placement toward a
/// worse end, after one that changes it toward a better end.
fn switch(around: &Around, input: &Input, from: f64, to: f64, floors: Option<&Floors>) -> f64 {
    let toward_worse = around.worse(input, to);
    let mut tightened: Option<Floors> = None;
    bisect(from, to, BISECTION_STEPS, |v| {
        let (point, next) = around.step(input, v, tightened.as_ref().or(floors), |same| same == toward_worse);
        if next.is_some() {
            tightened = next;
        }
        around.keeps_nominal(&point)
    })
}

/// A plan's nominal answer and what solving it again with one input moved can reuse.
struct Around<'a> {
    plan: &'a Plan,
    best: &'a Point,
    nominal: Assignment,
    /// the nominal spaces: at the seed batches (what decides whether varying a figure
    /// changed the space at all), and at every batch a solve that can reuse them
    /// ([`reuse`]) asked for
    spaces: NominalSpaces<'a>,
    /// whether the goal or a budget reads the options' watts (the tie-breaks read dollars
    /// and chips)
    power_is_read: bool,
    /// bounds on the goal from the nominal spaces that hold where a figure is worse than
    /// nominal ([`Floors`]; built by the first solve at such a value)
    floors: std::sync::OnceLock<Option<Floors>>,
    /// per value of an SLO sweep, the nominal spaces' floors under its bound (built by
    /// the first sweep solved at a worse figure)
    sweep_floors: std::sync::OnceLock<Option<Vec<Option<Floors>>>>,
}

impl<'a> Around<'a> {
    /// `kept`: the spaces the plan's solve kept ([`NominalSpaces::after`]).
    fn new(plan: &'a Plan, best: &'a Point, kept: Option<&batch::Kept>) -> Around<'a> {
        let power_is_read = plan.objective.needs_power() || plan.budget.watts.is_some();
        let spaces = NominalSpaces::after(plan, kept);
        Around {
            plan,
            best,
            nominal: assignment(best),
            spaces,
            power_is_read,
            floors: Default::default(),
            sweep_floors: Default::default(),
        }
    }

    /// The floors an SLO sweep `over` at a worse figure than nominal starts each value's
    /// search from ([`super::sweep::enumerated`]): the nominal spaces' under that value's
    /// bound. `None` for a sweep of another variable, or a goal without floors.
    fn sweep_floors(&self, over: &SweepOver) -> Option<&[Option<Floors>]> {
        let SweepOver::TokensPerSUser(values) = over else { return None };
        let g = goal(self.plan);
        let floors = self.sweep_floors.get_or_init(|| {
            let per_value: Vec<Option<Floors>> = values.iter().map(|v| self.spaces.floors_under(g, Some(Some(1.0 / v)))).collect();
            per_value.iter().any(Option::is_some).then_some(per_value)
        });
        floors.as_deref()
    }

    /// The bounds a solve with `input` at `value` may start from: the nominal spaces'
    /// [`Floors`] where the figure is worse than nominal, else none.
    fn floors_at(&self, input: &Input, value: f64) -> Option<&Floors> {
        self.worse(input, value).then(|| self.floors.get_or_init(|| self.spaces.floors(goal(self.plan))).as_ref()).flatten()
    }

    /// The best point of the plan with `input` at `value`, every other figure nominal.
    /// The nominal answer without a solve where it provably stays the best:
    /// - at the nominal figure;
    /// - a chip's power when neither the goal nor a budget reads watts: it changes only
    ///   the options' watts;
    /// - where the figure is worse than nominal (`more_is_worse`) and the answer does not
    ///   run on its chip or link: every configuration that does is no better than at the
    ///   nominal and every other is unchanged (every objective, SLO and budget is
    ///   monotone in these figures; ties keep their order);
    /// - where the spaces at the seed batches are the nominal's, option for option: no
    ///   option reads the figure (a peak of a precision nothing runs in, a chip no
    ///   option places on).
    ///
    /// ([`vary_all`] also takes the better ends of unused inputs from one solve for
    /// several, [`Around::optimistic`].) Otherwise the exact enumeration of every batch
    /// ([`best_enumerated`]).
    ///
    /// With `below`, only how the best's key compares with `below` is asked: a point
    /// whose key is less than `below` where the best's is, else the best
    /// ([`batch::search_below`]).
    fn at(&self, input: &Input, value: f64, below: Option<f64>) -> Option<Point> {
        self.solve_at(input, value, None, below, |_, _, _| None).0
    }

    /// [`Around::at`] (comparing with `below` where given), its search started from
    /// `floors` (else the nominal spaces' [`Floors`] where the figure is worse than
    /// nominal), and what `then` takes of the spaces it built, given the point found and
    /// the floors it started from (none where the nominal answer stays without a solve).
    fn solve_at(
        &self,
        input: &Input,
        value: f64,
        floors: Option<&Floors>,
        below: Option<f64>,
        then: impl FnOnce(&mut Batches, &Option<Point>, Option<&Floors>) -> Option<Floors>,
    ) -> (Option<Point>, Option<Floors>) {
        let solved = self.with_varied(input, value, uses(self.plan, self.best, input), |mut space| {
            let from = floors.or(self.floors_at(input, value));
            let point = best_enumerated(&mut space, goal(self.plan), &self.nominal, from, below);
            let kept = then(&mut space, &point, from);
            (point, kept)
        });
        solved.unwrap_or_else(|| (Some(self.best.clone()), None))
    }

    /// The floors of an end's spaces for the bisection toward it ([`switch`]): where the
    /// figure is better than nominal and the placement there is another (toward a worse
    /// end the nominal spaces' serve).
    fn end_floors(&self, input: &Input, value: f64, space: &mut Batches, point: &Option<Point>) -> Option<Floors> {
        (!self.keeps_nominal(point) && !self.worse(input, value)).then(|| space.floors(goal(self.plan))).flatten()
    }

    /// A bisection step ([`switch`]): the best point with `input` at `value`, its search
    /// started from `floors` (else [`Around::floors_at`]), and where `tighten` says so
    /// of whether the placement there is the nominal one, those floors tightened by the
    /// spaces it built ([`Batches::tighten`]).
    fn step(&self, input: &Input, value: f64, floors: Option<&Floors>, tighten: impl Fn(bool) -> bool) -> (Option<Point>, Option<Floors>) {
        self.solve_at(input, value, floors, None, |space, point, from| {
            from.filter(|_| tighten(self.keeps_nominal(point))).map(|f| space.tighten(f, goal(self.plan)))
        })
    }

    /// Whether `point` has the nominal placement.
    fn keeps_nominal(&self, point: &Option<Point>) -> bool {
        point.as_ref().map(assignment).as_ref() == Some(&self.nominal)
    }

    /// Whether `value` of `input` makes every configuration no better than its nominal.
    fn worse(&self, input: &Input, value: f64) -> bool {
        value != input.nominal && (value > input.nominal) == more_is_worse(input.figure)
    }

    /// Whether the nominal answers provably stay the best with `input` at `value`
    /// without building anything (the first shortcuts of [`Around::at`]; `used`: whether
    /// an answer runs on the input's chip or link).
    fn stays(&self, input: &Input, value: f64, used: bool) -> bool {
        let unread = matches!(input.figure, Figure::Power | Figure::SystemPower) && !self.power_is_read;
        value == input.nominal || unread || (self.worse(input, value) && !used)
    }

    /// `f` of the plan with `input` at `value` and its spaces (those at the seed batches
    /// compared with the nominal ones and so built), or
    /// `None` where the nominal answers provably stay the best (the shortcuts of
    /// [`Around::at`]; `used`: whether an answer runs on the input's chip or link).
    fn with_varied<R>(&self, input: &Input, value: f64, used: bool, f: impl FnOnce(Batches) -> R) -> Option<R> {
        if self.stays(input, value, used) {
            return None;
        }
        let varied = self.plan.with_input(input, value);
        let mut space = batches_of(&varied, reuse(self.plan, input).map(|r| (&self.spaces, r)));
        if self.spaces.same_at_seeds(&mut space) {
            return None;
        }
        Some(f(space))
    }

    /// The end of `input`'s range where every configuration is at least as good as at
    /// the nominal figure.
    fn better_end(&self, input: &Input) -> f64 {
        if more_is_worse(input.figure) {
            input.low
        } else {
            input.high
        }
    }

    /// Whether the better end of `input` can be answered by [`Around::optimistic`]: no
    /// shortcut of [`Around::stays`] answers it, and neither the answer nor any point
    /// of the sweep runs on its chip or link.
    fn unused_at_better_end(&self, input: &Input, sweep: Option<&[SweepPoint]>) -> bool {
        let points = std::iter::once(self.best).chain(sweep.into_iter().flatten().filter_map(|x| x.point.as_ref()));
        let used = points.into_iter().any(|p| uses(self.plan, p, input));
        !used && !self.stays(input, self.better_end(input), used)
    }

    /// Whether the nominal answer (and, with a sweep `over` whose nominal points are
    /// `nominal`, every point's placement) stays the best with every one of `inputs` at
    /// its better end at once. Then it stays with any one of them there alone, the
    /// others nominal: no input's chip or link carries the answer or a point of the
    /// sweep ([`Around::unused_at_better_end`]), so their figures are unchanged, and
    /// every configuration that does run on one is no better with one input at its
    /// better end than with all of them there (every objective, SLO, budget and
    /// tie-break is monotone in each figure; the same argument as the worse end's
    /// shortcut in [`Around::at`]). One solve in place of one per input.
    fn optimistic(&self, inputs: &[&Input], sweep: Option<(&SweepOver, &[SweepPoint])>) -> bool {
        let mut varied = self.plan.clone();
        for input in inputs {
            varied = varied.with_input(input, self.better_end(input));
        }
        let reuses: Vec<Option<Reuse>> = inputs.iter().map(|i| reuse(self.plan, i)).collect();
        let shared = reuses[0].filter(|r| reuses.iter().all(|x| *x == Some(*r)));
        let mut space = batches_of(&varied, shared.map(|r| (&self.spaces, r)));
        let point = best_enumerated(&mut space, goal(self.plan), &self.nominal, None, None);
        if !self.keeps_nominal(&point) {
            return false;
        }
        let Some((over, nominal)) = sweep else { return true };
        let swept = super::sweep::enumerated(&mut space, over, None);
        swept.len() == nominal.len()
            && swept.iter().zip(nominal).all(|(a, b)| a.point.as_ref().map(assignment) == b.point.as_ref().map(assignment))
    }

    /// The best point with `input` at the end `value` ([`Around::at`]) and, with a
    /// sweep `over` whose nominal points are `nominal`, the sweep there: the nominal
    /// sweep's points where they provably stay the best at every value (the same
    /// shortcuts, no point of the sweep running on the input's chip or link), else the
    /// sweep solved again by enumeration ([`super::sweep::enumerated`]) over the spaces
    /// the end's solve built.
    ///
    /// Toward a better figure where the placement changes, also the floors of the end's
    /// spaces ([`Around::end_floors`]), taken before the sweep puts its SLO values in them.
    fn end(&self, input: &Input, value: f64, sweep: Option<(&SweepOver, &[SweepPoint])>) -> Solved {
        let Some((over, nominal)) = sweep else {
            let (point, floors) = self.solve_at(input, value, None, None, |space, point, _| self.end_floors(input, value, space, point));
            return (point, None, floors);
        };
        let point_stays = self.stays(input, value, uses(self.plan, self.best, input));
        let sweep_stays = self.stays(input, value, nominal.iter().filter_map(|x| x.point.as_ref()).any(|p| uses(self.plan, p, input)));
        let solved = self.with_varied(input, value, !(point_stays && sweep_stays), |mut space| {
            let point = if point_stays {
                Some(self.best.clone())
            } else {
                best_enumerated(&mut space, goal(self.plan), &self.nominal, self.floors_at(input, value), None)
            };
            let floors = self.end_floors(input, value, &mut space, &point);
            let from = self.worse(input, value).then(|| self.sweep_floors(over)).flatten();
            let swept = if sweep_stays { SweptEnd::Nominal } else { SweptEnd::Solved(super::sweep::enumerated(&mut space, over, from)) };
            (point, swept, floors)
        });
        match solved {
            Some((point, swept, floors)) => (point, Some(swept), floors),
            None => self.nominal_end(true),
        }
    }

    /// An end where the nominal answer provably stays the best: that answer, and with a
    /// sweep (`swept`) the nominal sweep's points.
    fn nominal_end(&self, swept: bool) -> Solved {
        (Some(self.best.clone()), swept.then_some(SweptEnd::Nominal), None)
    }
}

/// The value between `from` (where `as_at_from` holds) and `to` (where it does not)
/// nearest `from` at which it does not, to within `1/2^steps` of the distance, in log
/// space when the two span more than a factor of 10.
fn bisect(from: f64, to: f64, steps: usize, mut as_at_from: impl FnMut(f64) -> bool) -> f64 {
    bisect_guided(from, to, steps, (f64::NAN, f64::NAN), |v| (as_at_from(v), f64::NAN))
}

/// The `2^steps + 1` points a bisection from `from` to `to` can try, each the float it
/// computes there: point `j` halves (in log space when the two span more than a factor
/// of 10) the two points either side of it at the distance of its lowest set bit, as
/// every bisection whose interval has them for ends does.
struct Halvings {
    log: bool,
    ends: (f64, f64),
    n: u64,
}

impl Halvings {
    fn new(from: f64, to: f64, steps: usize) -> Halvings {
        let log = from > 0.0 && to > 0.0 && (to / from).max(from / to) > 10.0;
        let ends = if log { (from.ln(), to.ln()) } else { (from, to) };
        Halvings { log, ends, n: 1 << steps }
    }

    /// Point `j`, in the space the halving is done in.
    fn inner(&self, j: u64) -> f64 {
        let (mut lo, mut hi, (mut x_lo, mut x_hi)) = (0, self.n, self.ends);
        while j != lo && j != hi {
            let mid = lo + (hi - lo) / 2;
            let x = 0.5 * (x_lo + x_hi);
            if j < mid {
                (hi, x_hi) = (mid, x);
            } else {
                (lo, x_lo) = (mid, x);
            }
        }
        if j == lo {
            x_lo
        } else {
            x_hi
        }
    }

    /// Point `j` as a value.
    fn at(&self, j: u64) -> f64 {
        let x = self.inner(j);
        if self.log {
            x.exp()
        } else {
            x
        }
    }
}

/// [`bisect`], where each step also gives a measure that crosses zero where
/// `as_at_from` stops holding (`(at_from, at_to)` at the ends; NaN where there is none):
/// each step tries the point where a line through two measures is zero ([`aim`]) while
/// the steps taken and the halvings left from there stay within `steps + AIM_SLACK`,
/// else halves. Every point tried is one [`bisect`] can try, the float it computes there
/// ([`Halvings`]), and the answer is the first point where `as_at_from` does not hold
/// after the last where it does: so where `as_at_from` holds below one value and not
/// from it on, [`bisect`]'s answer, after about two steps where the measure is linear
/// near the change rather than `steps`, and never after more than `steps + AIM_SLACK`
/// (a halving keeps steps taken plus halvings left as they were; an aimed step adds one
/// to that sum at most).
fn bisect_guided(from: f64, to: f64, steps: usize, (at_from, at_to): (f64, f64), mut as_at_from: impl FnMut(f64) -> (bool, f64)) -> f64 {
    let points = Halvings::new(from, to, steps);
    // the points tried on each side, nearest the change last
    let mut sides: [Vec<(u64, f64)>; 2] = [vec![(0, at_from)], vec![(points.n, at_to)]];
    // each side's measure is halved for every step after the first in a row that moved
    // the other side (the Illinois rule: an end that stays does not hold the aim back)
    let mut scale = [1.0, 1.0];
    let mut last_side = None;
    let mut tried = 0;
    loop {
        let (lo, hi) = (sides[0].last().expect("an end").0, sides[1].last().expect("an end").0);
        if hi - lo <= 1 {
            return points.at(hi);
        }
        // halving from here takes `⌈log2(hi − lo)⌉` steps: an aimed step only while one
        // that narrows the interval by a single point still leaves halving within
        // `steps + AIM_SLACK` in all
        let halvings = u64::BITS - (hi - lo - 1).leading_zeros();
        let may_aim = tried + 1 + halvings as usize <= steps + AIM_SLACK;
        let aimed = may_aim.then(|| aim(&points, &sides, scale, last_side)).flatten();
        let j = aimed.unwrap_or(lo + (hi - lo) / 2);
        let (same, measure) = as_at_from(points.at(j));
        tried += 1;
        let side = usize::from(!same);
        sides[side].push((j, measure));
        scale[side] = 1.0;
        if last_side == Some(side) {
            scale[1 - side] *= 0.5;
        }
        last_side = Some(side);
    }
}

/// The steps a guided bisection ([`bisect_guided`]) may take beyond a halving one's.
const AIM_SLACK: usize = 2;

/// Where a guided bisection ([`bisect_guided`]) aims: the first point at or above where
/// a line through two measures (taken as linear in the value) is zero, strictly between
/// the nearest points tried on either side (`sides`). The line through the two nearest
/// the change on the side the last step (`last`) fell on, where it meets zero in that
/// interval (a measure that is linear near the change lands next to it from one side:
/// a search that only compared with a key measures the other side's points loosely, or
/// not at all); else through the nearest point on each side, each side's measure times
/// its `scale`, where both are finite and of opposite signs; else `None`.
fn aim(points: &Halvings, sides: &[Vec<(u64, f64)>; 2], scale: [f64; 2], last: Option<usize>) -> Option<u64> {
    let (lo, hi) = (*sides[0].last()?, *sides[1].last()?);
    let finite = |p: &(u64, f64)| p.1.is_finite();
    let zero_of = |(ja, fa): (u64, f64), (jb, fb): (u64, f64)| -> Option<u64> {
        if fa == fb || !(fa.is_finite() && fb.is_finite()) {
            return None;
        }
        let (va, vb) = (points.at(ja), points.at(jb));
        let zero = va + (vb - va) * (fa / (fa - fb));
        let (x0, x1) = points.ends;
        let x = if points.log { zero.ln() } else { zero };
        let at = (x - x0) / (x1 - x0) * points.n as f64;
        (at.is_finite() && at > lo.0 as f64 && at < hi.0 as f64 + 1.0).then(|| (at.ceil() as u64).clamp(lo.0 + 1, hi.0 - 1))
    };
    // the last two points, where both are on one side
    let same_side = last.map(|s| &sides[s]).filter(|s| s.len() >= 2).and_then(|s| zero_of(s[s.len() - 2], s[s.len() - 1]));
    same_side.or_else(|| {
        let (lo, hi) = ((lo.0, lo.1 * scale[0]), (hi.0, hi.1 * scale[1]));
        (finite(&lo) && finite(&hi) && lo.1 * hi.1 <= 0.0).then(|| zero_of(lo, hi)).flatten()
    })
}

/// Whether more of the figure makes every configuration no better: times, prices and
/// power (more of a peak, an efficiency or a bandwidth makes them no worse).
pub fn more_is_worse(f: Figure) -> bool {
    match f {
        Figure::Price
        | Figure::Power
        | Figure::SystemPower
        | Figure::StepOverhead
        | Figure::LayerOverhead
        | Figure::SequenceOverhead
        | Figure::Latency => true,
        Figure::Compute(_) | Figure::ComputeEfficiency | Figure::MemoryEfficiency | Figure::Bandwidth | Figure::TierBandwidth(_) => false,
    }
}

/// What the plan with `input` moved can take of its nominal spaces: every option
/// repriced for a price or a power; the decode options where none reads the figure
/// (its chip or link is on none of the pools the decode stages may use, nor joins two
/// of them: a chip or link of the plan's own prefill chips, whose KV paths are in the
/// prefill options); nothing otherwise.
pub fn reuse(plan: &Plan, input: &Input) -> Option<Reuse> {
    if input.figure.moves_only_spend() {
        return Some(Reuse::Repriced);
    }
    // the draft's pools only where the plan speculates (unplaced, it names every pool)
    let decode: Vec<usize> = [Stage::DecodeAttn, Stage::DecodeFfn, Stage::Draft, Stage::DecodeLayers]
        .iter()
        .filter(|&&s| s != Stage::Draft || plan.speculation.is_some())
        .flat_map(|&s| plan.placement(s).pools.iter().copied())
        .collect();
    let on = |p: &usize| decode.contains(p);
    let read = touched(plan, input).iter().any(on) || joined(plan, input).iter().any(|(a, b)| on(a) && on(b));
    (!read).then_some(Reuse::Decode)
}

/// The pools whose options the input changes: those with its chip, or those whose
/// scale-up or scale-out link it is.
fn touched(plan: &Plan, input: &Input) -> Vec<usize> {
    let pools = &plan.cluster.pools;
    (0..pools.len())
        .filter(|&i| match input.figure.of_link() {
            true => pools[i].link.iter().chain(pools[i].scale_out.as_ref().map(|s| &s.link)).any(|l| l.name == input.item),
            false => pools[i].chip.name == input.item,
        })
        .collect()
}

/// The cluster's links between pools that the input is a figure of (a KV transfer or a
/// crossing over one belongs to a pair of options, not to one), as pool pairs.
fn joined(plan: &Plan, input: &Input) -> Vec<(usize, usize)> {
    plan.cluster.links.iter().filter(|l| input.figure.of_link() && l.link.name == input.item).map(|l| (l.a, l.b)).collect()
}

/// Whether `p` runs on a chip or over a link the input belongs to: a pool it uses is
/// [`touched`], or a link of the input joins two pools it uses.
fn uses(plan: &Plan, p: &Point, input: &Input) -> bool {
    let d = p.decode();
    let used = |i: usize| d.chips.get(i).is_some_and(|n| *n > 0) || i == p.prefill().pool;
    touched(plan, input).into_iter().any(used) || joined(plan, input).into_iter().any(|(a, b)| used(a) && used(b))
}

/// Varies every input of `plan` (at most [`MAX_INPUTS`]) around its best point `best`,
/// on `jobs` threads (0: one per core); the same result for any number ([`vary_all`]
/// of one plan).
pub fn vary(plan: &Plan, best: &Point, sweep: Option<&(SweepOver, Vec<SweepPoint>)>, jobs: usize) -> Result<Sensitivity, String> {
    let nominals = Nominals::new(&[Some((plan, best, None))], jobs);
    vary_all(&nominals, &[sweep], jobs).pop().flatten().ok_or_else(|| "the plan was not varied".to_string())
}

/// The plans of a build around whose answers inputs are varied: what solving each again
/// with one input moved can reuse.
pub struct Nominals<'a> {
    arounds: Vec<Option<Around<'a>>>,
}

impl<'a> Nominals<'a> {
    /// `plans[i]`: plan `i`, its best point and the spaces its solve kept (where it did:
    /// [`NominalSpaces::after`]) where its inputs are to be varied (`None`: not solved,
    /// or not varied); each one's nominal spaces built, on `jobs` threads.
    pub fn new(plans: &[Option<(&'a Plan, &'a Point, Option<&'a batch::Kept>)>], jobs: usize) -> Nominals<'a> {
        let arounds = super::sweep::par_map(plans, jobs, &|_, _| {}, |p| p.map(|(plan, best, kept)| Around::new(plan, best, kept)));
        Nominals { arounds }
    }
}

/// What one task of [`vary_all`] is: an end of an input's range (low or high) of a plan.
type End = (usize, usize, bool);

/// An end solved ([`Around::end`]): its best point, its sweep, and the floors of its
/// spaces for the bisection toward it.
type Solved = (Option<Point>, Option<SweptEnd>, Option<Floors>);

/// Every input (at most [`MAX_INPUTS`] a plan) of every plan of `nominals` varied around
/// its answer, with its sweep (`sweeps[i]`, whose bands are wanted): the nominal answer
/// where it provably stays the best at an end ([`Around::at`]; at the better ends of the
/// inputs neither the answer nor its sweep runs on, from one solve with all of them
/// there, [`Around::optimistic`], where a plan has two or more), else the exact
/// enumeration of its space, and where the placement changes at an end the value at
/// which it does, by bisection. The optimistic solves are one task per plan, then every
/// end of every plan is one task and then every
/// change of placement, each list shared by `jobs` threads (0: one per core), so that a
/// plan with few inputs or one input with a long bisection does not leave a core idle;
/// the same result for any number. `None` for a plan with nothing to vary.
pub fn vary_all(nominals: &Nominals, sweeps: &[Option<&(SweepOver, Vec<SweepPoint>)>], jobs: usize) -> Vec<Option<Sensitivity>> {
    // each plan's inputs, and those varied: the first MAX_INPUTS, none where the answer
    // comes from the simulated rate search
    let all: Vec<Vec<Input>> = nominals.arounds.iter().map(|a| a.as_ref().map(|a| a.plan.inputs()).unwrap_or_default()).collect();
    let simulated = |i: usize| nominals.arounds[i].as_ref().is_some_and(|a| a.plan.simulated());
    let inputs: Vec<&[Input]> =
        (0..all.len()).map(|i| if simulated(i) { &[][..] } else { &all[i][..all[i].len().min(MAX_INPUTS)] }).collect();
    let sweep = |i: usize| sweeps.get(i).copied().flatten().map(|(over, pts)| (over, pts.as_slice()));
    // only plans with an answer have inputs to vary
    let around = |i: usize| nominals.arounds[i].as_ref().expect("a plan with inputs to vary");
    // every end of every input, then every change of placement they show
    let ends: Vec<End> = (0..inputs.len()).flat_map(|i| (0..inputs[i].len()).flat_map(move |k| [(i, k, true), (i, k, false)])).collect();
    // each plan's inputs whose better end one solve with all of them there answers
    // (`Around::optimistic`), where there are two or more
    let grouped: Vec<Vec<usize>> = (0..inputs.len())
        .map(|i| {
            let Some(a) = nominals.arounds[i].as_ref() else { return vec![] };
            let g: Vec<usize> = (0..inputs[i].len()).filter(|&k| a.unused_at_better_end(&inputs[i][k], sweep(i).map(|(_, p)| p))).collect();
            if g.len() >= 2 {
                g
            } else {
                vec![]
            }
        })
        .collect();
    // per plan, whether its group's nominal answer stays (one task each; none without a group)
    let plans: Vec<usize> = (0..inputs.len()).collect();
    let group_stays = super::sweep::par_map(&plans, jobs, &|_, _| {}, |&i| {
        !grouped[i].is_empty() && around(i).optimistic(&grouped[i].iter().map(|&k| &inputs[i][k]).collect::<Vec<_>>(), sweep(i))
    });
    let solved = super::sweep::par_map(&ends, jobs, &|_, _| {}, |&(i, k, low)| {
        let input = &inputs[i][k];
        let value = if low { input.low } else { input.high };
        if group_stays[i] && grouped[i].contains(&k) && value == around(i).better_end(input) {
            return around(i).nominal_end(sweep(i).is_some());
        }
        around(i).end(input, value, sweep(i))
    });
    let changed: Vec<(End, Option<&Floors>)> = ends
        .iter()
        .zip(&solved)
        .filter(|(&(i, _, _), (p, _, _))| !around(i).keeps_nominal(p))
        .map(|(e, (_, _, f))| (*e, f.as_ref()))
        .collect();
    let switches = super::sweep::par_map(&changed, jobs, &|_, _| {}, |&((i, k, low), floors)| {
        let input = &inputs[i][k];
        switch(around(i), input, input.nominal, if low { input.low } else { input.high }, floors)
    });
    let changed: Vec<End> = changed.into_iter().map(|(e, _)| e).collect();
    let mut solved = ends.iter().zip(solved);
    let mut switches = changed.iter().zip(switches).peekable();
    let mut switch_at = |end: End| switches.next_if(|(e, _)| **e == end).map(|(_, v)| v);
    (0..inputs.len())
        .map(|i| {
            nominals.arounds[i].as_ref()?;
            if simulated(i) {
                return Some(Sensitivity { varied: vec![], not_varied: all[i].len(), because: Some(NotVaried::Simulated) });
            }
            let varied = inputs[i]
                .iter()
                .enumerate()
                .map(|(k, input)| {
                    let ((_, (low, sweep_low, _)), (_, (high, sweep_high, _))) =
                        (solved.next().expect("a low end"), solved.next().expect("a high end"));
                    let (switch_low, switch_high) = (switch_at((i, k, true)), switch_at((i, k, false)));
                    let sweep = sweep_low.zip(sweep_high).map(|(l, h)| [l, h]);
                    Varied { input: input.clone(), low, high, switch_low, switch_high, sweep }
                })
                .collect();
            Some(Sensitivity { varied, not_varied: all[i].len() - inputs[i].len(), because: None })
        })
        .collect()
}

/// Bisection steps for a break-even between two plans: each step solves both by
/// enumeration, so more of them than for a change of placement (1/4096 of the distance).
pub const BREAK_EVEN_STEPS: usize = 12;

/// Where two plans' objectives tie as one uncertain input moves from its nominal figure
/// toward one end of its range, the others nominal.
#[derive(Clone, Debug)]
pub struct BreakEven {
    pub input: Input,
    /// toward the low end (else the high end)
    pub below: bool,
    /// the value nearest the nominal at which the other plan is better
    pub value: f64,
}

/// One plan of a comparison: the plan, its answer and its inputs varied.
pub struct Side<'a> {
    pub plan: &'a Plan,
    pub best: &'a Point,
    pub varied: &'a Sensitivity,
}

impl Side<'_> {
    /// Whether the plan has `input` (by name: the same chip or link figure).
    fn has(&self, input: &Input) -> bool {
        self.plan.inputs().iter().any(|i| i.name() == input.name())
    }

    /// The plan's goal value at `point` (infinity where nothing is feasible).
    fn value(&self, point: Option<&Point>) -> f64 {
        point.map_or(f64::INFINITY, |p| super::key(p, goal(self.plan)).0)
    }

    /// The plan's goal value with `input` at `value`: its own answer where it does not
    /// have the input, an end's where the input was varied there, else [`Around::at`]
    /// (with `below`, a value that compares with `below` as the best's does).
    fn objective(&self, around: &Around, input: &Input, value: f64, below: Option<f64>) -> f64 {
        if !self.has(input) {
            return self.value(Some(self.best));
        }
        // the ends were solved when the input was varied
        if let Some(v) = self.varied.varied.iter().find(|v| v.input.name() == input.name()) {
            for (end, p) in [(v.input.low, &v.low), (v.input.high, &v.high)] {
                if end == value {
                    return self.value(p.as_ref());
                }
            }
        }
        self.value(around.at(input, value, below).as_ref())
    }
}

/// The break-evens between `a` and `b` (two plans minimising the same goal): for each
/// input either varies (by name: the same chip or link figure), each end of its range
/// at which the plan that is better at the nominal figures is no longer better, and
/// by bisection the value nearest the nominal where that happens. Empty when the goals
/// differ or either plan did not vary its inputs. The inputs are bisected on `jobs`
/// threads (0: one per core); the result is the same for any number ([`break_evens`] of
/// one pair).
pub fn break_even(a: &Side, b: &Side, jobs: usize) -> Vec<BreakEven> {
    let nominals = Nominals::new(&[Some((a.plan, a.best, None)), Some((b.plan, b.best, None))], jobs);
    let varied = [Some(a.varied.clone()), Some(b.varied.clone())];
    break_evens(&nominals, &varied, &[(0, 1)], jobs).pop().flatten().unwrap_or_default()
}

/// [`break_even`] of each pair of plans `(a, b)` of `nominals` (by index, each with its
/// inputs varied in `varied`): every input of every pair is one task, shared by `jobs`
/// threads (0: one per core); the same result for any number. `None` for a pair of
/// which a plan was not varied.
pub fn break_evens(
    nominals: &Nominals,
    varied: &[Option<Sensitivity>],
    pairs: &[(usize, usize)],
    jobs: usize,
) -> Vec<Option<Vec<BreakEven>>> {
    let side = |i: usize| -> Option<(Side, &Around)> {
        let around = nominals.arounds.get(i)?.as_ref()?;
        Some((Side { plan: around.plan, best: around.best, varied: varied.get(i)?.as_ref()? }, around))
    };
    // the inputs of each pair, in order: its first plan's, then the second's it lacks
    let inputs = |a: &Side, b: &Side| -> Vec<Input> {
        if goal(a.plan) != goal(b.plan) || a.varied.because.is_some() || b.varied.because.is_some() {
            return vec![];
        }
        let mut inputs: Vec<Input> = a.varied.varied.iter().map(|v| v.input.clone()).collect();
        for v in &b.varied.varied {
            if !inputs.iter().any(|i| i.name() == v.input.name()) {
                inputs.push(v.input.clone());
            }
        }
        inputs
    };
    let tasks: Vec<(usize, Input)> = pairs
        .iter()
        .enumerate()
        .filter_map(|(n, &(a, b))| Some((n, inputs(&side(a)?.0, &side(b)?.0))))
        .flat_map(|(n, inputs)| inputs.into_iter().map(move |input| (n, input)))
        .collect();
    let found = super::sweep::par_map(&tasks, jobs, &|_, _| {}, |(n, input)| {
        let (a, b) = (side(pairs[*n].0).expect("a varied plan"), side(pairs[*n].1).expect("a varied plan"));
        tied(a, b, input)
    });
    let mut found = tasks.iter().map(|(n, _)| *n).zip(found).peekable();
    (0..pairs.len())
        .map(|n| {
            side(pairs[n].0)?;
            side(pairs[n].1)?;
            let mut out = Vec::new();
            while let Some((_, f)) = found.next_if(|(m, _)| *m == n) {
                out.extend(f);
            }
            Some(out)
        })
        .collect()
}

/// Two plans' keys where only which is better is asked, each solved by its closure
/// (given the key to compare with, if any): one solved in full (`b` where `b_first`,
/// else `a`), the other's search only comparing with its key ([`batch::search_below`]:
/// a key that compares with it as the best's does), with what else each closure gives.
fn compared<T>(b_first: bool, a: impl FnOnce(Option<f64>) -> (f64, T), b: impl FnOnce(Option<f64>) -> (f64, T)) -> ((f64, T), (f64, T)) {
    if b_first {
        let kb = b(None);
        (a(Some(kb.0)), kb)
    } else {
        let ka = a(None);
        let kb = b(Some(ka.0));
        (ka, kb)
    }
}

/// Where the better of `a` and `b` changes as `input` moves from its nominal figure
/// toward each end of its range: [`break_even`] of one input.
fn tied((a, around_a): (Side, &Around), (b, around_b): (Side, &Around), input: &Input) -> Vec<BreakEven> {
    // which plan is better: -1 (a), 1 (b), 0 (a tie, or neither feasible); and by how
    // much, which steers the bisection ([`bisect_guided`])
    let sign = |x: f64| -> (i8, f64) {
        // one without the input, where there is one, is solved first: its answer stands
        let ((oa, ()), (ob, ())) = compared(
            a.has(input) && !b.has(input),
            |k| (a.objective(around_a, input, x, k), ()),
            |k| (b.objective(around_b, input, x, k), ()),
        );
        (better(oa, ob), oa - ob)
    };
    let (at_nominal, measure) = sign(input.nominal);
    let mut out = Vec::new();
    if at_nominal == 0 {
        return out;
    }
    for (below, end) in [(true, input.low), (false, input.high)] {
        if end == input.nominal {
            continue;
        }
        let (at_end, measure_end) = sign(end);
        if at_end == at_nominal {
            continue;
        }
        let value = bisect_guided(input.nominal, end, BREAK_EVEN_STEPS, (measure, measure_end), |v| {
            let (s, m) = sign(v);
            (s == at_nominal, m)
        });
        out.push(BreakEven { input: input.clone(), below, value });
    }
    out
}

/// Where two plans trade places as one figure moves over a range: a compare block's
/// `break_even` (docs/uncertainty.md, "Break-even on request").
#[derive(Clone, Debug, PartialEq)]
pub struct Crossing {
    /// the value where the better plan changes, to within 1/4096 of the step between the
    /// two tried values it lies between
    pub value: f64,
    /// which plan is better just below `value` and just above it ([`better`])
    pub below: i8,
    pub above: i8,
}

/// Which of two objective values is better (each the goal's key, less is better): -1 the
/// first, 1 the second, 0 neither (equal, or neither feasible).
pub fn better(a: f64, b: f64) -> i8 {
    match a.partial_cmp(&b) {
        Some(std::cmp::Ordering::Less) => -1,
        Some(std::cmp::Ordering::Greater) => 1,
        _ => 0,
    }
}

/// The goal's key of the best point over every batch of `batches` by enumeration
/// ([`batch::search_all`] with [`batch::by_goal`]); infinite where nothing is feasible.
/// What [`crossings`] compares with for a plan that keeps its answer: the plan's own
/// solve finds it over the spaces it built (`solve::solve_with`), the same key as over
/// spaces built afresh.
pub fn enumerated_key(batches: &mut Batches, g: Goal) -> f64 {
    key_of(batch::search_all(batches, g, &mut batch::by_goal(g)), g)
}

/// The goal's key of a search's best point; infinite where it found none or failed.
fn key_of(found: Result<batch::Found, String>, g: Goal) -> f64 {
    found.ok().and_then(|f| f.best).map_or(f64::INFINITY, |p| super::key(&p, g).0)
}

/// The goal's key of `plan`'s best point with `input` (if it has it) at `value`, over
/// its whole space by enumeration ([`best_enumerated`]'s search, no nominal placement to
/// keep), its spaces taken `from` the nominal plan's where the input allows
/// ([`reuse`]); infinite where nothing is feasible. Started from `floors` (those of
/// spaces at a value no worse) where given ([`batch::search_floored`]); with the floors
/// its spaces give for values worse than `value`: `floors` tightened by them, else
/// their own.
///
/// With `below` (the other plan's key, where only which is better is asked), the key
/// compares with it as the best's does, but need not be the best's
/// ([`batch::search_below`]: the search stops at a key less than `below` and leaves out
/// everything bounded above it).
fn objective_at(
    plan: &Plan,
    input: Option<&Input>,
    value: f64,
    from: Option<(&NominalSpaces, Reuse)>,
    floors: Option<&Floors>,
    below: Option<f64>,
) -> (f64, Option<Floors>) {
    let varied = input.map(|i| plan.with_input(i, value));
    let plan = varied.as_ref().unwrap_or(plan);
    let g = goal(plan);
    let mut batches = batches_of(plan, from);
    let found = batch::search_below(&mut batches, g, floors, below, &mut batch::by_goal(g));
    let key = key_of(found, g);
    let next = match floors {
        _ if input.is_none() => None,
        Some(f) => Some(batches.tighten(f, g)),
        None => batches.floors(g),
    };
    (key, next)
}

/// One side of [`crossings`]: a plan and its input (`None`: it keeps its answer, solved
/// once), with what it takes of its nominal spaces.
struct Crossed<'p> {
    plan: &'p Plan,
    input: Option<&'p Input>,
    from: Option<(NominalSpaces<'p>, Reuse)>,
    /// its key where it keeps its answer
    fixed: Option<f64>,
}

impl<'p> Crossed<'p> {
    /// `solved`: the plan's solve, where what it kept is taken: its [`enumerated_key`] (a
    /// plan that keeps its answer is then not solved again) and its spaces
    /// ([`NominalSpaces::after`]).
    fn new((plan, input): (&'p Plan, Option<&'p Input>), solved: Option<&super::Solved>) -> Crossed<'p> {
        let kept = solved.and_then(|s| s.kept.as_ref());
        let from = input.and_then(|i| reuse(plan, i)).map(|r| (NominalSpaces::after(plan, kept), r));
        let known = solved.and_then(|s| s.enumerated);
        let fixed = input.is_none().then(|| known.unwrap_or_else(|| enumerated_key(&mut Batches::new(plan), goal(plan))));
        Crossed { plan, input, from, fixed }
    }

    /// Its key at `value`, started from `floors`, and the floors for worse values
    /// ([`objective_at`]; with `below`, a key that compares with `below` as its best's
    /// does).
    fn at(&self, value: f64, floors: Option<&Floors>, below: Option<f64>) -> (f64, Option<Floors>) {
        match self.fixed {
            Some(k) => (k, None),
            None => objective_at(self.plan, self.input, value, self.from.as_ref().map(|(s, r)| (s, *r)), floors, below),
        }
    }
}

/// The break-evens between plans `a` and `b` (the same goal) as the figure each has
/// (`None`: the plan keeps its answer) moves over `values` (increasing): both are solved
/// at every value (in parallel, `jobs` threads), and between two neighbours where the
/// better plan changes the value is found by bisection ([`BREAK_EVEN_STEPS`]). Empty when
/// the better plan is the same at every value tried; with which is better at the first
/// value ([`better`]). The same result for any `jobs`.
///
/// Each plan is solved first at the value where the figure is best (the lowest of a
/// time, price or power, the highest of a peak, efficiency or bandwidth), and every
/// other value's search starts from the floors of its spaces ([`Floors`]); a
/// bisection starts from those of its better neighbour, tightened by each step whose
/// value the steps after it are all worse than.
pub fn crossings(
    a: (&Plan, Option<&Input>),
    b: (&Plan, Option<&Input>),
    solved: [Option<&super::Solved>; 2],
    values: &[f64],
    jobs: usize,
) -> (Vec<Crossing>, i8) {
    let mut all = crossings_all(&[Asked { a, b, solved, values }], jobs);
    all.pop().unwrap_or_default()
}

/// A value of a break-even ([`crossings_all`]): which plan is better there
/// ([`better`]), the floors each one's spaces give for worse values, and the difference
/// of their keys, which aims the bisection ([`bisect_guided`]).
type Signed = (i8, [Option<Floors>; 2], f64);

/// One break-even asked of [`crossings_all`]: the two plans with their figures, their
/// solves and the values (increasing).
pub struct Asked<'p> {
    pub a: (&'p Plan, Option<&'p Input>),
    pub b: (&'p Plan, Option<&'p Input>),
    pub solved: [Option<&'p super::Solved>; 2],
    pub values: &'p [f64],
}

/// [`crossings`] of every break-even in `asked`, in its order, each the same as alone.
/// Their steps share the `jobs` threads phase by phase: every one's best value, then
/// every other value of every one, then every bisection, so that a bisection (a chain
/// of solves one after another) runs beside the others' rather than after them.
pub fn crossings_all(asked: &[Asked], jobs: usize) -> Vec<(Vec<Crossing>, i8)> {
    let sides: Vec<(Crossed, Crossed)> = asked.iter().map(|q| (Crossed::new(q.a, q.solved[0]), Crossed::new(q.b, q.solved[1]))).collect();
    // whether a larger value is a worse figure (both plans' inputs, where both have one,
    // are the compare block's one figure)
    let worse_up = |i: usize| sides[i].0.input.or(sides[i].1.input).is_none_or(|x| more_is_worse(x.figure));
    // a plan that keeps its answer, where one does, is solved first
    let sign = |i: usize, v: f64, floors: [Option<&Floors>; 2]| {
        let (a, b) = (&sides[i].0, &sides[i].1);
        let ((ka, fa), (kb, fb)) = compared(b.fixed.is_some() && a.fixed.is_none(), |k| a.at(v, floors[0], k), |k| b.at(v, floors[1], k));
        (better(ka, kb), [fa, fb], ka - kb)
    };
    // the best value of each first, alone; then the others from its floors
    let first = |i: usize| if worse_up(i) { 0 } else { asked[i].values.len().saturating_sub(1) };
    let with_values: Vec<usize> = (0..asked.len()).filter(|&i| !asked[i].values.is_empty()).collect();
    let bests = super::sweep::par_map(&with_values, jobs, &|_, _| {}, |&i| sign(i, asked[i].values[first(i)], [None, None]));
    let others: Vec<(usize, usize)> =
        with_values.iter().flat_map(|&i| (0..asked[i].values.len()).filter(move |&k| k != first(i)).map(move |k| (i, k))).collect();
    let best_of = |i: usize| &bests[with_values.binary_search(&i).expect("a break-even with values")].1;
    let at_others = super::sweep::par_map(&others, jobs, &|_, _| {}, |&(i, k)| {
        let f = best_of(i);
        sign(i, asked[i].values[k], [f[0].as_ref(), f[1].as_ref()])
    });
    // per break-even, every value's sign and floors back in the values' order
    let mut at: Vec<Vec<Signed>> = asked.iter().map(|_| Vec::new()).collect();
    let mut at_others = others.iter().zip(at_others).peekable();
    for (&i, best) in with_values.iter().zip(bests) {
        let mut mine: Vec<_> = std::iter::from_fn(|| at_others.next_if(|((j, _), _)| *j == i).map(|(_, x)| x)).collect();
        mine.insert(first(i), best);
        at[i] = mine;
    }
    let signs: Vec<Vec<i8>> = at.iter().map(|v| v.iter().map(|s| s.0).collect()).collect();
    let changes: Vec<(usize, usize)> =
        signs.iter().enumerate().flat_map(|(i, s)| (1..s.len()).filter(|&k| s[k] != s[k - 1]).map(move |k| (i, k))).collect();
    let found = super::sweep::par_map(&changes, jobs, &|_, _| {}, |&(i, k)| {
        let values = asked[i].values;
        let (lo, hi, below, above) = (values[k - 1], values[k], signs[i][k - 1], signs[i][k]);
        // the neighbour where the figure is better bounds every value between
        let start = &at[i][if worse_up(i) { k - 1 } else { k }].1;
        let mut tightened: [Option<Floors>; 2] = [None, None];
        let measures = (at[i][k - 1].2, at[i][k].2);
        let value = bisect_guided(lo, hi, BREAK_EVEN_STEPS, measures, |v| {
            let floors = [0, 1].map(|x| tightened[x].as_ref().or(start[x].as_ref()));
            let (s, next, measure) = sign(i, v, floors);
            let same = s == below;
            // the steps after this one lie above it where it kept the sign below
            if same == worse_up(i) {
                for (t, n) in tightened.iter_mut().zip(next) {
                    if n.is_some() {
                        *t = n;
                    }
                }
            }
            (same, measure)
        });
        Crossing { value, below, above }
    });
    let mut found = changes.iter().zip(found).peekable();
    (0..asked.len())
        .map(|i| {
            let mine = std::iter::from_fn(|| found.next_if(|((j, _), _)| *j == i).map(|(_, c)| c)).collect();
            (mine, signs[i].first().copied().unwrap_or(0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pools of chips alike but for their names offer the same configurations: every
    /// choice on one ties exactly with its twin on the other (pools of one chip would be
    /// one kind, whose later pools the space leaves out: `space::on_first_pools`). The
    /// enumeration keeps whichever placement is the nominal one, so a tie is never
    /// reported as a change of placement.
    #[test]
    fn an_exact_tie_keeps_the_nominal_placement() {
        let text = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\
                    chip b200_twin = b200 { }\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\
                    cluster c {\n  pool a = b200 x 8 over nvlink5\n  pool b = b200_twin x 8 over nvlink5\n}\n\
                    plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place prefill on auto\n  place decode.attn on auto\n  place decode.ffn on auto\n}\n";
        let comp = crate::compile("t.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let best = best_point(plan).unwrap().unwrap();
        let nominal = assignment(&best);
        // the twin of the answer: every pool index swapped
        let swap = |i: usize| 1 - i;
        let (sig, pre, agg) = nominal.clone();
        let twin: Assignment = ((swap(sig.0), sig.1.map(swap), sig.2.map(swap), sig.3.iter().map(|&i| swap(i)).collect()), swap(pre), agg);
        assert_ne!(twin, nominal);
        for keep in [&nominal, &twin] {
            let p = best_enumerated(&mut Batches::new(plan), goal(plan), keep, None, None).unwrap();
            assert_eq!(&assignment(&p), keep);
            assert_eq!(super::super::key(&p, goal(plan)), super::super::key(&best, goal(plan)));
        }
    }

    /// One solve with every input its answer does not run on at its better end
    /// (`Around::optimistic`) says the nominal placement stays exactly where solving the
    /// plan with any one of them there alone says so for each; both outcomes are met
    /// (LP30's price down to $0.001/h moves the FFN onto the LPUs, down to $0.25/h does
    /// not).
    #[test]
    fn one_optimistic_solve_answers_for_every_unused_input_at_its_better_end() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uncertainty/afd.hplan");
        let wide = std::fs::read_to_string(&path).unwrap();
        let narrow = wide.replace("price          = 0.5 $/h in [0.001 $/h, 0.75 $/h]", "price          = 0.5 $/h in [0.25 $/h, 0.75 $/h]");
        assert_ne!(wide, narrow);
        let mut outcomes = Vec::new();
        for text in [&wide, &narrow] {
            let comp = crate::compile("afd.hplan", text, Some(&path), crate::Mode::Check);
            assert!(!comp.has_errors());
            let plan = &comp.program.plans[0];
            let best = best_point(plan).unwrap().unwrap();
            let around = Around::new(plan, &best, None);
            let inputs = plan.inputs();
            let group: Vec<&Input> = inputs.iter().filter(|i| around.unused_at_better_end(i, None)).collect();
            // LP30's price, per-layer cost and efficiencies and the C2C link's latency
            assert!(group.len() >= 3, "{:?}", group.iter().map(|i| i.name()).collect::<Vec<_>>());
            let alone: Vec<bool> = group
                .iter()
                .map(|i| {
                    let fresh = best_point(&plan.with_input(i, around.better_end(i))).unwrap();
                    around.keeps_nominal(&fresh)
                })
                .collect();
            let together = around.optimistic(&group, None);
            assert_eq!(together, alone.iter().all(|&x| x), "{alone:?}");
            for (i, &stays) in group.iter().zip(&alone) {
                assert_eq!(around.optimistic(&[i], None), stays, "{}", i.name());
            }
            outcomes.push(together);
        }
        assert_eq!(outcomes, [false, true]);
    }

    /// An SLO sweep at a worse figure than nominal, each value's search started from the
    /// nominal spaces' floors under its bound (`Around::sweep_floors`), finds at every
    /// value the point the walk from every seed finds: the same goal, tie-break, batch
    /// and placement, infeasible at the same values.
    #[test]
    fn a_sweep_from_floors_finds_what_a_sweep_from_every_seed_finds() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uncertainty/afd.hplan");
        let slo = "slo {\n    tpot <= 5 ms\n    ttft <= 3 s\n  }";
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(slo));
        let text =
            text.replace(slo, "slo {\n    ttft <= 3 s\n  }\n  sweep { tokens_per_s_per_user = 100 tok/s ..= 600 tok/s, points = 6 }");
        let comp = crate::compile("afd.hplan", &text, Some(&path), crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let over = plan.sweep.clone().expect("a sweep").over;
        let best = best_point(plan).unwrap().unwrap();
        let around = Around::new(plan, &best, None);
        assert!(around.sweep_floors(&over).is_some());
        let g = goal(plan);
        let (mut compared, mut feasible) = (0, 0);
        for input in plan.inputs() {
            let worse = if more_is_worse(input.figure) { input.high } else { input.low };
            for value in [0.5 * (input.nominal + worse), worse] {
                let varied = plan.with_input(&input, value);
                let from = super::super::sweep::enumerated(&mut Batches::new(&varied), &over, around.sweep_floors(&over));
                let every = super::super::sweep::enumerated(&mut Batches::new(&varied), &over, None);
                assert_eq!(from.len(), every.len());
                for (a, b) in from.iter().zip(&every) {
                    let of = |x: &SweepPoint| x.point.as_ref().map(|p| (super::super::key(p, g), p.instance.batch, assignment(p)));
                    assert_eq!(of(a), of(b), "{} at {value}, {} tok/s/user", input.name(), a.value);
                    feasible += usize::from(a.point.is_some());
                    compared += 1;
                }
            }
        }
        assert!(compared >= 60 && feasible >= 20, "{compared} values, {feasible} feasible");
    }

    /// A break-even's solves from floors (`crossings`) give each plan's key as solving
    /// from every seed does: at every value of a grid over each input's range from the
    /// floors of the best value's spaces, and at the next worse value from those
    /// floors tightened by the spaces of the one before.
    #[test]
    fn a_break_evens_solves_from_floors_are_those_from_every_seed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uncertainty/afd.hplan");
        let text = std::fs::read_to_string(&path).unwrap();
        let comp = crate::compile("afd.hplan", &text, Some(&path), crate::Mode::Check);
        assert!(!comp.has_errors());
        let mut compared = 0;
        for plan in &comp.program.plans {
            for input in plan.inputs() {
                let grid: Vec<f64> = (0..=4).map(|k| input.low + (input.high - input.low) * k as f64 / 4.0).collect();
                // from the best figure to the worst
                let order: Vec<f64> = if more_is_worse(input.figure) { grid } else { grid.into_iter().rev().collect() };
                let (first, floors) = objective_at(plan, Some(&input), order[0], None, None, None);
                assert_eq!(first, objective_at(plan, Some(&input), order[0], None, None, None).0);
                let floors = floors.expect("a goal per token has floors");
                let mut tightened: Option<Floors> = None;
                for &v in &order[1..] {
                    let want = objective_at(plan, Some(&input), v, None, None, None).0;
                    assert_eq!(objective_at(plan, Some(&input), v, None, Some(&floors), None).0, want, "{} at {v}", input.name());
                    let from = tightened.as_ref().unwrap_or(&floors);
                    let (got, next) = objective_at(plan, Some(&input), v, None, Some(from), None);
                    assert_eq!(got, want, "{} at {v}, tightened", input.name());
                    tightened = next;
                    compared += 2;
                }
            }
        }
        assert!(compared >= 24, "{compared} solves compared");
    }

    /// Across decades the bisection runs in log space: a crossing at 0.002 between 0.001
    /// and 1, either way, is found to 0.5% in 12 steps (linear steps would leave 12%);
    /// from or to zero it stays linear (no logarithm of 0), within 8/4096 of the crossing.
    #[test]
    fn bisection_is_in_log_space_across_decades_and_linear_from_zero() {
        let x = bisect(0.001, 1.0, 12, |v| v < 0.002);
        assert!(x >= 0.002 && x / 0.002 - 1.0 < 0.005, "{x}");
        let x = bisect(1.0, 0.001, 12, |v| v > 0.002);
        assert!(x <= 0.002 && 1.0 - x / 0.002 < 0.005, "{x}");
        for (from, to) in [(0.0, 8.0), (8.0, 0.0)] {
            let x = bisect(from, to, 12, |v| if from < to { v < 3.0 } else { v > 3.0 });
            assert!((x - 3.0).abs() <= 8.0 / 4096.0 + 1e-12, "{from}..{to}: {x}");
        }
    }

    /// The bisection as written before it was guided: the reference for
    /// [`bisect_guided`]'s answers.
    fn halving_bisect(from: f64, to: f64, steps: usize, mut as_at_from: impl FnMut(f64) -> bool) -> f64 {
        let log = from > 0.0 && to > 0.0 && (to / from).max(from / to) > 10.0;
        let (mut same, mut other) = if log { (from.ln(), to.ln()) } else { (from, to) };
        for _ in 0..steps {
            let mid = 0.5 * (same + other);
            if as_at_from(if log { mid.exp() } else { mid }) {
                same = mid;
            } else {
                other = mid;
            }
        }
        if log {
            other.exp()
        } else {
            other
        }
    }

    /// At 2,520 changes at random places, up and down, in log and linear space, with
    /// measures that are linear, linear on one side and missing on the other (a search
    /// that only compared with a key and found nothing), linear with noise, curved,
    /// misleading, or missing altogether: the guided bisection answers as the halving one does, bit for
    /// bit, tries only points the halving one can try, never more than
    /// `steps + AIM_SLACK`, and where the measure is linear, at most 3.
    #[test]
    fn a_guided_bisection_answers_as_halving_does_in_fewer_steps() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let ranges = [(0.001, 1.0), (1.0, 0.001), (0.0, 8.0), (8.0, 0.0), (1e-6, 4e-5), (2.0, 0.05), (5.0, 75.0)];
        let (mut linear_steps, mut linear_cases) = (0, 0);
        for &(from, to) in &ranges {
            for steps in [8, 12] {
                let points = Halvings::new(from, to, steps);
                let tried_points: std::collections::HashSet<u64> = (0..=points.n).map(|j| points.at(j).to_bits()).collect();
                for case in 0..180 {
                    let change = from + (to - from) * (0.002 + 0.996 * uniform());
                    // where `as_at_from` holds: on from's side of the change
                    let holds = move |v: f64| if from < to { v < change } else { v > change };
                    let slope = 0.5 + uniform();
                    let noise = 0.3 * uniform();
                    let kind = case % 6;
                    let mut wobble = uniform;
                    let mut measure = move |v: f64| {
                        let d = (change - v) * slope;
                        match kind {
                            0 => d,
                            1 if holds(v) => d,
                            1 => f64::NEG_INFINITY,
                            2 => d * (1.0 + noise * (wobble() - 0.5)),
                            3 => d * (1.0 + d.abs()),
                            // misleading: every line through it aims next to the side
                            // the change is not on
                            4 if holds(v) => 1e-12,
                            4 => -1e6,
                            _ => f64::NAN,
                        }
                    };
                    let ends = (measure(from), measure(to));
                    let mut tried = Vec::new();
                    let guided = bisect_guided(from, to, steps, ends, |v| {
                        tried.push(v);
                        (holds(v), measure(v))
                    });
                    let halving = halving_bisect(from, to, steps, holds);
                    assert_eq!(guided.to_bits(), halving.to_bits(), "{from}..{to} at {change}, kind {kind}: {guided} against {halving}");
                    assert!(tried.iter().all(|v| tried_points.contains(&v.to_bits())), "{from}..{to}: a point halving never tries");
                    assert!(tried.len() <= steps + AIM_SLACK, "{from}..{to} at {change}, kind {kind}: {} steps", tried.len());
                    if kind == 0 {
                        assert!(tried.len() <= 3, "{from}..{to} at {change}: {} steps with a linear measure", tried.len());
                        linear_steps += tried.len();
                        linear_cases += 1;
                    }
                }
            }
        }
        assert!(linear_cases >= 400 && linear_steps <= 3 * linear_cases);
    }

    /// A plan with more ranged figures than the bound varies the first
    /// [`MAX_INPUTS`] and counts the rest.
    #[test]
    fn inputs_beyond_the_bound_are_counted_not_varied() {
        let mut text = String::from("use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n");
        for k in 0..4 {
            text.push_str(&format!(
                "chip c{k} = b200 {{\n  price = {p} $/h ± 10%\n  power = 1000 W ± 10%\n  step_overhead = 20 us ± 10%\n  layer_overhead = 2 us ± 10%\n  sequence_overhead = 1 us ± 10%\n  compute {{\n    bf16 = 2250 TFLOP/s ± 10%\n    fp8 = 4500 TFLOP/s ± 10%\n  }}\n  efficiency {{\n    compute = 0.6 ± 10%\n    memory = 0.8 ± 10%\n    source = \"t\"\n  }}\n}}\n",
                p = 3 + k
            ));
        }
        text.push_str("workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 4\n}\ncluster c {\n");
        for k in 0..4 {
            text.push_str(&format!("  pool g{k} = c{k} x 8 over nvlink5\n"));
        }
        text.push_str("}\nplan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place prefill on g0\n  place decode.attn on g0\n  place decode.ffn on g0\n}\n");
        let comp = crate::compile("t.hplan", &text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        assert_eq!(plan.inputs().len(), 36);
        let best = best_point(plan).unwrap().unwrap();
        let s = vary(plan, &best, None, 1).unwrap();
        assert_eq!((s.varied.len(), s.not_varied), (MAX_INPUTS, 36 - MAX_INPUTS));
        // pools the plan does not place on change nothing: their ends are the nominal answer
        for v in s.varied.iter().filter(|v| v.input.item != "c0") {
            assert_eq!(v.low.as_ref().map(assignment), Some(assignment(&best)), "{}", v.input.name());
        }
    }

    /// Plans with different goals have no break-even: their values are in different
    /// units ($ per token against seconds), so where the numbers cross means nothing.
    /// Here they do cross inside the price's range (checked first), and neither order of
    /// the two plans gives a break-even.
    #[test]
    fn plans_with_different_goals_have_no_break_even() {
        let text = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\
                    chip b = b200 { price = 5 $/h in [0.001 $/h, 1000000 $/h] }\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\
                    cluster c {\n  pool g = b x 8 over nvlink5\n}\n\
                    plan cheap {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  minimize cost_per_mtok\n}\n\
                    plan fast {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  minimize tpot\n}\n";
        let comp = crate::compile("goals.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let (cheap, fast) = (&comp.program.plans[0], &comp.program.plans[1]);
        assert_ne!(goal(cheap), goal(fast));
        let (best_cheap, best_fast) = (best_point(cheap).unwrap().unwrap(), best_point(fast).unwrap().unwrap());
        let (varied_cheap, varied_fast) = (vary(cheap, &best_cheap, None, 1).unwrap(), vary(fast, &best_fast, None, 1).unwrap());
        let a = Side { plan: cheap, best: &best_cheap, varied: &varied_cheap };
        let b = Side { plan: fast, best: &best_fast, varied: &varied_fast };
        let input = cheap.inputs().remove(0);
        let (around_a, around_b) = (Around::new(cheap, &best_cheap, None), Around::new(fast, &best_fast, None));
        let lower = |x: f64| a.objective(&around_a, &input, x, None) < b.objective(&around_b, &input, x, None);
        assert_ne!(lower(input.low), lower(input.high), "the two values cross inside the range");
        assert!(break_even(&a, &b, 1).is_empty());
        assert!(break_even(&b, &a, 1).is_empty());
    }
}
