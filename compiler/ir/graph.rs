//! The dataflow graph of one prefill or one decode step (petgraph).
//!
//! Nodes are operators of the model with their FLOPs and bytes for a given
//! batch and context; edges carry the activation bytes that flow between
//! them. The cost model sums node times per placement stage.

use super::{Model, Precision, Stage};
use petgraph::graph::{DiGraph, NodeIndex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Embed,
    QkvProj,
    Attention,
    OutProj,
    Ffn,
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
            Op::LmHead => "lm_head",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    /// 0-based layer, `None` for embed and LM head
    pub layer: Option<u64>,
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
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// activation bytes passed along the edge
    pub bytes: f64,
}

/// What the graph describes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// One request's prompt of `tokens` tokens.
    Prefill { tokens: u64 },
    /// One decode step of `batch` sequences whose KV caches hold `context` tokens on average.
    Decode { batch: u64, context: f64 },
}

pub struct Graph {
    pub step: Step,
    pub graph: DiGraph<Node, Edge>,
}

/// Builds the graph of one step of a dense GQA transformer.
///
/// Per layer (b = tokens in the step, h hidden, n_h heads, n_kv KV heads,
/// d head_dim, I intermediate, c context, w/a/k bytes of weights/activations/KV):
/// - qkv_proj: 2·b·h·(n_h + 2·n_kv)·d FLOPs, h·(n_h + 2·n_kv)·d·w weight bytes
/// - attention, decode: 4·b·n_h·d·c FLOPs (QKᵀ and PV), reads b·c·2·n_kv·d·k, writes b·2·n_kv·d·k
/// - attention, prefill: 2·n_h·d·S² FLOPs (causal: half of 4·n_h·d·S²), writes S·2·n_kv·d·k
/// - out_proj: 2·b·n_h·d·h FLOPs, n_h·d·h·w bytes
/// - ffn (SwiGLU): 6·b·h·I FLOPs, 3·h·I·w bytes
/// - embed: b·h·w bytes (row gather); lm_head: 2·b'·h·V FLOPs, h·V·w bytes, b' = b for
///   decode and 1 for prefill (only the last position's logits are needed).
pub fn build(model: &Model, step: Step) -> Graph {
    let (h, nh, nkv, d, inter, v) = (
        model.hidden as f64,
        model.heads as f64,
        model.kv_heads as f64,
        model.head_dim as f64,
        model.intermediate as f64,
        model.vocab as f64,
    );
    let (w, a, k) = (model.weights.bytes(), model.activations.bytes(), model.kv.bytes());
    let (tokens, prefill) = match step {
        Step::Prefill { tokens } => (tokens as f64, true),
        Step::Decode { batch, .. } => (batch as f64, false),
    };
    let attn_stage = if prefill { Stage::Prefill } else { Stage::DecodeAttn };
    let ffn_stage = if prefill { Stage::Prefill } else { Stage::DecodeFfn };
    let act = tokens * h * a;
    let mut g: DiGraph<Node, Edge> = DiGraph::new();
    let node = |op, layer, stage, flops, precision, weight_bytes, kv_read_bytes, kv_write_bytes, act_bytes| Node {
        op,
        layer,
        stage,
        flops,
        precision,
        weight_bytes,
        kv_read_bytes,
        kv_write_bytes,
        act_bytes,
    };
    let embed = g.add_node(node(Op::Embed, None, attn_stage, 0.0, model.activations, tokens * h * w, 0.0, 0.0, act));
    let mut prev: NodeIndex = embed;
    let qkv_width = (nh + 2.0 * nkv) * d;
    for layer in 0..model.layers {
        let l = Some(layer);
        let qkv = g.add_node(node(
            Op::QkvProj,
            l,
            attn_stage,
            2.0 * tokens * h * qkv_width,
            model.weights,
            h * qkv_width * w,
            0.0,
            0.0,
            act + tokens * qkv_width * a,
        ));
        let (attn_flops, kv_read, kv_write) = match step {
            Step::Prefill { .. } => (2.0 * nh * d * tokens * tokens, 0.0, tokens * 2.0 * nkv * d * k),
            Step::Decode { context, .. } => {
                (4.0 * tokens * nh * d * context, tokens * context * 2.0 * nkv * d * k, tokens * 2.0 * nkv * d * k)
            }
        };
        let attn = g.add_node(node(
            Op::Attention,
            l,
            attn_stage,
            attn_flops,
            model.activations,
            0.0,
            kv_read,
            kv_write,
            2.0 * tokens * nh * d * a,
        ));
        let out = g.add_node(node(
            Op::OutProj,
            l,
            attn_stage,
            2.0 * tokens * nh * d * h,
            model.weights,
            nh * d * h * w,
            0.0,
            0.0,
            tokens * nh * d * a + act,
        ));
        let ffn = g.add_node(node(
            Op::Ffn,
            l,
            ffn_stage,
            6.0 * tokens * h * inter,
            model.weights,
            3.0 * h * inter * w,
            0.0,
            0.0,
            2.0 * act + 2.0 * tokens * inter * a,
        ));
        g.add_edge(prev, qkv, Edge { bytes: act });
        g.add_edge(qkv, attn, Edge { bytes: tokens * qkv_width * a });
        g.add_edge(attn, out, Edge { bytes: tokens * nh * d * a });
        g.add_edge(out, ffn, Edge { bytes: act });
        prev = ffn;
    }
    let head_tokens = if prefill { 1.0 } else { tokens };
    let head = g.add_node(node(
        Op::LmHead,
        None,
        attn_stage,
        2.0 * head_tokens * h * v,
        model.weights,
        h * v * w,
        0.0,
        0.0,
        head_tokens * (h + v) * a,
    ));
    g.add_edge(prev, head, Edge { bytes: head_tokens * h * a });
    Graph { step, graph: g }
}

