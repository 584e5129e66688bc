//! Lookups in measured op tables ([`crate::ir::tables`]): the latency of a GEMM, an
//! attention call or an all-reduce at any shape, by interpolation between measured
//! shapes. docs/cost-model.md §9 and docs/op-tables.md give the rules:
//!
//! - between two measured values of an axis, `ln t` is linear in `ln x` (so a table
//!   that rises along an axis is interpolated monotonically), multilinear over axes;
//! - below an axis' smallest measured value, the smallest's time (a smaller shape is
//!   not assumed faster than the smallest one measured);
//! - above its largest, the largest's time scaled by `x / x_max` (work grows at least
//!   linearly past the measured range; no efficiency gain is assumed) and the lookup
//!   is marked extrapolated.

use crate::ir::graph::{AttnShape, Gemm, Kernel, MoeShape, Node, Split};
use crate::ir::tables::{AttnKey, Grid, MoeKey, OpTables};

/// A time from a table, and whether any axis was outside the measured range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookup {
    pub time: f64,
    pub extrapolated: bool,
}

impl Lookup {
    fn plus(self, o: Lookup) -> Lookup {
        Lookup { time: self.time + o.time, extrapolated: self.extrapolated || o.extrapolated }
    }
}

/// Where `x` falls on a sorted axis: the two neighbouring indices, the weight of the
/// upper one (in log space), the scale applied past the last value, and whether `x` is
/// outside the axis.
fn bracket(axis: &[f64], x: f64) -> (usize, usize, f64, f64, bool) {
    let last = axis.len() - 1;
    if x <= axis[0] {
        return (0, 0, 0.0, 1.0, x < axis[0]);
    }
    if x >= axis[last] {
        return (last, last, 0.0, x / axis[last], x > axis[last]);
    }
    // axis[0] < x < axis[last]: some i with axis[i] <= x < axis[i + 1]
    let i = axis.partition_point(|&a| a <= x) - 1;
    let t = (x.ln() - axis[i].ln()) / (axis[i + 1].ln() - axis[i].ln());
    (i, i + 1, t, 1.0, false)
}

/// The table's value at `x` (one coordinate per axis, all positive): along each axis,
/// between the two neighbouring measured values, or past the ends by the rules above;
/// inner axes first, at each of the two outer values.
pub fn interpolate(grid: &Grid, x: &[f64]) -> Lookup {
    let (axis, at): (&[f64], &dyn Fn(usize) -> Lookup) = match grid {
        Grid::Leaf { axis, values } => (axis, &|i| Lookup { time: values[i], extrapolated: false }),
        Grid::Node { axis, children } => (axis, &|i| interpolate(&children[i], &x[1..])),
    };
    let (lo, hi, t, scale, out) = bracket(axis, x[0]);
    let a = at(lo);
    let time = if t > 0.0 {
        let b = at(hi);
        let v = ((1.0 - t) * a.time.ln() + t * b.time.ln()).exp();
        return Lookup { time: v * scale, extrapolated: out || a.extrapolated || b.extrapolated };
    } else {
        a.time
    };
    Lookup { time: time * scale, extrapolated: out || a.extrapolated }
}

/// One GEMM from the table of its precision; an FP8 GEMM less the chip's
/// `fp8_gemm_surplus` (`fp8_surplus` seconds; docs/cost-model.md §9), never below 0.
fn gemm(t: &OpTables, p: crate::ir::Precision, g: &Gemm, tp: f64, fp8_surplus: f64) -> Option<Lookup> {
    let grid = t.gemm.get(&p)?;
    let (n, k) = match g.split {
        Split::N => (g.n / tp, g.k),
        Split::K => (g.n, g.k / tp),
        Split::None => (g.n, g.k),
    };
    if g.m <= 0.0 || n <= 0.0 || k <= 0.0 {
        return Some(Lookup { time: 0.0, extrapolated: false });
    }
    let mut l = interpolate(grid, &[g.m, n, k]);
    if p == crate::ir::Precision::Fp8 {
        l.time = (l.time - fp8_surplus).max(0.0);
    }
    Some(l)
}

