//! Several variants of the model served in turn on the same chips (docs/cost-model.md
//! §15): `variants = K` fine-tunes of one architecture, every one's weights resident, the
//! batch's `B` sequences spread over them as evenly as whole sequences allow. A round runs
//! each variant's decode step once, so every user waits a round for a token.

use super::*;

/// The variants' steps one option's round takes: `variants` in all, `at_hi` of them over
/// ⌈B/K⌉ sequences (`hi`, one variant's step) and the others over ⌊B/K⌋ (`lo`; `None`
/// when the split is even or those variants have no sequence and take no step).
#[derive(Clone, Debug, PartialEq)]
pub struct Turns {
    pub variants: u64,
    pub at_hi: u64,
    pub hi: DecodeOption,
    pub lo: Option<DecodeOption>,
}

/// Decode options at batch `batch` of a plan whose model has several variants: each
/// layout that exists at both per-variant batches, its TPOT the round
/// ([`cost::step::turns`]; with aggregated serving, the round in which each variant's
/// steps carry its own prompts' chunks, [`cost::aggregated::steady_state_turns`]).
/// Memory is checked at the larger share for every variant ([`cost::resident`]: each
/// variant's engine reserves a cache of its own). A layer pipeline's cut may differ with
/// the batch: the smaller share takes the fastest cut of the same stages.
pub(super) fn turn_options(plan: &Plan, batch: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    let k = plan.model.variants.max(1);
    let (lo, r) = (batch / k, batch % k);
    let (hi, at_hi) = if r > 0 { (lo + 1, r) } else { (lo, k) };
    if hi == 0 {
        return Vec::new();
    }
    let his = one_variant_options(plan, hi, Kinds::All, None, excluded, Vec::new(), None);
    // the smaller share's fastest option of each layout
    let los: Option<HashMap<LayoutKey, DecodeOption>> = (r > 0 && lo > 0).then(|| {
        let mut by_key: HashMap<LayoutKey, DecodeOption> = HashMap::new();
        for d in one_variant_options(plan, lo, Kinds::All, None, &mut Vec::new(), Vec::new(), None) {
            match by_key.entry(d.key()) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    if d.tpot < e.get().tpot {
                        e.insert(d);
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(d);
                }
            }
        }
        by_key
    });
    let osl = plan.workload.output_tokens;
    his.into_iter()
        .filter_map(|h| {
            let l = match &los {
                Some(m) => Some(m.get(&h.key())?.clone()),
                None => None,
            };
            if h.aggregated.is_some() {
                return aggregated_turns(osl, k, (at_hi, hi, h), l.map(|l| (lo, l)));
            }
            let (tpot, breakdown) = cost::step::turns(k, at_hi, (h.tpot, &h.breakdown), l.as_ref().map(|l| (l.tpot, &l.breakdown)));
            Some(DecodeOption { tpot, breakdown, turns: Some(Box::new(Turns { variants: k, at_hi, hi: h.clone(), lo: l })), ..h })
        })
        .collect()
}