impl Graph {
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.graph.node_weights()
    }

    pub fn total_flops(&self) -> f64 {
        self.nodes().map(|n| n.flops).sum()
    }

    /// Nodes in dataflow order (the graph is a DAG by construction).
    pub fn topo_order(&self) -> Vec<NodeIndex> {
        petgraph::algo::toposort(&self.graph, None).unwrap_or_else(|_| self.graph.node_indices().collect())
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
        // embed + 4 nodes per layer + lm_head
        assert_eq!(g.graph.node_count(), 2 + 4 * 80);
        assert_eq!(g.graph.edge_count(), 1 + 4 * 80);
        // With no context, decode FLOPs are 2 per weight touched, minus the embedding gather:
        // 2 * (params - embed rows - norms) = 2 * (70,553,706,496 - 1,050,673,152 - 1,318,912)
        let expected = 2.0 * (70_553_706_496f64 - 1_050_673_152.0 - 1_318_912.0);
        assert_eq!(g.total_flops(), expected);
        assert_eq!(g.topo_order().len(), g.graph.node_count());
    }

    #[test]
    fn decode_attention_reads_the_kv_cache() {
        let m = model();
        let g = build(&m, Step::Decode { batch: 4, context: 1000.0 });
        let kv: f64 = g.nodes().map(|n| n.kv_read_bytes).sum();
        // 4 sequences x 1000 tokens x 327,680 B/token
        assert_eq!(kv, 4.0 * 1000.0 * 327_680.0);
        let attn_flops: f64 = g.nodes().filter(|n| n.op == Op::Attention).map(|n| n.flops).sum();
        // 4 * b * n_h * d * c * L = 4 * 4 * 64 * 128 * 1000 * 80
        assert_eq!(attn_flops, 4.0 * 4.0 * 64.0 * 128.0 * 1000.0 * 80.0);
    }

    #[test]
    fn prefill_attention_is_quadratic() {
        let m = model();
        let a = |s: u64| -> f64 { build(&m, Step::Prefill { tokens: s }).nodes().filter(|n| n.op == Op::Attention).map(|n| n.flops).sum() };
        assert_eq!(a(2000) / a(1000), 4.0);
        // 2 * n_h * d * S^2 * L = 2 * 64 * 128 * 1000^2 * 80
        assert_eq!(a(1000), 2.0 * 64.0 * 128.0 * 1e6 * 80.0);
    }
}
