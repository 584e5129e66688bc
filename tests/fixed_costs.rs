//! Fixed costs on every step shape (issue 16, item 3), against hand arithmetic: each
//! plan pins one deployment and is built twice, with a chip's `step_overhead` (S),
//! `sequence_overhead` (Q) and `layer_overhead` (Λ) set and with all three zero; the
//! reported TPOT and TTFT must differ by exactly what docs/cost-model.md §4c says the
//! fixed costs add. Llama-3.2-1B has L = 16 layers.

const LAYERS: f64 = 16.0;

/// A chip with round figures, `gb` of memory and the given fixed costs (seconds).
fn chip(name: &str, (s, q, l): (f64, f64, f64), gb: u64) -> String {
    format!(
        "chip {name} {{\n  source = \"test\"\n  compute {{ bf16 = 1000 TFLOP/s }}\n  memory hbm {{\n    capacity  = {gb} GB\n    bandwidth = 2 TB/s\n  }}\n  \
         power = 700 W\n  price = 2 $/h\n  efficiency {{\n    compute = 0.5\n    memory  = 0.8\n    source  = \"test\"\n  }}\n  \
         step_overhead     = {} us\n  sequence_overhead = {} us\n  layer_overhead    = {} us\n}}\n",
        s * 1e6,
        q * 1e6,
        l * 1e6
    )
}

/// (TPOT, TTFT) of the file's one plan, built; its placement must have `stages`
/// (`decode.attn`, `decode.ffn`, `decode.layers`, `draft`...) among its rows.
fn metrics(text: &str, stages: &[&str]) -> (f64, f64) {
    let comp = hplanc::compile("fixed.hplan", text, None, hplanc::Mode::Build);
    let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    assert!(!comp.has_errors(), "{rendered}\n{text}");
    let r = comp.plan_report(0);
    let placed: Vec<(&str, &str)> = r.placement.iter().map(|p| (p.stage, p.pool.as_str())).collect();
    for s in stages {
        assert!(placed.iter().any(|(stage, _)| stage == s), "{s} not in {placed:?}");
    }
    let m = r.metrics.expect("the plan is solved");
    (m.tpot_s, m.ttft_s)
}

/// The plan with chips `x` (of `x_gb`) and `y` (80 GB) at the given fixed costs and at
/// none: the differences in TPOT and TTFT.
fn difference(body: &str, x: (f64, f64, f64), y: (f64, f64, f64), x_gb: u64, stages: &[&str]) -> (f64, f64) {
    let file = |x, y| {
        format!("use std::links::nvlink4\nuse std::models::{{llama3_2_1b, llama3_1_8b}}\n{}{}{body}", chip("x", x, x_gb), chip("y", y, 80))
    };
    let zero = (0.0, 0.0, 0.0);
    let (with, without) = (metrics(&file(x, y), stages), metrics(&file(zero, zero), stages));
    (with.0 - without.0, with.1 - without.1)
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1e-6), "{what}: {got} s, by hand {want} s");
}

const X: (f64, f64, f64) = (300e-6, 7e-6, 5e-6);
const Y: (f64, f64, f64) = (110e-6, 3e-6, 2e-6);

fn workload(concurrency: u64) -> String {
    format!("workload w {{\n  input = 1k tok\n  output = 256 tok\n  concurrency = {concurrency}\n}}\n")
}

/// Colocated, tensor-parallel over two chips, 8 sequences: each step pays
/// `S + 8·Q + L·Λ`; the prefill (its own chip) `S + Q + L·Λ` (one sequence).
#[test]
fn colocated_steps_and_prefill_pay_their_fixed_costs() {
    let body = format!(
        "{}cluster c {{\n  pool gpu = x x 8 over nvlink4\n}}\n\
         plan p {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  \
         place prefill on gpu {{ tp = 1, replicas = 1 }}\n  place decode.attn on gpu {{ tp = 2 }}\n  place decode.ffn on gpu\n}}\n",
        workload(8)
    );
    let (tpot, ttft) = difference(&body, X, Y, 80, &["prefill", "decode.attn"]);
    let (s, q, l) = X;
    close(tpot, s + 8.0 * q + LAYERS * l, "TPOT");
    close(ttft, s + q + LAYERS * l, "TTFT");
}

/// Attention on `x`, the FFN on `y`, one microbatch (no overlap: per layer attention,
/// FFN and two crossings in turn): the attention side's engine pays `S_x + 8·Q_x`, the
/// FFN's chips `S_y`, and each side its `Λ` on every layer.
#[test]
fn ping_pong_pays_both_pools_fixed_costs() {
    let body = format!(
        "{}cluster c {{\n  pool a = x x 2 over nvlink4\n  pool f = y x 2 over nvlink4\n  pool pre = x x 1\n  \
         link a <-> f over nvlink4\n  link pre <-> a over nvlink4\n}}\n\
         plan p {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  \
         place prefill on pre {{ tp = 1, replicas = 1 }}\n  place decode.attn on a {{ tp = 1 }}\n  \
         place decode.ffn on f {{ tp = 1, microbatches = 1 }}\n}}\n",
        workload(8)
    );
    let (tpot, _) = difference(&body, X, Y, 80, &["decode.attn", "decode.ffn"]);
    close(tpot, X.0 + 8.0 * X.1 + Y.0 + LAYERS * (X.2 + Y.2), "TPOT");
}