/// A round of turns with aggregated serving: `at_hi` of `k` variants step over `hi`'s
/// `b` sequences, the others over `lo`'s, each step carrying its own variant's prompt
/// chunks. Each share's step and TTFT come from the round's steady state
/// ([`cost::aggregated::steady_state_turns`]); the option's TPOT is the round, its TTFT
/// the mean over every user, its prompts per step those of a round.
fn aggregated_turns(
    osl: u64,
    k: u64,
    (at_hi, b_hi, hi): (u64, u64, DecodeOption),
    lo: Option<(u64, DecodeOption)>,
) -> Option<DecodeOption> {
    let share = |n: u64, b: u64, d: &DecodeOption| {
        let a = d.aggregated.as_ref()?;
        Some(cost::aggregated::TurnShare {
            n,
            b,
            decode: a.decode_step,
            extra: a.extra,
            own: a.first_token + a.prompt,
            steps: a.steps.steps,
        })
    };
    let mut shares = vec![share(at_hi, b_hi, &hi)?];
    if let Some((b, l)) = &lo {
        shares.push(share(k - at_hi, *b, l)?);
    }
    let (_, at) = cost::aggregated::steady_state_turns(&shares, osl);
    // each share's step as the round runs it: its chunks, its TTFT, its prompts per step
    let turn = |d: &DecodeOption, (t, ttft, per_step): (f64, f64, f64)| {
        let a = d.aggregated.as_ref().map(|a| (**a).clone())?;
        Some(DecodeOption {
            tpot: t,
            breakdown: DecodeBreakdown { prefill: t - a.decode_step, ..d.breakdown },
            aggregated: Some(Box::new(Aggregated { ttft, per_step, ..a })),
            ..d.clone()
        })
    };
    let hi = turn(&hi, at[0])?;
    let lo = match lo {
        Some((_, l)) => Some(turn(&l, at[1])?),
        None => None,
    };
    let (tpot, breakdown) = cost::step::turns(k, at_hi, (hi.tpot, &hi.breakdown), lo.as_ref().map(|l| (l.tpot, &l.breakdown)));
    // the mean TTFT over every user; the prompts a round starts; the round without chunks
    let users: f64 = shares.iter().map(|s| (s.n * s.b) as f64).sum();
    let ttft = shares.iter().zip(&at).map(|(s, a)| (s.n * s.b) as f64 * a.1).sum::<f64>() / users.max(1.0);
    let per_round: f64 = shares.iter().zip(&at).map(|(s, a)| s.n as f64 * a.2).sum();
    let decode_round: f64 = shares.iter().map(|s| s.n as f64 * s.decode).sum();
    let extrapolated = std::iter::once(&hi).chain(lo.as_ref()).any(|d| d.aggregated.as_ref().is_some_and(|a| a.extrapolated));
    let a = hi.aggregated.as_ref().map(|a| (**a).clone())?;
    let aggregated = Aggregated { ttft, decode_step: decode_round, per_step: per_round, extrapolated, ..a };
    Some(DecodeOption {
        tpot,
        breakdown,
        aggregated: Some(Box::new(aggregated)),
        turns: Some(Box::new(Turns { variants: k, at_hi, hi: hi.clone(), lo })),
        ..hi
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama-3.1-8B in BF16 (16 GB) on 8 H100s over NVLink 4, served as `variants`
    /// variants, prefill on chips of its own.
    fn plan(variants: u64) -> Plan {
        plan_serving(variants, "auto")
    }

    fn plan_serving(variants: u64, serving: &str) -> Plan {
        let src = format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\
             workload w {{\n  input = 2000 tok\n  output = 500 tok\n  concurrency = 1 ..= 256\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_8b {{ variants = {variants} }}\n  cluster = c\n  workload = w\n  inventory = free\n  serving = {serving}\n}}\n"
        );
        let comp = crate::compile("turns.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    /// The decode options of `plan` at `batch` that prefill on chips of their own.
    fn disaggregated(plan: &Plan, batch: u64) -> Vec<DecodeOption> {
        decode_options(plan, batch, &mut vec![]).into_iter().filter(|d| d.aggregated.is_none()).collect()
    }

    /// Each option of `turns` beside one variant's options of the same layout at `hi` and
    /// `lo` sequences (`lo` 0: none).
    fn pairs(turns: &[DecodeOption], one: &Plan, hi: u64, lo: u64) -> Vec<(DecodeOption, DecodeOption, Option<DecodeOption>)> {
        let at = |b: u64| decode_options(one, b, &mut vec![]);
        let (his, los) = (at(hi), if lo > 0 { at(lo) } else { Vec::new() });
        let find = |v: &[DecodeOption], d: &DecodeOption| v.iter().find(|e| e.key() == d.key()).cloned();
        turns
            .iter()
            .map(|d| (d.clone(), find(&his, d).expect("the larger share's layout"), if lo > 0 { find(&los, d) } else { None }))
            .collect()
    }

    #[test]
    fn an_even_split_is_every_variants_step_with_every_variant_resident() {
        let (four, one) = (plan(4), plan(1));
        let turns = disaggregated(&four, 64);
        assert!(!turns.is_empty());
        for (d, step, _) in pairs(&turns, &one, 16, 0) {
            // four steps of 16 sequences a round
            assert!((d.tpot - 4.0 * step.tpot).abs() <= 1e-12 * d.tpot, "{:?}: {} vs 4 × {}", d.key(), d.tpot, step.tpot);
            assert!((d.breakdown.ffn - 4.0 * step.breakdown.ffn).abs() <= 1e-12 * d.breakdown.ffn);
            let t = d.turns.as_ref().expect("turns");
            assert_eq!((t.variants, t.at_hi, t.lo.is_none()), (4, 4, true));
            // four variants' weights and a 16-sequence cache for each: four times one's
            for (m4, m1) in d.memory.iter().zip(step.memory.iter()) {
                assert!((m4.used - 4.0 * m1.used).abs() <= 1e-6 * m4.used, "{:?}: {} vs 4 × {}", d.key(), m4.used, m1.used);
            }
            // the same chips, so the same spend, for a quarter of one variant's tokens/s per user
            assert_eq!((d.chips.clone(), d.usd_per_s), (step.chips.clone(), step.usd_per_s));
        }
    }

    #[test]
    fn an_uneven_split_steps_over_both_shares() {
        let (four, one) = (plan(4), plan(1));
        // 66 sequences: two variants of 17, two of 16
        let turns = disaggregated(&four, 66);
        assert!(!turns.is_empty());
        for (d, hi, lo) in pairs(&turns, &one, 17, 16) {
            let lo = lo.expect("the smaller share's layout");
            assert!((d.tpot - (2.0 * hi.tpot + 2.0 * lo.tpot)).abs() <= 1e-12 * d.tpot);
            assert_eq!(d.turns.as_ref().map(|t| t.at_hi), Some(2));
        }
        // 3 sequences over 4 variants: three steps of one, the fourth variant idle
        let turns = disaggregated(&four, 3);
        for (d, hi, _) in pairs(&turns, &one, 1, 0) {
            assert!((d.tpot - 3.0 * hi.tpot).abs() <= 1e-12 * d.tpot);
        }
    }

    #[test]
    fn aggregated_turns_carry_each_variants_own_prompts() {
        let four = plan_serving(4, "aggregated");
        // 66 sequences: two variants of 17, two of 16
        let turns = decode_options(&four, 66, &mut vec![]);
        assert!(!turns.is_empty() && turns.iter().all(|d| d.aggregated.is_some()));
        let osl = four.workload.output_tokens as f64;
        for d in &turns {
            let t = d.turns.as_ref().expect("turns");
            let lo = t.lo.as_ref().expect("an uneven split");
            let (a, a_hi, a_lo) = (d.aggregated.as_ref().unwrap(), t.hi.aggregated.as_ref().unwrap(), lo.aggregated.as_ref().unwrap());
            // the round: each share's step with its own chunks
            assert!((d.tpot - 2.0 * (t.hi.tpot + lo.tpot)).abs() <= 1e-12 * d.tpot);
            for (step, share, b) in [(&t.hi, a_hi, 17.0), (lo, a_lo, 16.0)] {
                // each step starts the prompts its sequences finish: a slot is `osl` rounds
                // and the TTFT
                let per_step = b / (osl + share.ttft / d.tpot);
                assert!((share.per_step - per_step).abs() <= 1e-12 * per_step);
                assert!((step.tpot - (share.decode_step + per_step * share.extra)).abs() <= 1e-6 * step.tpot);
                // half a round, the prompt's own chunk steps, the other steps between them
                let gaps = share.steps.steps.saturating_sub(1) as f64 * (d.tpot - step.tpot);
                assert!((share.ttft - (d.tpot / 2.0 + share.first_token + share.prompt + gaps)).abs() <= 1e-12 * share.ttft);
                assert!((step.breakdown.prefill - (step.tpot - share.decode_step)).abs() <= 1e-15);
            }
            // the option: the mean TTFT over every user, a round's prompts and plain steps
            assert!((a.ttft - (34.0 * a_hi.ttft + 32.0 * a_lo.ttft) / 66.0).abs() <= 1e-12 * a.ttft);
            assert!((a.per_step - 2.0 * (a_hi.per_step + a_lo.per_step)).abs() <= 1e-12);
            assert!((a.decode_step - 2.0 * (a_hi.decode_step + a_lo.decode_step)).abs() <= 1e-12 * a.decode_step);
        }
    }

    #[test]
    fn the_round_never_shortens_as_the_batch_grows() {
        let four = plan(4);
        let at = |b: u64| decode_options(&four, b, &mut vec![]);
        let (a, b, c) = (at(64), at(65), at(67));
        let mut compared = 0;
        for d in &a {
            let find = |v: &[DecodeOption]| v.iter().find(|e| e.key() == d.key()).map(|e| e.tpot);
            let (Some(t65), Some(t67)) = (find(&b), find(&c)) else { continue };
            assert!(d.tpot <= t65 && t65 <= t67, "{:?}: {} {} {}", d.key(), d.tpot, t65, t67);
            compared += 1;
        }
        assert!(compared > 0);
    }

    #[test]
    fn every_variants_weights_must_fit() {
        // 16.1 GB of weights each: 45 variants (723 GB) overfill 8 H100s (85.5 GB usable
        // each), 35 (562 GB) leave room for a cache
        let mut excluded = Vec::new();
        assert!(decode_options(&plan(45), 45, &mut excluded).is_empty());
        assert!(excluded.iter().any(|e| matches!(e, Excluded::Memory { .. })));
        assert!(!decode_options(&plan(35), 35, &mut vec![]).is_empty());
        // and a prefill replica holds every variant's weights too
        assert!(prefill_options(&plan(45), &mut vec![]).iter().all(|p| p.aggregated));
        assert!(prefill_options(&plan(35), &mut vec![]).iter().any(|p| !p.aggregated && p.tp == 8));
    }
}
