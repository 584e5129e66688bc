//! A decode step's TPOT and breakdown from its parts, one function per layout
//! (docs/cost-model.md §4-4d): the solver prices the parts (stage times, collectives,
//! crossings, fixed costs) and composes each option's step here; the schedule lays out
//! the same parts. Also what a configuration's chips cost and draw.

use super::StageTime;
use crate::ir::Pool;

/// Where the decode step's time goes (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct DecodeBreakdown {
    /// attention layers (projections + attention core)
    pub attn: f64,
    /// FFN layers
    pub ffn: f64,
    /// tensor-parallel all-reduces
    pub allreduce: f64,
    /// attention <-> FFN crossings between pools
    pub crossing: f64,
    /// embedding and LM head
    pub other: f64,
    /// time of the attention side that was memory-bound
    pub attn_memory_bound: f64,
    /// time of the FFN that was memory-bound
    pub ffn_memory_bound: f64,
    /// fixed per-step overhead of the chips taking part
    pub overhead: f64,
    /// time hidden by overlapping microbatches (the parts above sum to tpot + overlap)
    pub overlap: f64,
    /// drafting (speculative decoding), per token
    pub draft: f64,
    /// of the attention, FFN, embedding and LM-head time, what the chips' measured op
    /// tables priced (the rest is roofline)
    pub from_tables: f64,
    /// some op-table lookup left the measured range
    pub extrapolated: bool,
    /// aggregated serving: the prefill chunks of arriving requests that a step carries
    /// on average (`per_step` prompts × what a prompt's chunk steps add)
    pub prefill: f64,
}

impl DecodeBreakdown {
    /// Every time scaled by `f` (`extrapolated` kept).
    pub fn scaled(&self, f: f64) -> DecodeBreakdown {
        DecodeBreakdown {
            attn: f * self.attn,
            ffn: f * self.ffn,
            allreduce: f * self.allreduce,
            crossing: f * self.crossing,
            other: f * self.other,
            attn_memory_bound: f * self.attn_memory_bound,
            ffn_memory_bound: f * self.ffn_memory_bound,
            overhead: f * self.overhead,
            overlap: f * self.overlap,
            draft: f * self.draft,
            from_tables: f * self.from_tables,
            extrapolated: self.extrapolated,
            prefill: f * self.prefill,
        }
    }

    /// The parts of two steps taken one after the other: every time summed
    /// (`extrapolated` if either's is).
    pub fn plus(&self, o: &DecodeBreakdown) -> DecodeBreakdown {
        DecodeBreakdown {
            attn: self.attn + o.attn,
            ffn: self.ffn + o.ffn,
            allreduce: self.allreduce + o.allreduce,
            crossing: self.crossing + o.crossing,
            other: self.other + o.other,
            attn_memory_bound: self.attn_memory_bound + o.attn_memory_bound,
            ffn_memory_bound: self.ffn_memory_bound + o.ffn_memory_bound,
            overhead: self.overhead + o.overhead,
            overlap: self.overlap + o.overlap,
            draft: self.draft + o.draft,
            from_tables: self.from_tables + o.from_tables,
            extrapolated: self.extrapolated || o.extrapolated,
            prefill: self.prefill + o.prefill,
        }
    }

    /// The parts of a step's work before overlap: attention, FFN, collectives,
    /// crossings, embedding and LM head, fixed costs.
    fn work(&self) -> f64 {
        self.attn + self.ffn + self.allreduce + self.crossing + self.other + self.overhead
    }
}

/// The time overlapping microbatches hide: the parts' sum beyond the step, none when the
/// two differ only by rounding.
pub fn hidden(parts: f64, tpot: f64) -> f64 {
    if parts - tpot > 1e-9 * tpot {
        parts - tpot
    } else {
        0.0
    }
}

/// Attention and FFN on the same chips (§4, §4d), one after the other: `attn` includes
/// the embedding and LM head (`other`), `allreduce` is every layer's collectives,
/// `overhead` the step's fixed costs.
pub fn colocated(attn: StageTime, ffn: StageTime, other: f64, allreduce: f64, overhead: f64) -> (f64, DecodeBreakdown) {
    let breakdown = DecodeBreakdown {
        attn: attn.time - other,
        ffn: ffn.time,
        allreduce,
        crossing: 0.0,
        other,
        attn_memory_bound: attn.memory_bound,
        ffn_memory_bound: ffn.memory_bound,
        overhead,
        overlap: 0.0,
        draft: 0.0,
        from_tables: attn.from_tables + ffn.from_tables,
        extrapolated: attn.extrapolated || ffn.extrapolated,
        prefill: 0.0,
    };
    (attn.time + ffn.time + allreduce + overhead, breakdown)
}

