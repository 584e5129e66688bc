//! Aggregated serving: prompts prefilled in chunks inside the decode steps of the same
//! chips (in-flight batching with chunked prefill), docs/cost-model.md §10. The step
//! times come from the caller (the solver's options, validate's pinned rows); this is
//! the arithmetic both share.

/// The steps that prefill one prompt, at most `chunk` tokens each (full chunks first,
/// the remainder last). A chunk's attention work grows linearly with the prompt tokens
/// already cached, so only the first and the last full chunk and the remainder are
/// priced; the full chunks between take times linear between the first and the last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkSteps {
    /// ⌈tokens / chunk⌉
    pub steps: u64,
    /// the steps carrying the first and the last full chunk (0 when the prompt fits one)
    pub first_full: f64,
    pub last_full: f64,
    /// the step carrying the remainder
    pub tail: f64,
}

impl ChunkSteps {
    /// Step `k`'s time (0-based).
    pub fn step(&self, k: u64) -> f64 {
        if k + 1 >= self.steps {
            self.tail
        } else if self.steps > 2 {
            self.first_full + (self.last_full - self.first_full) * k as f64 / (self.steps - 2) as f64
        } else {
            self.first_full
        }
    }

    /// When step `k` (0-based) ends, from idle, in closed form: the full chunks' times
    /// are linear in their index, so their sum is an arithmetic series.
    pub fn finish(&self, k: u64) -> f64 {
        if self.steps == 0 {
            return 0.0;
        }
        let k = k.min(self.steps - 1);
        let full = self.steps - 1; // steps before the last (all full chunks)
        let sum_full = |n: u64| -> f64 {
            // Σ_{j<n} step(j) for n ≤ full
            if n == 0 {
                0.0
            } else if self.steps > 2 {
                let d = (self.last_full - self.first_full) / (self.steps - 2) as f64;
                n as f64 * self.first_full + d * (n * (n - 1)) as f64 / 2.0
            } else {
                n as f64 * self.first_full
            }
        };
        if k < full {
            sum_full(k + 1)
        } else {
            sum_full(full) + self.tail
        }
    }

    /// All the steps: the prompt's time from the step it joins to its first token, summed
    /// step by step ([`ChunkSteps::finish`] agrees to rounding).
    pub fn total(&self) -> f64 {
        (0..self.steps).map(|k| self.step(k)).sum()
    }
}

/// The steps that prefill one `tokens`-token prompt, at most `chunk` tokens per step.
/// `step(c, p)` is the time of a step that carries `c` prompt tokens after `p` of the
/// prompt's tokens are already cached: at most three calls for any prompt length.
pub fn chunk_steps<E>(tokens: u64, chunk: u64, mut step: impl FnMut(u64, u64) -> Result<f64, E>) -> Result<ChunkSteps, E> {
    let chunk = chunk.max(1);
    let n = tokens.div_ceil(chunk).max(1);
    let last = tokens - (n - 1) * chunk;
    let first_full = if n > 1 { step(chunk, 0)? } else { 0.0 };
    let last_full = if n > 2 { step(chunk, (n - 2) * chunk)? } else { first_full };
    let tail = step(last, (n - 1) * chunk)?;
    Ok(ChunkSteps { steps: n, first_full, last_full, tail })
}

/// Aggregated serving in steady state, per rank: `(T, TTFT)`, the mean step (= TPOT)
/// and the time to the first token.
///
/// - `decode`: a step of the `b` decoding sequences alone;
/// - `extra`: what one prompt's chunk steps add over as many plain decode steps (Δ);
/// - `own`: a request's time to its first token besides the wait for the running step:
///   its prompt's chunk steps, from the step it joins, and any latency of the engine's
///   outside the steps (`Engine::first_token`);
/// - `b`, `osl`: sequences per rank and output tokens per request.
///
/// Each request occupies its slot for `osl` steps plus its TTFT, so each step starts
/// `r = b / (osl + TTFT/T)` prompts and `T = decode + r·Δ`; a prompt waits half a
/// running step, then its chunk steps: `TTFT = T/2 + own`. The map is a contraction for
/// any `b` (`T` rises with `r`, `r` falls with `TTFT/T`), solved by 8 rounds of
/// fixed-point iteration (converged to < 1e-6 relative on every measured deployment).
pub fn steady_state(decode: f64, extra: f64, own: f64, b: u64, osl: u64) -> (f64, f64) {
    let (mut t, mut ttft) = (decode, own);
    for _ in 0..8 {
        let per_step = b as f64 / (osl as f64 + ttft / t);
        t = decode + per_step * extra;
        ttft = t / 2.0 + own;
    }
    (t, ttft)
}