fn attention(t: &OpTables, a: &AttnShape, tp: u64, kv_split: u64) -> Option<Lookup> {
    if a.heads % tp != 0 || a.kv_heads % kv_split != 0 {
        return None;
    }
    let key = AttnKey { kv: a.kv, heads: a.heads / tp, kv_heads: a.kv_heads / kv_split, head_dim: a.head_dim };
    let mut sum = Lookup { time: 0.0, extrapolated: false };
    if let Some((batch, context)) = a.decode {
        if batch > 0.0 {
            sum = sum.plus(interpolate(t.attn_decode.get(&key)?, &[batch, context.max(1.0)]));
        }
    }
    if let Some(tokens) = a.prefill {
        if tokens > 0.0 {
            sum = sum.plus(interpolate(t.attn_prefill.get(&key)?, &[1.0, tokens]));
        }
    }
    Some(sum)
}

/// One MoE layer's experts for `tokens` tokens over `gpus` GPUs (`gpus` of them in the
/// node's group: the table of exactly that many, else none), each holding whole experts
/// or a slice of every expert's width as `split` says.
fn moe(t: &OpTables, p: crate::ir::Precision, s: &MoeShape, gpus: u64, split: MoeSplit) -> Option<Lookup> {
    let key = MoeKey { dtype: p, hidden: s.hidden, inter: s.inter, top_k: s.top_k, experts: s.experts, gpus };
    let grid = match split {
        MoeSplit::Experts => t.moe.get(&key)?,
        MoeSplit::Width => t.moe_tp.get(&key)?,
    };
    if s.tokens <= 0.0 {
        return Some(Lookup { time: 0.0, extrapolated: false });
    }
    Some(interpolate(grid, &[s.tokens]))
}

/// How an MoE layer's experts divide over a group's chips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MoeSplit {
    /// expert parallelism: each chip holds whole experts (`⌈E/n⌉` of them)
    #[default]
    Experts,
    /// tensor parallelism inside each expert: each chip holds `1/n` of every expert's
    /// intermediate width
    Width,
}

/// The node's time from the chip's tables on one chip of a `tp`-way group whose KV
/// cache splits `kv_split` ways and whose MoE experts divide as `split` says, or `None`
/// when no table covers every kernel it runs (the roofline prices it then).
pub fn node_lookup(node: &Node, t: &OpTables, tp: u64, kv_split: u64, split: MoeSplit, fp8_surplus: f64) -> Option<Lookup> {
    let tpf = tp.max(1) as f64;
    match &node.kernel {
        Kernel::Gemm(a, b) => {
            let first = gemm(t, node.precision, a, tpf, fp8_surplus)?;
            match b {
                Some(b) => Some(first.plus(gemm(t, node.precision, b, tpf, fp8_surplus)?)),
                None => Some(first),
            }
        }
        Kernel::Attention(a) => attention(t, a, tp.max(1), kv_split.max(1)),
        Kernel::Moe(s) => moe(t, node.precision, s, tp.max(1), split),
        Kernel::Other => None,
    }
}