/// One microbatch's parts of a ping-pong step between an attention pool and an FFN pool
/// (§4): the attention side's stage time (with its embedding and LM head, `other`) and
/// the FFN's (with its per-layer fixed costs), the all-reduces and the crossings of all
/// layers, and the step's fixed costs.
#[derive(Clone, Copy, Debug)]
pub struct PingPongParts {
    pub attn: StageTime,
    pub other: f64,
    pub ffn: StageTime,
    /// `ffn.time` with the FFN chips' per-layer fixed cost on every layer
    pub ffn_time: f64,
    /// per layer: the attention side's and the FFN's all-reduce
    pub allreduce: (f64, f64),
    /// every layer's two crossings
    pub crossings: f64,
    pub overhead: f64,
}

/// A ping-pong step of `mb` microbatches over `layers` layers, the FFN's layers over
/// `groups` groups (§4): the period [`super::pingpong_sharded`] of the per-layer times
/// `t_a`, `t_e`, `t_c`, plus every microbatch's embedding and LM head and the fixed
/// costs. Returns the per-layer times (for the schedule), TPOT and the breakdown.
pub fn pingpong(p: PingPongParts, mb: u64, layers: u64, groups: u64) -> ((f64, f64, f64), f64, DecodeBreakdown) {
    let lf = layers as f64;
    let (ar_a, ar_f) = p.allreduce;
    let t_a = (p.attn.time - p.other) / lf + ar_a;
    let t_e = p.ffn_time / lf + ar_f;
    let t_c = p.crossings / (2.0 * lf);
    let mbf = mb as f64;
    let tpot = super::pingpong_sharded(t_a, t_e, t_c, mb, layers, groups) + mbf * p.other + p.overhead;
    let breakdown = DecodeBreakdown {
        attn: mbf * (p.attn.time - p.other),
        ffn: mbf * p.ffn_time,
        allreduce: mbf * lf * (ar_a + ar_f),
        crossing: mbf * p.crossings,
        other: mbf * p.other,
        attn_memory_bound: mbf * p.attn.memory_bound,
        ffn_memory_bound: mbf * p.ffn.memory_bound,
        overhead: p.overhead,
        overlap: 0.0,
        draft: 0.0,
        from_tables: mbf * (p.attn.from_tables + p.ffn.from_tables),
        extrapolated: p.attn.extrapolated || p.ffn.extrapolated,
        prefill: 0.0,
    };
    let sum = breakdown.work();
    ((t_a, t_e, t_c), tpot, DecodeBreakdown { overlap: hidden(sum, tpot), ..breakdown })
}

/// A layer pipeline of `mb` microbatches (§4b): `once` is one microbatch's pass over
/// every stage (the crossings and the ids going back included), `bottleneck` the
/// slowest stage, `round_trip` one microbatch's time through every stage and back. The
/// step is the longer of `mb` passes of the slowest stage and one round trip.
pub fn pipeline(once: DecodeBreakdown, bottleneck: f64, round_trip: f64, mb: u64) -> (f64, DecodeBreakdown) {
    let sf = mb as f64;
    let tpot = (sf * bottleneck).max(round_trip);
    let work = DecodeBreakdown { draft: 0.0, prefill: 0.0, ..once.scaled(sf) };
    (tpot, DecodeBreakdown { overlap: hidden(work.work(), tpot), ..work })
}

/// Speculative decoding (§5): a round of `k` draft steps of `t_draft`, the target's
/// verify step (`verify`: its TPOT and breakdown) and two link crossings of `t_link`
/// yields `e` tokens on average ([`super::expected_tokens_per_step`]); every part is
/// per generated token.
pub fn speculative(k: u64, acceptance: f64, t_draft: f64, verify: (f64, &DecodeBreakdown), t_link: f64) -> (f64, DecodeBreakdown) {
    let e = super::expected_tokens_per_step(k, acceptance);
    let scale = 1.0 / e;
    let (t_verify, b) = verify;
    let breakdown = DecodeBreakdown {
        crossing: b.crossing * scale + 2.0 * t_link * scale,
        draft: k as f64 * t_draft * scale,
        prefill: 0.0,
        ..b.scaled(scale)
    };
    (super::speculative_tpot(k, acceptance, t_draft, t_verify, t_link), breakdown)
}

