//! The dataflow graph of one prefill or one decode step (petgraph).
//!
//! Nodes are operators of the model with their FLOPs and bytes for a given batch
//! and context; edges carry the activation bytes that flow between them. The cost
//! model sums node times per placement stage. Equations: docs/cost-model.md §2.

use super::{LayerKind, Model, Precision, Stage};
use petgraph::graph::{DiGraph, NodeIndex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Embed,
    QkvProj,
    Attention,
    OutProj,
    Ffn,
    Router,
    Dispatch,
    Experts,
    SharedExperts,
    Combine,
    LmHead,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Embed => "embed",
            Op::QkvProj => "qkv_proj",
            Op::Attention => "attention",
            Op::OutProj => "out_proj",
            Op::Ffn => "ffn",
            Op::Router => "router",
            Op::Dispatch => "dispatch",
            Op::Experts => "experts",
            Op::SharedExperts => "shared_experts",
            Op::Combine => "combine",
            Op::LmHead => "lm_head",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    /// the layers the node stands for (`None` for embed and LM head): every layer of one
    /// kind does the same work, so the graph has one node per operator and layer kind
    pub layers: Option<Layers>,
    pub stage: Stage,
    pub flops: f64,
    /// the precision the FLOPs run at
    pub precision: Precision,
    /// weight bytes read
    pub weight_bytes: f64,
    /// KV-cache bytes read
    pub kv_read_bytes: f64,
    /// KV-cache bytes written
    pub kv_write_bytes: f64,
    /// activation bytes read and written
    pub act_bytes: f64,
    /// the kernels the node runs, for chips with measured op tables
    pub kernel: Kernel,
}

/// Which dimension of a GEMM tensor parallelism divides: the output features
/// (column-parallel: QKV, gate/up, LM head), the input features (row-parallel: output
/// projection, down projection) or neither (the router).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    N,
    K,
    None,
}

/// One GEMM of `m` tokens by an `n × k` weight (n output, k input features), before
/// tensor parallelism.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    pub m: f64,
    pub n: f64,
    pub k: f64,
    pub split: Split,
}

/// The attention kernel calls of one layer: decode over `batch` caches of `context`
/// tokens, and/or the prefill of one `prefill`-token prompt (GQA/MHA only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttnShape {
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub kv: Precision,
    /// (sequences, tokens in each cache)
    pub decode: Option<(f64, f64)>,
    /// prompt tokens
    pub prefill: Option<f64>,
}

/// One MoE layer's routed-expert compute (the grouped GEMMs of every expert, gate/up
/// then down) for `tokens` tokens entering the layer, each sent to `top_k` of `experts`
/// experts of `inter` intermediate features over `hidden` model features.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoeShape {
    pub tokens: f64,
    pub hidden: u64,
    pub inter: u64,
    pub top_k: u64,
    pub experts: u64,
}

/// What a node runs, in the terms measured op tables are indexed by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    /// one or two GEMMs (a SwiGLU FFN is gate/up then down)
    Gemm(Gemm, Option<Gemm>),
    Attention(AttnShape),
    Moe(MoeShape),
    /// nothing a table describes: the roofline prices it
    Other,
}

/// The layers a node stands for: all `count` layers of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layers {
    pub kind: LayerKind,
    pub count: u64,
}

impl Op {
    /// The operators whose tensors quantised checkpoints keep unquantised
    /// (`Model::unquantized`): the embedding, the LM head and the MoE router. On a chip
    /// with no compute at least that wide they run at the widest precision it has (an
    /// FP8-only chip runs its router in FP8).
    pub fn keeps_precision(self) -> bool {
        matches!(self, Op::Embed | Op::LmHead | Op::Router)
    }
}