/// One sequence on a layer pipeline over pools `a` and `b` (one `x` each), prefill on
/// one `y`.
fn pipeline_body() -> String {
    format!(
        "{}cluster c {{\n  pool a = x x 1\n  pool b = x x 1\n  pool pre = y x 1\n  \
         link a <-> b over nvlink4\n  link pre <-> a over nvlink4\n  link pre <-> b over nvlink4\n}}\n\
         plan p {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  \
         place prefill on pre {{ tp = 1, replicas = 1 }}\n  place decode.attn on a\n  place decode.layers on any [a, b]\n}}\n",
        workload(1)
    )
}

/// A layer pipeline over two single-chip pools of `x` with 2 GB each (the model's 2.5 GB
/// of weights need both), one sequence (one microbatch, so a token takes the whole
/// cycle): every stage pays `S`, the first the sequence's `Q`, and every layer `Λ`,
/// wherever the cut falls: `2·S + Q + L·Λ`.
#[test]
fn a_layer_pipeline_pays_per_stage_and_per_layer() {
    let body = pipeline_body();
    let (tpot, _) = difference(&body, X, Y, 2, &["decode.layers"]);
    close(tpot, 2.0 * X.0 + X.1 + LAYERS * X.2, "TPOT");
}

/// Speculative decoding: Llama-3.2-1B drafts k = 4 tokens on `y` for Llama-3.1-8B (32
/// layers) on `x`, acceptance 0.6, 4 sequences. A round is k draft steps and one verify
/// step and yields `(1 − a^(k+1))/(1 − a)` tokens per sequence; each draft step pays
/// `S_y + 4·Q_y + 16·Λ_y`, the verify step `S_x + 4·Q_x + 32·Λ_x`.
#[test]
fn speculative_rounds_pay_draft_and_verify_fixed_costs() {
    let body = format!(
        "{}cluster c {{\n  pool gpu = x x 2 over nvlink4\n  pool d = y x 1\n  pool pre = x x 1\n  \
         link gpu <-> d over nvlink4\n  link pre <-> gpu over nvlink4\n}}\n\
         plan p {{\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  \
         place prefill on pre {{ tp = 1, replicas = 1 }}\n  place decode.attn on gpu {{ tp = 1 }}\n  place decode.ffn on gpu\n  \
         place draft on d {{ tp = 1 }}\n  speculate {{\n    draft = llama3_2_1b\n    lookahead = 4\n    acceptance = 0.6\n  }}\n}}\n",
        workload(4)
    );
    let (tpot, _) = difference(&body, X, Y, 80, &["draft"]);
    let (k, a) = (4.0, 0.6f64);
    let tokens = (1.0 - a.powf(k + 1.0)) / (1.0 - a);
    let draft = Y.0 + 4.0 * Y.1 + LAYERS * Y.2;
    let verify = X.0 + 4.0 * X.1 + 32.0 * X.2;
    close(tpot, (k * draft + verify) / tokens, "TPOT");
}

/// The pipeline's deployment counts every stage's chips in the power and price the
/// solver optimises and budgets (the sampled mutation run found a pipeline's power
/// summed with `*=` passing every test: the report recounts chips on its own): two
/// decode stages of `x` and one prefill chip of `y`, 700 W and $2/h each.
#[test]
fn a_layer_pipeline_counts_every_stages_power_and_price() {
    let body = pipeline_body();
    let text = format!("use std::links::nvlink4\nuse std::models::llama3_2_1b\n{}{}{body}", chip("x", X, 2), chip("y", Y, 80));
    let comp = hplanc::compile("pipeline.hplan", &text, None, hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{}", hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false));
    let r = comp.plan_report(0);
    assert!(r.placement.iter().any(|p| p.stage == "decode.layers"), "a pipeline: {:?}", r.placement);
    let m = r.metrics.unwrap();
    assert_eq!(m.chips, 3);
    close(m.power_w.unwrap(), 3.0 * 700.0, "power");
    close(m.cost_per_hour_usd.unwrap(), 3.0 * 2.0, "price per hour");
    // what the solver weighed is the same
    let best = &comp.solved[0].as_ref().unwrap().best;
    let t = best.instance.totals(best.choice).unwrap();
    close(t.watts, 3.0 * 700.0, "the solver's power");
    close(t.usd_per_s * 3600.0, 3.0 * 2.0, "the solver's price per hour");
}