/// One all-reduce of `bytes` over `n` chips from the chip's table for `n`, if it has one.
pub fn allreduce_lookup(t: &OpTables, bytes: f64, n: u64) -> Option<Lookup> {
    let grid = t.allreduce.get(&n)?;
    Some(interpolate(grid, &[bytes.max(1.0)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid2() -> Grid {
        // m in {1, 4}, n in {10, 100}: t = 1, 2 / 4, 8
        let rows = [(vec![1.0, 10.0], 1.0), (vec![1.0, 100.0], 2.0), (vec![4.0, 10.0], 4.0), (vec![4.0, 100.0], 8.0)];
        Grid::from_sorted(&rows, 0)
    }

    #[test]
    fn a_ragged_table_extrapolates_each_row_on_its_own() {
        // batch 1 was measured to context 1000, batch 2 only to 100 (out of memory past it)
        let rows =
            [(vec![1.0, 10.0], 1.0), (vec![1.0, 100.0], 2.0), (vec![1.0, 1000.0], 4.0), (vec![2.0, 10.0], 2.0), (vec![2.0, 100.0], 4.0)];
        let g = Grid::from_sorted(&rows, 0);
        // batch 2 at context 1000: its row's last value scaled, 4 x 10 = 40, flagged
        let l = interpolate(&g, &[2.0, 1000.0]);
        assert!((l.time - 40.0).abs() < 1e-9);
        assert!(l.extrapolated);
        // batch 1 at 1000 is measured
        assert_eq!(interpolate(&g, &[1.0, 1000.0]), Lookup { time: 4.0, extrapolated: false });
        // between the two batches at 1000, one neighbour is extrapolated: so is the lookup
        let between = interpolate(&g, &[1.5, 1000.0]);
        assert!(between.extrapolated, "{between:?}");
        assert!(between.time > 4.0 && between.time < 40.0);
    }

    #[test]
    fn a_measured_shape_returns_its_row() {
        let g = grid2();
        for (x, want) in [([1.0, 10.0], 1.0), ([1.0, 100.0], 2.0), ([4.0, 10.0], 4.0), ([4.0, 100.0], 8.0)] {
            let l = interpolate(&g, &x);
            assert!((l.time - want).abs() < 1e-12, "{x:?}: {}", l.time);
            assert!(!l.extrapolated);
        }
    }

    #[test]
    fn between_two_shapes_is_log_linear_and_monotone() {
        let g = grid2();
        // m = 2 is halfway between 1 and 4 in log space: exp(0.5 ln 1 + 0.5 ln 4) = 2 at n = 10
        let l = interpolate(&g, &[2.0, 10.0]);
        assert!((l.time - 2.0).abs() < 1e-12);
        // monotone along m between the measured 1 and 4
        let mut last = 0.0;
        for i in 0..=30 {
            let m = 1.0 + 3.0 * i as f64 / 30.0;
            let t = interpolate(&g, &[m, 31.6]).time;
            assert!(t >= last, "m = {m}: {t} < {last}");
            last = t;
        }
        // the centre of the cell in log space: exp(mean of ln 1, ln 2, ln 4, ln 8) = 2^1.5
        let l = interpolate(&g, &[2.0, 10f64.powf(1.5)]);
        assert!((l.time - 2f64.powf(1.5)).abs() < 1e-9);
    }

    #[test]
    fn outside_the_range_is_conservative_and_flagged() {
        let g = grid2();
        // below the smallest m: the smallest's time, flagged
        let l = interpolate(&g, &[0.5, 10.0]);
        assert_eq!((l.time, l.extrapolated), (1.0, true));
        // past the largest m: scaled linearly, 16 / 4 x 4 = 16
        let l = interpolate(&g, &[16.0, 10.0]);
        assert!((l.time - 16.0).abs() < 1e-12);
        assert!(l.extrapolated);
        // past both: 8 x (8 / 4) x (1000 / 100) = 160
        let l = interpolate(&g, &[8.0, 1000.0]);
        assert!((l.time - 160.0).abs() < 1e-9);
    }

    /// The stdlib H100 SXM, with its op tables.
    fn h100() -> crate::ir::Chip {
        let src = "use std::chips::h100_sxm_measured\n";
        let comp = crate::compile("t.hplan", src, None, crate::Mode::Check);
        assert!(!comp.has_errors());
        comp.program.chips.into_iter().find(|c| c.name == "h100_sxm_measured").expect("stdlib h100_sxm_measured")
    }

    fn gemm_node(m: f64, n: f64, k: f64, p: crate::ir::Precision) -> Node {
        Node {
            op: crate::ir::graph::Op::OutProj,
            layers: Some(crate::ir::graph::Layers { kind: crate::ir::LayerKind { sliding: false, moe: false }, count: 1 }),
            stage: crate::ir::Stage::DecodeAttn,
            flops: 2.0 * m * n * k,
            precision: p,
            weight_bytes: n * k,
            kv_read_bytes: 0.0,
            kv_write_bytes: 0.0,
            act_bytes: 0.0,
            kernel: Kernel::Gemm(Gemm { m, n, k, split: Split::K }, None),
        }
    }

    /// An FP8 GEMM priced from the tables is its row less the chip's surplus, whatever
    /// its size; a BF16 GEMM is its row; no lookup goes below zero.
    #[test]
    fn an_fp8_gemm_is_its_row_less_the_chips_surplus() {
        let chip = h100();
        assert_eq!(chip.fp8_gemm_surplus, 4e-6, "h100_sxm_measured's fitted surplus");
        let t = chip.tables.as_ref().unwrap();
        let fp8 = crate::ir::Precision::Fp8;
        // `gemm,fp8,8,128,128,...,12.3093` and `gemm,fp8,64,8192,8192,...,39.3813` (µs)
        for (m, n, k, row) in [(8.0, 128.0, 128.0, 12.3093e-6), (64.0, 8192.0, 8192.0, 39.3813e-6)] {
            let node = gemm_node(m, n, k, fp8);
            assert!((node_lookup(&node, t, 1, 1, MoeSplit::Experts, 0.0).unwrap().time - row).abs() < 1e-12);
            let less = node_lookup(&node, t, 1, 1, MoeSplit::Experts, 4e-6).unwrap().time;
            assert!((less - (row - 4e-6)).abs() < 1e-12, "{less}");
            assert_eq!(crate::cost::node_time(&node, &chip, 1, 1).unwrap().table, Some(less));
        }
        // `gemm,bf16,1,128,128,...,2.78187`: BF16 keeps its row
        let bf16 = gemm_node(1.0, 128.0, 128.0, crate::ir::Precision::Bf16);
        assert!((node_lookup(&bf16, t, 1, 1, MoeSplit::Experts, 4e-6).unwrap().time - 2.78187e-6).abs() < 1e-12);
        // a surplus beyond the row leaves nothing, not less
        assert_eq!(node_lookup(&gemm_node(8.0, 128.0, 128.0, fp8), t, 1, 1, MoeSplit::Experts, 1.0).unwrap().time, 0.0);
    }

    #[test]
    fn the_stdlib_h100_prices_a_measured_gemm_at_its_row() {
        let chip = h100();
        let t = chip.tables.as_ref().expect("h100_sxm_measured carries tables");
        // stdlib/tables/h100_sxm.csv: `gemm,fp8,64,8192,8192,...,39.3813` (µs)
        let node = gemm_node(64.0, 8192.0, 8192.0, crate::ir::Precision::Fp8);
        let l = node_lookup(&node, t, 1, 1, MoeSplit::Experts, 0.0).expect("covered");
        assert!((l.time - 39.3813e-6).abs() < 1e-12, "{}", l.time);
        assert!(!l.extrapolated);
        // a row-parallel GEMM over 2 chips reads k = 8192 / 2 = 4096: the row m=64, n=8192, k=4096
        let half = node_lookup(&gemm_node(64.0, 8192.0, 16384.0, crate::ir::Precision::Fp8), t, 2, 1, MoeSplit::Experts, 0.0).unwrap();
        assert!((half.time - l.time).abs() < 1e-12);
        // and node_time uses the table (less the chip's FP8 GEMM surplus), not the roofline
        let r = crate::cost::node_time(&node, &chip, 1, 1).unwrap();
        assert_eq!(r.table, Some(l.time - chip.fp8_gemm_surplus));
        assert_eq!(r.time(), l.time - chip.fp8_gemm_surplus);
        // m = 48 lies between the measured 32 and 64: between their times, log-linearly
        let lo = node_lookup(&gemm_node(32.0, 8192.0, 8192.0, crate::ir::Precision::Fp8), t, 1, 1, MoeSplit::Experts, 0.0).unwrap().time;
        let mid = node_lookup(&gemm_node(48.0, 8192.0, 8192.0, crate::ir::Precision::Fp8), t, 1, 1, MoeSplit::Experts, 0.0).unwrap().time;
        assert!(lo <= mid && mid <= l.time, "{lo} {mid} {}", l.time);
        let w = (48f64.ln() - 32f64.ln()) / (64f64.ln() - 32f64.ln());
        assert!((mid - ((1.0 - w) * lo.ln() + w * l.time.ln()).exp()).abs() < 1e-15);
        // the measured all-reduce: `allreduce,bf16,...,8,1048576,25.9648`
        let ar = allreduce_lookup(t, 1_048_576.0, 8).unwrap();
        assert!((ar.time - 25.9648e-6).abs() < 1e-12);
    }

    /// The experts node of a Qwen3-235B-A22B (BF16 weights) decode step of `batch`
    /// sequences at 1000 tokens of context.
    fn qwen3_235b_experts() -> impl Fn(u64) -> Node {
        let src = "use std::models::qwen3_235b_a22b\n";
        let comp = crate::compile("t.hplan", src, None, crate::Mode::Check);
        let m = comp.program.models.into_iter().find(|m| m.name == "qwen3_235b_a22b").unwrap();
        move |batch| {
            let g = crate::ir::graph::build(&m, crate::ir::graph::Step::Decode { batch, context: 1000.0 });
            let n = g.nodes().find(|n| n.op == crate::ir::graph::Op::Experts).unwrap().clone();
            n
        }
    }

    #[test]
    fn the_stdlib_h100_prices_an_moe_layer_at_its_row_and_between_rows() {
        let chip = h100();
        let t = chip.tables.as_ref().unwrap();
        // Qwen3-235B-A22B (BF16 weights): the experts node of a 64-token decode step, over 4 GPUs
        let experts = qwen3_235b_experts();
        // stdlib/tables/h100_sxm.csv: `moe,bf16,64,1536,4096,,,,,,4,,128,8,390.189` (µs)
        let n64 = experts(64);
        let l = node_lookup(&n64, t, 4, 1, MoeSplit::Experts, 0.0).expect("covered");
        assert!((l.time - 390.189e-6).abs() < 1e-12, "{}", l.time);
        assert!(!l.extrapolated);
        let r = crate::cost::node_time(&n64, &chip, 4, 1).unwrap();
        assert_eq!(r.time(), l.time);
        // 56 tokens lie between the measured 48 (382.125 µs) and 64: log-linear between
        let mid = node_lookup(&experts(56), t, 4, 1, MoeSplit::Experts, 0.0).unwrap().time;
        let w = (56f64.ln() - 48f64.ln()) / (64f64.ln() - 48f64.ln());
        assert!((mid - ((1.0 - w) * 382.125e-6f64.ln() + w * 390.189e-6f64.ln()).exp()).abs() < 1e-15);
        assert!((382.125e-6..=390.189e-6).contains(&mid));
        // 3 GPUs were not measured: the roofline prices the node, and says so
        assert!(node_lookup(&n64, t, 3, 1, MoeSplit::Experts, 0.0).is_none());
        assert_eq!(crate::cost::node_time(&n64, &chip, 3, 1).unwrap().table, None);
        // past the largest measured token count (16384): scaled linearly and flagged
        let big = node_lookup(&experts(32768), t, 4, 1, MoeSplit::Experts, 0.0).unwrap();
        assert!(big.extrapolated);
    }

    /// Experts split by width (`moe_tp`) are looked up in their own table: at a measured
    /// row its time, beside the expert-parallel table's at the same shape; a group size
    /// the split was not measured at falls to the roofline, as the stage-level check
    /// `width_split_measured` says; the roofline prices both ways alike.
    #[test]
    fn experts_split_by_width_read_their_own_table() {
        let chip = h100();
        let t = chip.tables.as_ref().unwrap();
        let n64 = qwen3_235b_experts()(64);
        // stdlib/tables/h100_sxm.csv: `moe_tp,bf16,64,1536,4096,,,,,,4,,128,8,384.915` (µs)
        let width = node_lookup(&n64, t, 4, 1, MoeSplit::Width, 0.0).expect("covered");
        assert!((width.time - 384.915e-6).abs() < 1e-12, "{}", width.time);
        let whole = node_lookup(&n64, t, 4, 1, MoeSplit::Experts, 0.0).unwrap();
        assert!((whole.time - 390.189e-6).abs() < 1e-12);
        // 3 GPUs: neither table
        assert!(node_lookup(&n64, t, 3, 1, MoeSplit::Width, 0.0).is_none());
        // the stage: priced from the width table where it covers the split
        let src = "use std::models::qwen3_235b_a22b
";
        let comp = crate::compile("t.hplan", src, None, crate::Mode::Check);
        let m = comp.program.models.into_iter().find(|m| m.name == "qwen3_235b_a22b").unwrap();
        let g = crate::ir::graph::build(&m, crate::ir::graph::Step::Decode { batch: 64, context: 1000.0 });
        assert!(crate::cost::width_split_measured(&g, &chip, 4));
        assert!(!crate::cost::width_split_measured(&g, &chip, 3));
        let (w, e) = (
            crate::cost::ffn_stage_time(&g, &m, &chip, 4, MoeSplit::Width).unwrap(),
            crate::cost::ffn_stage_time(&g, &m, &chip, 4, MoeSplit::Experts).unwrap(),
        );
        assert!(((e.time - w.time) - m.moe_layers() as f64 * (390.189e-6 - 384.915e-6)).abs() < 1e-9, "{} {}", e.time, w.time);
        // without tables, the roofline prices the two ways alike
        let mut bare = chip.clone();
        bare.tables = None;
        assert!(!crate::cost::width_split_measured(&g, &bare, 4));
        let (w, e) = (
            crate::cost::ffn_stage_time(&g, &m, &bare, 4, MoeSplit::Width).unwrap(),
            crate::cost::ffn_stage_time(&g, &m, &bare, 4, MoeSplit::Experts).unwrap(),
        );
        assert_eq!(w, e);
    }

    /// An engine that reads every expert each step (`moe_dense_reads`, docs/cost-model.md
    /// §4e): a small decode batch costs at least all experts' weights streamed at the
    /// share of the bandwidth; a prompt-sized batch, whose table time is above that
    /// floor, keeps its table time.
    #[test]
    fn an_engine_that_reads_every_expert_is_floored_at_streaming_them_all() {
        let experts = qwen3_235b_experts();
        let plain = h100();
        let mut dense = plain.under(Some("vllm"));
        dense.engine.as_mut().unwrap().moe_dense_reads = Some(0.5);
        // 4 tokens route to at most 32 of 128 experts; the floor reads all 128:
        // 128 experts x 3 x 4096 x 1536 x 2 bytes (BF16) per layer, over 4 GPUs, at half of
        // 3.35 TB/s
        let n4 = experts(4);
        let every = 128.0 * 3.0 * 4096.0 * 1536.0 * 2.0;
        let floor = every / 4.0 / (3.35e12 * 0.5);
        let routed = crate::cost::node_time(&n4, &plain, 4, 1).unwrap();
        let read_all = crate::cost::node_time(&n4, &dense, 4, 1).unwrap();
        assert!(routed.time() < floor, "{} vs {floor}", routed.time());
        assert!((read_all.time() - floor).abs() < 1e-12 * floor, "{} vs {floor}", read_all.time());
        assert!((read_all.memory - floor).abs() < 1e-12 * floor);
        // an 8192-token chunk is compute-bound: its table time is above the floor
        let big = experts(8192);
        let (a, b) = (crate::cost::node_time(&big, &plain, 4, 1).unwrap(), crate::cost::node_time(&big, &dense, 4, 1).unwrap());
        assert!(a.time() > floor);
        assert_eq!(a.time(), b.time());
        // without an engine, or under one that reads only routed experts, no floor
        assert_eq!(crate::cost::node_time(&n4, &plain.under(Some("sglang")), 4, 1).unwrap().time(), routed.time());
    }

    #[test]
    fn what_no_table_covers_falls_back_to_the_roofline() {
        let chip = h100();
        let t = chip.tables.as_ref().unwrap();
        // H100 has no FP4 GEMM table: the roofline prices the node, and says so
        let node = gemm_node(64.0, 8192.0, 8192.0, crate::ir::Precision::Fp4);
        assert!(node_lookup(&node, t, 1, 1, MoeSplit::Experts, 0.0).is_none());
        let r = crate::cost::node_time(&node, &chip, 1, 1).unwrap();
        assert_eq!(r.table, None);
        assert_eq!(r.time(), r.compute.max(r.memory));
        // a node no table describes (Kernel::Other) too
        let mut other = gemm_node(64.0, 8192.0, 8192.0, crate::ir::Precision::Fp8);
        other.kernel = Kernel::Other;
        assert!(node_lookup(&other, t, 1, 1, MoeSplit::Experts, 0.0).is_none());
        // a stage of both reports the table share and the extrapolation
        let m = crate::ir::tests_support::llama70b();
        let g = crate::ir::graph::build(&m, crate::ir::graph::Step::Decode { batch: 4, context: 200_000.0 });
        let st = crate::cost::stage_time(&g, &[crate::ir::Stage::DecodeAttn], &chip, 8, 8).unwrap();
        assert!(st.from_tables > 0.5 * st.time, "{st:?}");
        // the decode attention table stops at 131,071 tokens of context: extrapolated
        assert!(st.extrapolated);
    }
}