impl Node {
    /// How many times a step runs the node: once per layer it stands for.
    pub fn count(&self) -> u64 {
        self.layers.map_or(1, |l| l.count)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// activation bytes passed along the edge each time it is taken
    pub bytes: f64,
    /// how many times a step takes it (an edge between layer kinds is taken once per
    /// pair of consecutive layers of those kinds)
    pub count: u64,
}

/// What the graph describes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// One request's prompt of `tokens` tokens after `prefix` tokens already in the
    /// cache (a cached shared prefix; 0 for a whole prompt): the tokens attend to the
    /// prefix and to themselves.
    Prefill { tokens: u64, prefix: u64 },
    /// One decode step of `batch` sequences whose KV caches hold `context` tokens on average.
    Decode { batch: u64, context: f64 },
    /// One speculative verify step: `batch` sequences each check `per_seq` tokens
    /// (the drafted ones plus one) against their KV caches, read once per sequence.
    Verify { batch: u64, per_seq: u64, context: f64 },
    /// One step of aggregated serving: a decode step of `batch` sequences that also
    /// carries `prefill` prompt tokens of one arriving request (a chunk of it, with
    /// chunked prefill), on the decode stages' chips; the chunk attends to the `prefix`
    /// tokens of the prompt that earlier chunks put in the cache, and to itself.
    Mixed { batch: u64, context: f64, prefill: u64, prefix: u64 },
}

/// The dataflow graph of one step, folded over layers: one chain of operator nodes per
/// layer kind ([`Model::layer_kinds`]), each node standing for every layer of its kind,
/// so its size does not grow with the model's depth. Edges between the chains follow
/// the layer order with a count; between layer kinds that alternate the graph has a
/// cycle (layer l of kind a feeds layer l+1 of kind b, which feeds a again).
pub struct Graph {
    pub step: Step,
    pub graph: DiGraph<Node, Edge>,
    /// the nodes grouped by the work they do (every field but `layers`), in order of
    /// first appearance, with how many times a step runs each group's work: costs that
    /// sum over nodes sum over these instead ([`Graph::classes`])
    classes: Vec<(Node, u64)>,
}

/// Expected number of distinct experts `b` tokens touch when each picks `k` of `e`
/// uniformly: `e·(1 − (1 − k/e)^b)` (docs/reference/NOTES.md §1, "MoE weight traffic per step").
pub fn expected_experts_touched(e: u64, k: u64, b: f64) -> f64 {
    if e == 0 {
        return 0.0;
    }
    let (e, k) = (e as f64, k as f64);
    e * (1.0 - (1.0 - k / e).powf(b))
}

/// Query-key pairs of causal attention over `s` tokens when each query sees at most
/// `w` keys: `s²/2` without a window, `s·w − w²/2` when `s > w`.
pub fn causal_pairs(s: f64, w: Option<f64>) -> f64 {
    match w {
        Some(w) if s > w => s * w - w * w / 2.0,
        _ => s * s / 2.0,
    }
}

/// The most nodes, and edges, of one layer kind's chain in a step's graph: QKV,
/// attention, output projection, then an FFN, or a router, dispatch, experts, shared
/// experts and combine (a debug build checks it).
const NODES_PER_KIND: usize = 8;

