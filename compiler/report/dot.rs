//! Graphviz DOT of a plan's dataflow graph: one node per operator with its FLOPs
//! and bytes, edges labelled with activation bytes, nodes coloured by stage, or, for a
//! solved plan, by the pool they run on.

use crate::ir::graph::{Graph, Node, Op, Step};
use crate::ir::{Plan, Stage};
use crate::solve::Point;
use crate::units::format::{fmt_bytes, fmt_si};
use std::fmt::Write;

fn color(s: Stage) -> &'static str {
    match s {
        Stage::Prefill => "#f4d6a0",
        Stage::DecodeAttn => "#a8c8f0",
        Stage::DecodeFfn => "#b8e0b0",
        Stage::Draft => "#e0c0e8",
        Stage::DecodeLayers => "#c8d8e8",
    }
}

/// Quotes are escaped; backslashes are DOT's own line breaks (`\n`) in labels, and
/// names are identifiers, which have none.
fn esc(s: &str) -> String {
    s.replace('"', "\\\"")
}

/// Renders `g` as DOT; `title` names the graph. `moe` = (experts, top-k) adds the mean
/// tokens per routed expert to expert nodes. Nodes are coloured by stage.
pub fn render(g: &Graph, title: &str, moe: Option<(u64, u64)>) -> String {
    render_with(g, title, moe, &|n| (color(n.stage).to_string(), None), "")
}

/// Colours of pools, by pool index.
const POOL_COLORS: [&str; 8] = ["#a8c8f0", "#b8e0b0", "#f4d6a0", "#e0c0e8", "#f0b8b8", "#c8e8e8", "#e8e0a8", "#d0d0d0"];

/// The pool a node of the solved plan's graph runs on: the prefill pool for a prefill
/// graph; in a decode step the attention pool, the FFN's pool, or, in a layer
/// pipeline, the stage holding the node's layer (embedding first, LM head last).
fn node_pool(n: &Node, g: &Graph, point: &Point) -> usize {
    let inst = &point.instance;
    let d = &inst.decode[point.choice.decode];
    if matches!(g.step, Step::Prefill { .. }) {
        return inst.prefill[point.choice.prefill].pool;
    }
    if let (Some(first), Some(last)) = (d.layers.first(), d.layers.last()) {
        return match (n.layer, n.op) {
            (Some(l), _) => d.layers.iter().find(|s| s.first <= l && l < s.end).map(|s| s.pool).unwrap_or(first.pool),
            (None, Op::Embed) => first.pool,
            (None, _) => last.pool,
        };
    }
    match (n.stage, d.ffn) {
        (Stage::DecodeFfn, Some((f, _))) => f,
        _ => d.attn_pool,
    }
}

/// [`render`] for a solved plan: every node coloured by the pool it runs on (its name
/// and chip in the label), with a legend of the pools.
pub fn render_placed(g: &Graph, title: &str, moe: Option<(u64, u64)>, plan: &Plan, point: &Point) -> String {
    let pools = &plan.cluster.pools;
    let fill = |n: &Node| {
        let p = node_pool(n, g, point);
        (POOL_COLORS[p % POOL_COLORS.len()].to_string(), Some(format!("on {} ({})", pools[p].name, pools[p].chip.name)))
    };
    let mut used: Vec<usize> = g.nodes().map(|n| node_pool(n, g, point)).collect();
    used.sort();
    used.dedup();
    let mut legend = String::from("  subgraph cluster_legend {\n    label=\"pools\";\n");
    for p in used {
        let _ = writeln!(
            legend,
            "    pool_{p} [label=\"{}: {} x {}\", fillcolor=\"{}\"];",
            esc(&pools[p].name),
            esc(&pools[p].chip.name),
            pools[p].count,
            POOL_COLORS[p % POOL_COLORS.len()]
        );
    }
    legend.push_str("  }\n");
    render_with(g, title, moe, &fill, &legend)
}

/// The DOT text; `fill` gives a node's colour and an extra label line, `extra` is
/// added before the nodes.
fn render_with(g: &Graph, title: &str, moe: Option<(u64, u64)>, fill: &dyn Fn(&Node) -> (String, Option<String>), extra: &str) -> String {
    let tokens = match g.step {
        crate::ir::graph::Step::Prefill { tokens } => tokens as f64,
        crate::ir::graph::Step::Decode { batch, .. } => batch as f64,
        crate::ir::graph::Step::Verify { batch, per_seq, .. } => (batch * per_seq) as f64,
        crate::ir::graph::Step::Mixed { batch, prefill, .. } => (batch + prefill) as f64,
    };
    let mut o = String::new();
    let _ = writeln!(o, "digraph \"{}\" {{", esc(title));
    let _ = writeln!(o, "  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];");
    o.push_str(extra);
    for i in g.topo_order() {
        let n = &g.graph[i];
        let name = match n.layer {
            Some(l) => format!("L{l} {}", n.op.name()),
            None => n.op.name().to_string(),
        };
        let mut label = format!("{name}\\n{}", n.stage.name());
        if n.flops > 0.0 {
            let _ = write!(label, "\\n{} ({})", fmt_si(n.flops, "FLOP"), n.precision.name());
        }
        if n.weight_bytes > 0.0 {
            let _ = write!(label, "\\nweights {}", fmt_bytes(n.weight_bytes));
        }
        if n.kv_read_bytes > 0.0 {
            let _ = write!(label, "\\nKV read {}", fmt_bytes(n.kv_read_bytes));
        }
        if let (crate::ir::graph::Op::Experts, Some((e, k))) = (n.op, moe) {
            let _ = write!(label, "\\n{:.2} tokens per expert", crate::cost::tokens_per_expert(tokens, k, e));
        }
        if n.kv_write_bytes > 0.0 {
            let _ = write!(label, "\\nKV write {}", fmt_bytes(n.kv_write_bytes));
        }
        let (fillcolor, on) = fill(n);
        if let Some(on) = on {
            let _ = write!(label, "\\n{on}");
        }
        let _ = writeln!(o, "  n{} [label=\"{}\", fillcolor=\"{}\"];", i.index(), esc(&label), fillcolor);
    }
    let mut edges: Vec<_> =
        g.graph.edge_indices().filter_map(|e| g.graph.edge_endpoints(e).map(|(a, b)| (a.index(), b.index(), g.graph[e].bytes))).collect();
    edges.sort_by_key(|e| (e.0, e.1));
    for (a, b, bytes) in edges {
        let _ = writeln!(o, "  n{a} -> n{b} [label=\"{}\"];", fmt_bytes(bytes));
    }
    o.push_str("}\n");
    o
}