/// Several variants of the model served in turn on the same chips (§15): a round runs
/// every variant's step once, `at_hi` of the `k` variants a step over the larger share of
/// the batch (`hi`: its TPOT and breakdown) and the others one over the smaller (`lo`;
/// `None` where they have no sequences and so no step). Every user waits a round for a
/// token: the round is the TPOT, its breakdown the steps' sum.
pub fn turns(k: u64, at_hi: u64, hi: (f64, &DecodeBreakdown), lo: Option<(f64, &DecodeBreakdown)>) -> (f64, DecodeBreakdown) {
    let (n_hi, n_lo) = (at_hi.min(k) as f64, k.saturating_sub(at_hi) as f64);
    let (t_hi, b_hi) = hi;
    let b_hi = b_hi.scaled(n_hi);
    match lo {
        None => (n_hi * t_hi, b_hi),
        Some((t_lo, b_lo)) => (n_hi * t_hi + n_lo * t_lo, b_hi.plus(&b_lo.scaled(n_lo))),
    }
}

/// $/s and W of `chips[p]` chips of each pool `p` (0 where a chip has no price or power;
/// W as deployed where the chip declares it, [`crate::ir::Chip::deployed_power`]).
pub fn spend(pools: &[Pool], chips: &[u64]) -> (f64, f64) {
    pools.iter().zip(chips).filter(|(_, &n)| n > 0).fold((0.0, 0.0), |(usd, w), (p, &n)| {
        (usd + p.chip.price.unwrap_or(0.0) * n as f64, w + p.chip.deployed_power().unwrap_or(0.0) * n as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(time: f64, memory_bound: f64) -> StageTime {
        StageTime { time, compute_bound: time - memory_bound, memory_bound, from_tables: 0.0, fixed: 0.0, extrapolated: false }
    }

    #[test]
    fn a_round_of_turns_is_every_variants_step() {
        let hi = DecodeBreakdown { attn: 3e-3, ffn: 5e-3, overhead: 1e-3, ..Default::default() };
        let lo = DecodeBreakdown { attn: 2e-3, ffn: 5e-3, overhead: 1e-3, extrapolated: true, ..Default::default() };
        // 10 sequences over 4 variants: 2 steps of 3 sequences, 2 of 2
        let (round, b) = turns(4, 2, (9e-3, &hi), Some((8e-3, &lo)));
        assert!((round - (2.0 * 9e-3 + 2.0 * 8e-3)).abs() < 1e-15);
        assert!((b.attn - 10e-3).abs() < 1e-15 && (b.ffn - 20e-3).abs() < 1e-15 && (b.overhead - 4e-3).abs() < 1e-15);
        assert!(b.extrapolated);
        // an even split: every variant's step is the same
        let (round, b) = turns(4, 4, (9e-3, &hi), None);
        assert!((round - 36e-3).abs() < 1e-15 && (b.ffn - 20e-3).abs() < 1e-15 && !b.extrapolated);
        // fewer sequences than variants: the variants without one take no step
        let (round, _) = turns(4, 3, (9e-3, &hi), None);
        assert!((round - 27e-3).abs() < 1e-15);
        // one variant is the step itself
        assert_eq!(turns(1, 1, (9e-3, &hi), None), (9e-3, hi));
    }

    #[test]
    fn rounding_is_not_overlap() {
        let tpot = 417e-6;
        // parts that sum to the step up to rounding hide nothing
        assert_eq!(hidden(tpot + 1e-19, tpot), 0.0);
        assert_eq!(hidden(tpot - 1e-6, tpot), 0.0);
        // a microbatch overlap of a microsecond is reported as it is
        assert!((hidden(tpot + 1e-6, tpot) - 1e-6).abs() < 1e-15);
    }

    /// Scaling multiplies every time by the factor and keeps `extrapolated`.
    #[test]
    fn scaling_scales_every_time() {
        let b = DecodeBreakdown {
            attn: 1.0,
            ffn: 2.0,
            allreduce: 3.0,
            crossing: 4.0,
            other: 5.0,
            attn_memory_bound: 6.0,
            ffn_memory_bound: 7.0,
            overhead: 8.0,
            overlap: 9.0,
            draft: 10.0,
            from_tables: 11.0,
            extrapolated: true,
            prefill: 12.0,
        };
        let h = b.scaled(0.5);
        let got = [
            h.attn,
            h.ffn,
            h.allreduce,
            h.crossing,
            h.other,
            h.attn_memory_bound,
            h.ffn_memory_bound,
            h.overhead,
            h.overlap,
            h.draft,
            h.from_tables,
            h.prefill,
        ];
        assert_eq!(got, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]);
        assert!(h.extrapolated);
        // the work before overlap: attention, FFN, collectives, crossings, head, fixed costs
        assert_eq!(b.work(), 1.0 + 2.0 + 3.0 + 4.0 + 5.0 + 8.0);
    }

    /// Colocated: the parts in sequence; the breakdown's parts sum to TPOT.
    #[test]
    fn a_colocated_step_is_its_parts_in_sequence() {
        let attn = StageTime { from_tables: 7e-3, ..stage(10e-3, 8e-3) };
        let ffn = StageTime { from_tables: 4e-3, extrapolated: true, ..stage(6e-3, 5e-3) };
        let (tpot, b) = colocated(attn, ffn, 1e-3, 2e-3, 0.5e-3);
        assert!((tpot - 18.5e-3).abs() < 1e-15);
        assert!((b.from_tables - 11e-3).abs() < 1e-15 && b.extrapolated && (b.attn_memory_bound, b.ffn_memory_bound) == (8e-3, 5e-3));
        assert!((b.attn - 9e-3).abs() < 1e-15 && b.other == 1e-3 && b.ffn == 6e-3 && b.allreduce == 2e-3);
        assert!((b.attn + b.other + b.ffn + b.allreduce + b.overhead - tpot).abs() < 1e-15);
        assert_eq!(b.overlap, 0.0);
    }

    /// Ping-pong of 2 microbatches over 4 layers, attention slower than an FFN round
    /// trip: the attention pool is busy all the step (2·4·t_a), then each microbatch's
    /// head; the breakdown counts both microbatches' work, the excess is overlap.
    #[test]
    fn a_pingpong_step_is_the_attention_pools_load_when_it_is_the_slowest() {
        let parts = PingPongParts {
            attn: stage(4.4e-3, 4e-3),
            other: 0.4e-3,
            ffn: stage(2e-3, 2e-3),
            ffn_time: 2e-3,
            allreduce: (0.0, 0.0),
            crossings: 0.8e-3,
            overhead: 0.1e-3,
        };
        let ((t_a, t_e, t_c), tpot, b) = pingpong(parts, 2, 4, 1);
        assert!((t_a - 1e-3).abs() < 1e-15 && (t_e - 0.5e-3).abs() < 1e-15 && (t_c - 0.1e-3).abs() < 1e-15);
        // t_a ≥ t_e + 2·t_c: the period is m·L·t_a
        assert!((tpot - (2.0 * 4.0 * 1e-3 + 2.0 * 0.4e-3 + 0.1e-3)).abs() < 1e-15, "{tpot}");
        assert!((b.attn - 8e-3).abs() < 1e-15 && (b.ffn - 4e-3).abs() < 1e-15 && (b.crossing - 1.6e-3).abs() < 1e-15);
        let work = b.attn + b.ffn + b.crossing + b.other + b.overhead;
        assert!((work - tpot - b.overlap).abs() < 1e-15 && b.overlap > 0.0);
    }

    /// Ping-pong's every part with all-reduces, op tables and an extrapolated lookup: the
    /// per-layer times carry their all-reduce, the breakdown counts each microbatch's.
    #[test]
    fn a_pingpong_step_counts_every_microbatchs_parts() {
        let parts = PingPongParts {
            attn: StageTime { from_tables: 3e-3, extrapolated: true, ..stage(4.4e-3, 4e-3) },
            other: 0.4e-3,
            ffn: StageTime { from_tables: 1e-3, ..stage(2e-3, 1.5e-3) },
            ffn_time: 2.4e-3,
            allreduce: (0.05e-3, 0.1e-3),
            crossings: 0.8e-3,
            overhead: 0.1e-3,
        };
        let ((t_a, t_e, _), tpot, b) = pingpong(parts, 3, 4, 1);
        assert!((t_a - (1e-3 + 0.05e-3)).abs() < 1e-15 && (t_e - (0.6e-3 + 0.1e-3)).abs() < 1e-15);
        let near = |x: f64, y: f64| (x - y).abs() < 1e-15;
        assert!(near(b.allreduce, 3.0 * 4.0 * 0.15e-3) && near(b.ffn, 3.0 * 2.4e-3) && near(b.other, 3.0 * 0.4e-3));
        assert!(near(b.attn_memory_bound, 3.0 * 4e-3) && near(b.ffn_memory_bound, 3.0 * 1.5e-3));
        assert!(near(b.from_tables, 3.0 * 4e-3) && b.extrapolated && b.overhead == 0.1e-3);
        // t_a (1.05 ms) is above t_e + 2·t_c (0.9 ms): the attention pool's load bounds it
        assert!(near(tpot, 3.0 * 4.0 * 1.05e-3 + 3.0 * 0.4e-3 + 0.1e-3), "{tpot}");
        assert!(near(b.work() - b.overlap, tpot));
    }

    /// A pipeline of 3 microbatches: three passes of the slowest stage unless one round
    /// trip is longer; each microbatch's work counts.
    #[test]
    fn a_pipeline_step_is_the_slowest_stage_per_microbatch_or_one_round_trip() {
        let once = DecodeBreakdown { attn: 1e-3, ffn: 2e-3, crossing: 0.5e-3, overhead: 0.1e-3, ..Default::default() };
        let (tpot, b) = pipeline(once, 1.5e-3, 3.6e-3, 3);
        assert!((tpot - 4.5e-3).abs() < 1e-15);
        assert!((b.ffn - 6e-3).abs() < 1e-15 && (b.overlap - (10.8e-3 - 4.5e-3)).abs() < 1e-15);
        let (tpot, _) = pipeline(once, 1e-3, 3.6e-3, 3);
        assert_eq!(tpot, 3.6e-3);
        // a pass's overlap, drafting or prefill are no part of a pipeline's step
        let (_, b) = pipeline(DecodeBreakdown { overlap: 1.0, draft: 1.0, prefill: 1.0, ..once }, 1.5e-3, 3.6e-3, 3);
        assert_eq!((b.draft, b.prefill), (0.0, 0.0));
        assert!((b.overlap - (10.8e-3 - 4.5e-3)).abs() < 1e-15);
    }

    /// Speculative decoding with acceptance 0: every round yields one token, so the
    /// breakdown is the verify step's plus the draft steps and two crossings.
    #[test]
    fn a_speculative_round_is_divided_over_the_tokens_it_yields() {
        let verify = DecodeBreakdown { attn: 4e-3, ffn: 6e-3, ..Default::default() };
        let (tpot, b) = speculative(3, 0.0, 1e-3, (10e-3, &verify), 0.2e-3);
        assert!((tpot - (3.0 * 1e-3 + 10e-3 + 2.0 * 0.2e-3)).abs() < 1e-15, "{tpot}");
        assert!((b.draft - 3e-3).abs() < 1e-15 && (b.crossing - 0.4e-3).abs() < 1e-15 && b.attn == 4e-3);
        // acceptance 1: k + 1 tokens a round, every part a quarter, the verify step's
        // crossings too; a verify step carries no prefill chunks
        let verify = DecodeBreakdown { crossing: 0.8e-3, prefill: 1.0, ..verify };
        let (_, b) = speculative(3, 1.0, 1e-3, (10e-3, &verify), 0.2e-3);
        assert!((b.attn - 1e-3).abs() < 1e-15 && (b.draft - 0.75e-3).abs() < 1e-15);
        assert!((b.crossing - (0.8e-3 + 0.4e-3) / 4.0).abs() < 1e-15, "{}", b.crossing);
        assert_eq!(b.prefill, 0.0);
    }

    /// Dollars and watts: each pool's chips at its price and power as deployed
    /// (`system_power`, else `power`); a pool without chips, or a chip without a figure,
    /// adds nothing.
    #[test]
    fn a_configuration_spends_what_its_chips_do() {
        let pool = |name: &str, price: Option<f64>, power: Option<f64>, system: Option<f64>| {
            let mut chip = crate::cost::tests::h100();
            (chip.price, chip.power, chip.system_power) = (price, power, system);
            crate::ir::Pool {
                name: name.into(),
                chip,
                count: 8,
                link: None,
                scale_out: None,
                span: crate::source::Span::new(crate::source::FileId(0), 0, 0),
            }
        };
        let pools = [pool("a", Some(2.0), Some(700.0), None), pool("b", Some(3.0), Some(700.0), Some(1275.0)), pool("c", None, None, None)];
        let (usd, w) = spend(&pools, &[2, 4, 8]);
        assert!((usd - (2.0 * 2.0 + 4.0 * 3.0)).abs() < 1e-12, "{usd}");
        assert!((w - (2.0 * 700.0 + 4.0 * 1275.0)).abs() < 1e-9, "{w}");
        assert_eq!(spend(&pools, &[0, 0, 3]), (0.0, 0.0));
        assert_eq!(spend(&pools, &[1, 0, 0]), (2.0, 700.0));
    }
}