/// Builds the graph of one step. Per layer, with b tokens in the step (B in decode,
/// S in prefill), h hidden, n_h heads, c context, w/a/k bytes of weights/activations/KV:
/// - qkv_proj: `2·b·P_qkv` FLOPs, `P_qkv·w` bytes (all of attention but the output projection)
/// - attention, decode, GQA: `4·b·n_h·d·c'` FLOPs, KV read `B·c'·kv_layer` (c' = min(c, window)
///   on sliding layers); MLA (weight-absorbed): `2·b·n_h·(2·r_kv + d_rope)·c` FLOPs, KV read
///   `B·c·(r_kv + d_rope)·k`. A verify step has b = B·(k+1) tokens but reads each of the
///   B sequences' caches once.
/// - attention, prefill: `4·n_h·d·pairs` FLOPs (GQA; MLA `2·n_h·(d_qk + d_v)·pairs`),
///   pairs = [`causal_pairs`]; KV written `S·kv_layer`
/// - out_proj: `2·b·P_o` FLOPs, `P_o·w` bytes
/// - dense ffn: `2·b·P_ffn` FLOPs, `P_ffn·w` bytes
/// - MoE: router `2·b·h·E`; dispatch and combine move `b·k·h·a`; experts `2·b·k·P_e` FLOPs
///   reading `E_touched(b)·P_e·w` bytes; shared experts `2·b·s·P_e`, `s·P_e·w`
/// - embed: `b·h·w` bytes; lm_head: `2·b'·h·V`, `h·V·w`, b' = B (decode) or 1 (prefill)
pub fn build(model: &Model, step: Step) -> Graph {
    let (h, nh, v) = (model.hidden as f64, model.heads as f64, model.vocab as f64);
    let (w, a) = (model.weights.bytes(), model.activations.bytes());
    // the embedding, LM head and routers stay unquantised (`Model::unquantized`)
    let (unq, u) = (model.unquantized(), model.unquantized().bytes());
    // Tokens through the GEMMs, and sequences whose KV caches are read.
    let (tokens, seqs, prefill) = match step {
        Step::Prefill { tokens, .. } => (tokens as f64, 1.0, true),
        Step::Decode { batch, .. } => (batch as f64, batch as f64, false),
        Step::Verify { batch, per_seq, .. } => ((batch * per_seq) as f64, batch as f64, false),
        Step::Mixed { batch, prefill, .. } => ((batch + prefill) as f64, batch as f64, false),
    };
    // prompt tokens in the step: all of a prefill, the chunk of a mixed step
    let prompt = match step {
        Step::Prefill { tokens, .. } | Step::Mixed { prefill: tokens, .. } => tokens as f64,
        _ => 0.0,
    };
    let attn_stage = if prefill { Stage::Prefill } else { Stage::DecodeAttn };
    let ffn_stage = if prefill { Stage::Prefill } else { Stage::DecodeFfn };
    let act = tokens * h * a;
    let kv_layer = model.kv_bytes_per_token_per_layer();
    let qkv_p = model.qkv_params() as f64;
    let o_p = model.o_proj_params() as f64;
    let ffn_p = model.ffn_params_per_layer() as f64;
    let expert_p = model.expert_params() as f64;
    let router_p = model.router_params() as f64;
    let window = model.sliding.map(|s| s.window as f64);
    let kinds = model.layer_kinds();
    // room for every node and edge at once (each kind's chain, the embedding and the LM
    // head; the edges between chains): a graph is built for every space's step,
    // data-parallel group and chunk, so its vectors should not grow
    let nodes = 2 + NODES_PER_KIND * kinds.kinds.len();
    let edges = nodes + kinds.next.len();
    let mut g: DiGraph<Node, Edge> = DiGraph::with_capacity(nodes, edges);
    let add = |g: &mut DiGraph<Node, Edge>, op, layers, stage, flops, precision, weight_bytes, kv_read_bytes, kv_write_bytes, act_bytes| {
        g.add_node(Node {
            op,
            layers,
            stage,
            flops,
            precision,
            weight_bytes,
            kv_read_bytes,
            kv_write_bytes,
            act_bytes,
            kernel: Kernel::Other,
        })
    };
    let embed = add(&mut g, Op::Embed, None, attn_stage, 0.0, unq, tokens * h * u, 0.0, 0.0, act);
    // each kind's chain: (its first node, its last node)
    let mut chains: Vec<(NodeIndex, NodeIndex)> = Vec::with_capacity(kinds.kinds.len());
    for &(kind, count) in &kinds.kinds {
        let l = Some(Layers { kind, count });
        let win = if kind.sliding { window } else { None };
        let qkv_out = tokens * qkv_p / h * a; // activations leaving the projections, roughly
        let qkv = add(&mut g, Op::QkvProj, l, attn_stage, 2.0 * tokens * qkv_p, model.weights, qkv_p * w, 0.0, 0.0, act + qkv_out);
        if model.mla.is_none() {
            let n = ((model.heads + 2 * model.kv_heads) * model.head_dim) as f64;
            g[qkv].kernel = Kernel::Gemm(Gemm { m: tokens, n, k: h, split: Split::N }, None);
        }
        let (attn_flops, kv_read) = match (step, model.mla) {
            (Step::Decode { context, .. } | Step::Verify { context, .. }, None) => {
                let c = win.map(|w| context.min(w)).unwrap_or(context);
                (4.0 * tokens * nh * model.head_dim as f64 * c, seqs * c * kv_layer)
            }
            (Step::Decode { context, .. } | Step::Verify { context, .. }, Some(m)) => {
                (2.0 * tokens * nh * (2 * m.kv_lora_rank + m.qk_rope_dim) as f64 * context, seqs * context * kv_layer)
            }
            (Step::Mixed { context, prefix, .. }, None) => {
                let c = win.map(|w| context.min(w)).unwrap_or(context);
                let d = model.head_dim as f64;
                let p = prefix as f64;
                let pairs = causal_pairs(p + prompt, win) - causal_pairs(p, win);
                let prefix_read = win.map_or(p, |w| p.min(w)) * kv_layer;
                (4.0 * seqs * nh * d * c + 4.0 * nh * d * pairs, seqs * c * kv_layer + prefix_read)
            }
            (Step::Mixed { context, prefix, .. }, Some(m)) => {
                let p = prefix as f64;
                let pairs = causal_pairs(p + prompt, win) - causal_pairs(p, win);
                (
                    2.0 * seqs * nh * (2 * m.kv_lora_rank + m.qk_rope_dim) as f64 * context
                        + 2.0 * nh * (m.qk_nope_dim + m.qk_rope_dim + m.v_head_dim) as f64 * pairs,
                    seqs * context * kv_layer + p * kv_layer,
                )
            }
            (Step::Prefill { prefix, .. }, None) => {
                let p = prefix as f64;
                let pairs = causal_pairs(p + tokens, win) - causal_pairs(p, win);
                (4.0 * nh * model.head_dim as f64 * pairs, win.map_or(p, |w| p.min(w)) * kv_layer)
            }
            (Step::Prefill { prefix, .. }, Some(m)) => {
                let p = prefix as f64;
                let pairs = causal_pairs(p + tokens, win) - causal_pairs(p, win);
                (2.0 * nh * (m.qk_nope_dim + m.qk_rope_dim + m.v_head_dim) as f64 * pairs, p * kv_layer)
            }
        };
        let head_out = tokens * nh * model.mla.map(|m| m.v_head_dim).unwrap_or(model.head_dim) as f64 * a;
        let attn =
            add(&mut g, Op::Attention, l, attn_stage, attn_flops, model.activations, 0.0, kv_read, tokens * kv_layer, qkv_out + head_out);
        if model.mla.is_none() {
            let shape = |decode, prefill| {
                Kernel::Attention(AttnShape {
                    heads: model.heads,
                    kv_heads: model.kv_heads,
                    head_dim: model.head_dim,
                    kv: model.kv,
                    decode,
                    prefill,
                })
            };
            let seen = |context: f64| win.map_or(context, |w| context.min(w));
            g[attn].kernel = match step {
                // a sliding layer's prompt attends within its window: no full-attention table
                // measured that, so the roofline prices the whole node
                Step::Prefill { .. } | Step::Mixed { .. } if win.is_some() => Kernel::Other,
                // a chunk after the first also attends to the prompt's earlier chunks (a
                // prompt after its cached prefix, to the prefix): the prefill tables
                // measured prompts from an empty cache
                Step::Mixed { prefix, .. } | Step::Prefill { prefix, .. } if prefix > 0 => Kernel::Other,
                Step::Prefill { .. } => shape(None, Some(prompt)),
                Step::Decode { context, .. } => shape(Some((seqs, seen(context))), None),
                Step::Mixed { context, .. } => shape(Some((seqs, seen(context))), Some(prompt)),
                // a verify step's multi-token queries are not what a decode table measured
                Step::Verify { .. } => Kernel::Other,
            };
        }
        let out = add(&mut g, Op::OutProj, l, attn_stage, 2.0 * tokens * o_p, model.weights, o_p * w, 0.0, 0.0, head_out + act);
        if model.mla.is_none() {
            let k = (model.heads * model.head_dim) as f64;
            g[out].kernel = Kernel::Gemm(Gemm { m: tokens, n: h, k, split: Split::K }, None);
        }
        let once = |bytes| Edge { bytes, count };
        g.add_edge(qkv, attn, once(qkv_out));
        g.add_edge(attn, out, once(head_out));
        let last = match model.moe {
            Some(moe) if kind.moe => {
                let routed = tokens * moe.top_k as f64 * h * a;
                let touched = expected_experts_touched(moe.experts, moe.top_k, tokens);
                let router = add(&mut g, Op::Router, l, ffn_stage, 2.0 * tokens * router_p, unq, router_p * u, 0.0, 0.0, act);
                g[router].kernel = Kernel::Gemm(Gemm { m: tokens, n: moe.experts as f64, k: h, split: Split::None }, None);
                let dispatch = add(&mut g, Op::Dispatch, l, ffn_stage, 0.0, model.activations, 0.0, 0.0, 0.0, routed);
                let experts = add(
                    &mut g,
                    Op::Experts,
                    l,
                    ffn_stage,
                    2.0 * tokens * moe.top_k as f64 * expert_p,
                    model.weights,
                    touched * expert_p * w,
                    0.0,
                    0.0,
                    2.0 * routed,
                );
                g[experts].kernel = Kernel::Moe(MoeShape {
                    tokens,
                    hidden: model.hidden,
                    inter: moe.expert_intermediate,
                    top_k: moe.top_k,
                    experts: moe.experts,
                });
                let combine = add(&mut g, Op::Combine, l, ffn_stage, 0.0, model.activations, 0.0, 0.0, 0.0, routed + act);
                g.add_edge(out, router, once(act));
                g.add_edge(router, dispatch, once(act));
                g.add_edge(dispatch, experts, once(routed));
                g.add_edge(experts, combine, once(routed));
                if moe.shared > 0 {
                    let s = moe.shared as f64;
                    let shared = add(
                        &mut g,
                        Op::SharedExperts,
                        l,
                        ffn_stage,
                        2.0 * tokens * s * expert_p,
                        model.weights,
                        s * expert_p * w,
                        0.0,
                        0.0,
                        2.0 * act,
                    );
                    g.add_edge(out, shared, once(act));
                    g.add_edge(shared, combine, once(act));
                }
                combine
            }
            _ => {
                let ffn = add(
                    &mut g,
                    Op::Ffn,
                    l,
                    ffn_stage,
                    2.0 * tokens * ffn_p,
                    model.weights,
                    ffn_p * w,
                    0.0,
                    0.0,
                    2.0 * act + 2.0 * tokens * model.intermediate as f64 * a,
                );
                g.add_edge(out, ffn, once(act));
                let i = model.intermediate as f64;
                g[ffn].kernel = Kernel::Gemm(
                    Gemm { m: tokens, n: 2.0 * i, k: h, split: Split::N },
                    Some(Gemm { m: tokens, n: h, k: i, split: Split::K }),
                );
                ffn
            }
        };
        chains.push((qkv, last));
    }
    // logits for the last prompt token of a prefill, and for every decoding sequence
    // (plus the prompt's last token in a mixed step)
    let head_tokens = match step {
        Step::Prefill { .. } => 1.0,
        Step::Mixed { batch, .. } => batch as f64 + 1.0,
        _ => tokens,
    };
    let head = add(&mut g, Op::LmHead, None, attn_stage, 2.0 * head_tokens * h * v, unq, h * v * u, 0.0, 0.0, head_tokens * (h + v) * a);
    g[head].kernel = Kernel::Gemm(Gemm { m: head_tokens, n: v, k: h, split: Split::N }, None);
    // embed -> the first layer; each layer -> the next; the last layer -> the LM head
    match (chains.first(), kinds.last) {
        (Some(&(first, _)), Some(last)) => {
            g.add_edge(embed, first, Edge { bytes: act, count: 1 });
            for &(a, b, count) in &kinds.next {
                g.add_edge(chains[a].1, chains[b].0, Edge { bytes: act, count });
            }
            g.add_edge(chains[last].1, head, Edge { bytes: head_tokens * h * a, count: 1 });
        }
        _ => {
            g.add_edge(embed, head, Edge { bytes: head_tokens * h * a, count: 1 });
        }
    }
    debug_assert!(
        g.node_count() <= nodes && g.edge_count() <= edges,
        "{} nodes and {} edges, room for {nodes} and {edges}",
        g.node_count(),
        g.edge_count()
    );
    let classes = classes_of(g.node_weights(), g.node_count());
    Graph { step, graph: g, classes }
}