/// The variants of one share of the batch in a round of turns with aggregated serving
/// (docs/cost-model.md §15): `n` variants of `b` sequences each, each's step without
/// prompt chunks `decode`, what one prompt's chunk steps add `extra` (Δ), a request's time
/// to its first token besides the waits `own` (as for [`steady_state`]) and the chunk
/// steps of a prompt `steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TurnShare {
    pub n: u64,
    pub b: u64,
    pub decode: f64,
    pub extra: f64,
    pub own: f64,
    pub steps: u64,
}

/// Aggregated serving of variants served in turn, in steady state: the round `R` and per
/// share its mean step `T_v`, TTFT and the prompts each of its steps starts `r_v`. A round runs every variant's step once, so each of
/// a variant's sequences holds its slot for `osl` rounds plus its TTFT, and its step
/// starts `r_v = b / (osl + TTFT_v/R)` prompts: `T_v = decode + r_v·Δ`, `R = Σ n·T_v`. A
/// prompt waits half a round for its variant's turn, then its chunk steps, one a turn,
/// with the other variants' steps between: `TTFT_v = R/2 + own + (steps − 1)·(R − T_v)`.
/// For one variant this is [`steady_state`]. Solved by fixed-point iteration, 32 rounds
/// (the round rises with the prompts each step starts, which fall as it rises).
pub fn steady_state_turns(shares: &[TurnShare], osl: u64) -> (f64, Vec<(f64, f64, f64)>) {
    let mut at: Vec<(f64, f64)> = shares.iter().map(|s| (s.decode, s.own)).collect();
    let round = |at: &[(f64, f64)]| shares.iter().zip(at).map(|(s, a)| s.n as f64 * a.0).sum::<f64>();
    for _ in 0..32 {
        let r = round(&at);
        for (s, a) in shares.iter().zip(at.iter_mut()) {
            let ttft = r / 2.0 + s.own + s.steps.saturating_sub(1) as f64 * (r - a.0).max(0.0);
            let per_step = s.b as f64 / (osl as f64 + ttft / r.max(f64::MIN_POSITIVE));
            *a = (s.decode + per_step * s.extra, ttft);
        }
    }
    let r = round(&at);
    let per_share = shares
        .iter()
        .zip(at)
        .map(|(s, (t, _))| {
            let ttft = r / 2.0 + s.own + s.steps.saturating_sub(1) as f64 * (r - t).max(0.0);
            (t, ttft, s.b as f64 / (osl as f64 + ttft / r.max(f64::MIN_POSITIVE)))
        })
        .collect();
    (r, per_share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_variants_turns_are_its_steady_state() {
        let one = TurnShare { n: 1, b: 64, decode: 20e-3, extra: 30e-3, own: 80e-3, steps: 2 };
        let (t, ttft) = steady_state(one.decode, one.extra, one.own, one.b, 500);
        let (r, at) = steady_state_turns(&[one], 500);
        assert!((r - t).abs() < 1e-9 * t && (at[0].0 - t).abs() < 1e-9 * t, "{r} {t}");
        assert!((at[0].2 - one.b as f64 / (500.0 + ttft / t)).abs() < 1e-9 * at[0].2);
        assert!((at[0].1 - ttft).abs() < 1e-9 * ttft, "{} {ttft}", at[0].1);
    }

    #[test]
    fn turns_start_the_prompts_their_sequences_finish() {
        // 4 variants, 2 of 17 sequences and 2 of 16
        let share = |b: u64, decode: f64| TurnShare { n: 2, b, decode, extra: 30e-3, own: 80e-3, steps: 3 };
        let shares = [share(17, 21e-3), share(16, 20e-3)];
        let (r, at) = steady_state_turns(&shares, 500);
        assert!((r - 2.0 * (at[0].0 + at[1].0)).abs() < 1e-15);
        for (s, &(t, ttft, per_step)) in shares.iter().zip(&at) {
            // the fixed point: each step starts as many prompts as its sequences finish
            assert!((per_step - s.b as f64 / (500.0 + ttft / r)).abs() < 1e-12 * per_step);
            assert!((t - (s.decode + per_step * s.extra)).abs() < 1e-9 * t);
            // half a round's wait, the prompt, and two gaps of the other three steps
            assert!((ttft - (r / 2.0 + s.own + 2.0 * (r - t))).abs() < 1e-12);
        }
        // the fuller variants' steps carry more prompts
        assert!(at[0].0 > at[1].0);
    }

    /// When each step ends, by summing the steps one by one.
    fn running(c: &ChunkSteps) -> Vec<f64> {
        let mut acc = 0.0;
        (0..c.steps)
            .map(|k| {
                acc += c.step(k);
                acc
            })
            .collect()
    }

    #[test]
    fn prompts_split_into_full_chunks_then_the_remainder() {
        // 20000 tokens at 8192 per step: 8192 after 0, 8192 after 8192, 3616 after 16384
        let mut asked = Vec::new();
        let c = chunk_steps::<()>(20_000, 8192, |c, p| {
            asked.push((c, p));
            Ok(c as f64 / 1000.0 + p as f64 / 1e6)
        })
        .unwrap();
        let f: Vec<f64> = (0..c.steps).map(|k| c.finish(k)).collect();
        assert_eq!(asked, vec![(8192, 0), (8192, 8192), (3616, 16384)]);
        assert_eq!(f.len(), 3);
        let steps = [8.192, 8.192 + 0.008192, 3.616 + 0.016384];
        let mut acc = 0.0;
        for (k, s) in steps.iter().enumerate() {
            acc += s;
            assert!((f[k] - acc).abs() < 1e-12, "{k}: {} vs {acc}", f[k]);
        }
        // the closed form agrees with the running sum at every step, here and on 10 chunks
        for (k, x) in running(&c).iter().enumerate() {
            assert!((c.finish(k as u64) - x).abs() < 1e-12);
        }
        let c = chunk_steps::<()>(10 * 8192 - 5, 8192, |c, p| Ok(1e-3 * c as f64 + 3e-7 * p as f64)).unwrap();
        for (k, x) in running(&c).iter().enumerate() {
            assert!((c.finish(k as u64) - x).abs() < 1e-12 * x, "{k}");
        }
        assert!((c.total() - c.finish(c.steps - 1)).abs() < 1e-12 * c.total());
        // a prompt within one chunk takes one step, from an empty cache
        let one = chunk_steps::<()>(1000, 8192, |c, p| Ok(c as f64 + p as f64)).unwrap();
        assert_eq!((one.steps, one.finish(0)), (1, 1000.0));
    }

    #[test]
    fn middle_chunks_are_interpolated_exactly_when_the_cost_is_linear_in_the_prefix() {
        // 10 chunks: priced at prefixes 0 and 8·C (full) and 9·C (the tail); a step time
        // linear in the prefix gives every middle chunk exactly
        let cost = |c: u64, p: u64| 1e-3 * c as f64 + 2e-7 * p as f64 * c as f64 / 8192.0;
        let mut calls = 0;
        let c = chunk_steps::<()>(10 * 8192, 8192, |c, p| {
            calls += 1;
            Ok(cost(c, p))
        })
        .unwrap();
        assert_eq!(calls, 3);
        let exact: f64 = (0..10).map(|k| cost(8192, k * 8192)).sum();
        assert!((c.finish(9) - exact).abs() < 1e-12 * exact, "{} vs {exact}", c.finish(9));
    }

    #[test]
    fn steady_state_is_the_fixed_point() {
        let (d, extra, own, b, osl) = (0.020, 0.030, 0.050, 64u64, 500u64);
        let (t, ttft) = steady_state(d, extra, own, b, osl);
        // T = d + b/(osl + TTFT/T)·Δ and TTFT = T/2 + own, by hand
        let r = b as f64 / (osl as f64 + ttft / t);
        assert!((t - (d + r * extra)).abs() < 1e-9 * t);
        assert!((ttft - (t / 2.0 + own)).abs() < 1e-12);
        // 64 sequences of 500 tokens: ~0.128 prompts per step, each adding 30 ms
        assert!(t > 0.0238 && t < 0.0240, "{t}");
        // nothing to prefill: the decode step itself
        assert_eq!(steady_state(d, 0.0, 0.0, b, osl).0, d);
    }
}