/// Whether two nodes do the same work each time they run: equal in every field but
/// the layers they stand for (both in layers, or both not). Destructured so that a new
/// field must be decided here.
fn same_work(a: &Node, b: &Node) -> bool {
    let Node { op, layers, stage, flops, precision, weight_bytes, kv_read_bytes, kv_write_bytes, act_bytes, kernel } = a;
    *op == b.op
        && layers.is_some() == b.layers.is_some()
        && *stage == b.stage
        && *flops == b.flops
        && *precision == b.precision
        && *weight_bytes == b.weight_bytes
        && *kv_read_bytes == b.kv_read_bytes
        && *kv_write_bytes == b.kv_write_bytes
        && *act_bytes == b.act_bytes
        && *kernel == b.kernel
}

/// Nodes that do the same work (equal in every field but `layers`), with how many
/// times a step runs that work; in order of first appearance. (A sliding and a full
/// layer share their projections' and FFN's groups.)
fn classes_of<'a>(nodes: impl Iterator<Item = &'a Node>, most: usize) -> Vec<(Node, u64)> {
    let mut out: Vec<(Node, u64)> = Vec::with_capacity(most);
    for n in nodes {
        match out.iter_mut().find(|(c, _)| same_work(c, n)) {
            Some((_, k)) => *k += n.count(),
            None => out.push((n.clone(), n.count())),
        }
    }
    out
}

impl Graph {
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.graph.node_weights()
    }

    /// The nodes grouped by the work they do, each group's first node and how many
    /// times a step runs that work (for sums over the step whose terms do not depend on
    /// the layer).
    pub fn classes(&self) -> &[(Node, u64)] {
        &self.classes
    }

    /// The step's FLOPs: every node's times the layers it stands for.
    pub fn total_flops(&self) -> f64 {
        self.sum(|n| n.flops)
    }

    /// `f` of every node summed over the step (each node counted once per layer it
    /// stands for).
    pub fn sum(&self, f: impl Fn(&Node) -> f64) -> f64 {
        self.nodes().map(|n| f(n) * n.count() as f64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        super::super::tests_support::llama70b()
    }

    #[test]
    fn decode_graph_shape_and_flops() {
        let m = model();
        let g = build(&m, Step::Decode { batch: 1, context: 0.0 });
        // embed + 4 nodes standing for all 80 layers + lm_head; the layers' chain, the
        // edge into it, the edge from a layer to the next (79 times) and to the LM head
        assert_eq!(g.graph.node_count(), 2 + 4);
        assert_eq!(g.graph.edge_count(), 1 + 3 + 1 + 1);
        assert!(g.nodes().all(|n| n.count() == if n.layers.is_some() { 80 } else { 1 }));
        let taken: u64 = g.graph.edge_weights().map(|e| e.count).sum();
        assert_eq!(taken, 1 + 4 * 80, "edges taken per step, as in the unfolded graph");
        // With no context, decode FLOPs are 2 per weight touched, minus the embedding gather:
        // 2 * (params - embed rows - norms) = 2 * (70,553,706,496 - 1,050,673,152 - 1,318,912)
        let expected = 2.0 * (70_553_706_496f64 - 1_050_673_152.0 - 1_318_912.0);
        assert_eq!(g.total_flops(), expected);
    }

    #[test]
    fn the_graph_does_not_grow_with_depth() {
        // Every layer of a kind does the same work: 80 or 1024 layers, the same nodes,
        // each standing for more layers; the step's sums scale with the depth.
        let shallow = model();
        let deep = Model { layers: 1024, ..model() };
        let step = Step::Decode { batch: 8, context: 2048.0 };
        let (a, b) = (build(&shallow, step), build(&deep, step));
        assert_eq!((a.graph.node_count(), a.graph.edge_count()), (b.graph.node_count(), b.graph.edge_count()));
        let per_layer = |g: &Graph| g.sum(|n| if n.layers.is_some() { n.kv_read_bytes } else { 0.0 });
        assert_eq!(per_layer(&b) / per_layer(&a), 1024.0 / 80.0);
        // A MoE model with dense layers first and half its layers sliding has four kinds
        // (dense/MoE x full/sliding) and still a fixed size.
        let mixed = |layers| {
            let mut m = crate::ir::tests_support::llama70b();
            m.layers = layers;
            m.moe =
                Some(crate::ir::Moe { experts: 8, top_k: 2, shared: 0, expert_intermediate: 1024, dense_layers: 3, router_bias: false });
            m.sliding = Some(crate::ir::Sliding { window: 128, layers: layers / 2 });
            m
        };
        let (m80, m1024) = (mixed(80), mixed(1024));
        let kinds = m1024.layer_kinds();
        assert_eq!(kinds.kinds.len(), 4);
        assert_eq!(kinds.kinds.iter().map(|(_, n)| n).sum::<u64>(), 1024);
        assert_eq!(kinds.next.iter().map(|(_, _, n)| n).sum::<u64>(), 1023);
        let (a, b) = (build(&m80, step), build(&m1024, step));
        assert_eq!(a.graph.node_count(), b.graph.node_count());
        assert_eq!(a.graph.edge_count(), b.graph.edge_count());
        // the folded sums equal the layer-by-layer ones
        for (m, g) in [(&m80, &a), (&m1024, &b)] {
            let sliding: u64 = (0..m.layers).filter(|&l| m.is_sliding(l)).count() as u64;
            let moe: u64 = (0..m.layers).filter(|&l| m.is_moe(l)).count() as u64;
            let count = |op: Op, f: &dyn Fn(LayerKind) -> bool| -> u64 {
                g.nodes().filter(|n| n.op == op && n.layers.is_some_and(|l| f(l.kind))).map(|n| n.count()).sum()
            };
            assert_eq!(count(Op::Attention, &|k| k.sliding), sliding);
            assert_eq!(count(Op::Experts, &|_| true), moe);
            assert_eq!(count(Op::Ffn, &|_| true), m.layers - moe);
        }
    }

    #[test]
    fn decode_attention_reads_the_kv_cache() {
        let m = model();
        let g = build(&m, Step::Decode { batch: 4, context: 1000.0 });
        let kv: f64 = g.sum(|n| n.kv_read_bytes);
        // 4 sequences x 1000 tokens x 327,680 B/token
        assert_eq!(kv, 4.0 * 1000.0 * 327_680.0);
        let attn_flops: f64 = g.sum(|n| if n.op == Op::Attention { n.flops } else { 0.0 });
        // 4 * b * n_h * d * c * L = 4 * 4 * 64 * 128 * 1000 * 80
        assert_eq!(attn_flops, 4.0 * 4.0 * 64.0 * 128.0 * 1000.0 * 80.0);
    }

    #[test]
    fn prefill_attention_is_quadratic() {
        let m = model();
        let a = |s: u64| -> f64 {
            build(&m, Step::Prefill { tokens: s, prefix: 0 }).sum(|n| if n.op == Op::Attention { n.flops } else { 0.0 })
        };
        assert_eq!(a(2000) / a(1000), 4.0);
        // 4 * n_h * d * (S^2 / 2) * L = 2 * 64 * 128 * 1000^2 * 80
        assert_eq!(a(1000), 2.0 * 64.0 * 128.0 * 1e6 * 80.0);
    }

    #[test]
    fn verify_reads_each_cache_once() {
        let m = model();
        let d = build(&m, Step::Decode { batch: 4, context: 1000.0 });
        let v = build(&m, Step::Verify { batch: 4, per_seq: 5, context: 1000.0 });
        let kv = |g: &Graph| -> f64 { g.sum(|n| n.kv_read_bytes) };
        let ffn = |g: &Graph| -> f64 { g.sum(|n| if n.op == Op::Ffn { n.flops } else { 0.0 }) };
        // Same KV reads (4 sequences x 1000 tokens), five times the GEMM work.
        assert_eq!(kv(&v), kv(&d));
        assert_eq!(ffn(&v), 5.0 * ffn(&d));
    }

    #[test]
    fn expected_experts_touched_by_a_batch() {
        // DeepSeek-V3: E = 256, k = 8. One token touches exactly 8 experts.
        assert!((expected_experts_touched(256, 8, 1.0) - 8.0).abs() < 1e-9);
        // Two tokens: 256 * (1 - (248/256)^2) = 256 * (1 - 0.93847656) = 15.75
        assert!((expected_experts_touched(256, 8, 2.0) - 15.75).abs() < 1e-9);
        // 64 tokens: 256 * (1 - 0.96875^64) = 256 * (1 - 0.1310840) = 222.4425
        assert!((expected_experts_touched(256, 8, 64.0) - 222.4425).abs() < 1e-4);
        // Large batches touch nearly every expert.
        assert!(expected_experts_touched(256, 8, 4096.0) > 255.99);
    }

    #[test]
    fn a_later_chunk_attends_to_the_earlier_ones() {
        // chunk of C tokens after P tokens of its prompt: C·P more query-key pairs per
        // layer (4·n_h·d FLOPs each) and P more tokens of KV read; roofline-priced
        let m = model();
        let attn = |prefix| {
            let g = build(&m, Step::Mixed { batch: 4, context: 1000.0, prefill: 512, prefix });
            let n = g.nodes().find(|n| n.op == Op::Attention).cloned().unwrap();
            n
        };
        let (first, later) = (attn(0), attn(8192));
        let per_pair = 4.0 * m.heads as f64 * m.head_dim as f64;
        assert!((later.flops - first.flops - per_pair * 512.0 * 8192.0).abs() < 1e-6 * later.flops);
        assert!((later.kv_read_bytes - first.kv_read_bytes - 8192.0 * m.kv_bytes_per_token_per_layer()).abs() < 1e-6);
        assert!(matches!(later.kernel, Kernel::Other) && matches!(first.kernel, Kernel::Attention(_)));
    }

    #[test]
    fn a_mixed_steps_attention_is_table_priced_only_where_one_table_covers_it_all() {
        // half the layers slide: their prompt part has no full-attention table, so the
        // whole node stays on the roofline; full layers carry both decode and prefill
        let m = Model { sliding: Some(super::super::Sliding { window: 128, layers: 40 }), ..model() };
        let g = build(&m, Step::Mixed { batch: 4, context: 1000.0, prefill: 512, prefix: 0 });
        let attn: Vec<&Node> = g.nodes().filter(|n| n.op == Op::Attention).collect();
        assert_eq!(attn.len(), 2, "a sliding and a full kind");
        for n in attn {
            let kind = n.layers.unwrap();
            assert_eq!(kind.count, 40);
            match n.kernel {
                Kernel::Other => assert!(kind.kind.sliding, "{kind:?}"),
                Kernel::Attention(a) => {
                    assert!(!kind.kind.sliding, "{kind:?}");
                    assert_eq!((a.decode, a.prefill), (Some((4.0, 1000.0)), Some(512.0)));
                }
                Kernel::Gemm(..) | Kernel::Moe(_) => panic!("attention is neither a GEMM nor an MoE layer"),
            }
        }
    }

    #[test]
    fn sliding_window_bounds_the_context() {
        // Causal pairs: 1000 tokens without a window: 1000^2/2 = 500,000;
        // with a 128 window: 1000*128 - 128^2/2 = 128,000 - 8,192 = 119,808.
        assert_eq!(causal_pairs(1000.0, None), 500_000.0);
        assert_eq!(causal_pairs(1000.0, Some(128.0)), 119_808.0);
        assert_eq!(causal_pairs(100.0, Some(128.0)), 5_000.0);
    }

    #[test]
    fn a_prompt_after_a_cached_prefix_computes_only_its_own_tokens() {
        let m = model();
        let flops = |g: &Graph, op: Op| g.sum(|n| if n.op == op { n.flops } else { 0.0 });
        let whole = build(&m, Step::Prefill { tokens: 8000, prefix: 0 });
        let head = build(&m, Step::Prefill { tokens: 6000, prefix: 0 });
        let rest = build(&m, Step::Prefill { tokens: 2000, prefix: 6000 });
        let alone = build(&m, Step::Prefill { tokens: 2000, prefix: 0 });
        // attention over the rest is the whole prompt's less the prefix's own
        let want = flops(&whole, Op::Attention) - flops(&head, Op::Attention);
        assert!((flops(&rest, Op::Attention) - want).abs() < 1e-9 * want);
        // the projections and FFN see only the rest's tokens
        for op in [Op::QkvProj, Op::OutProj] {
            assert_eq!(flops(&rest, op), flops(&alone, op));
        }
        // and it reads the prefix's KV cache
        let kv = |g: &Graph| g.sum(|n| n.kv_read_bytes);
        assert_eq!(kv(&alone), 0.0);
        assert_eq!(kv(&rest), 6000.0 * m.kv_bytes_per_token_per_layer() * m.layers as f64);
    }
}
