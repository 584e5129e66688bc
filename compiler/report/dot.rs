//! Graphviz DOT of a plan's dataflow graph: one node per operator and layer kind with
//! one layer's FLOPs and bytes, edges labelled with activation bytes (and how often a
//! step takes them), nodes coloured by stage, or, for a solved plan, by the pool they
//! run on.

use crate::ir::graph::{Graph, Node, Op, Step};
use crate::ir::{Plan, Stage};
use crate::solve::space::{DecodeOption, Layout};
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

/// The pools a node of the solved plan's graph runs on, each with how many of the
/// node's layers it runs (1 for embed and LM head): the prefill pool for a prefill
/// graph; in a decode step the attention pool, the FFN's pool, or, in a layer
/// pipeline, the stages holding the node's layers (embedding first, LM head last).
fn node_pools(n: &Node, g: &Graph, plan: &Plan, point: &Point) -> Vec<(usize, u64)> {
    let d = point.decode();
    if matches!(g.step, Step::Prefill { .. }) {
        return vec![(point.prefill().pool, n.count())];
    }
    let stages = d.stages();
    if let (Some(first), Some(last)) = (stages.first(), stages.last()) {
        return match (n.layers, n.op) {
            (Some(layers), _) => {
                let mut out: Vec<(usize, u64)> = Vec::new();
                let m = &plan.model;
                for l in (0..m.layers).filter(|&l| m.layer_kind(l) == layers.kind) {
                    let pool = stages.iter().find(|s| s.first <= l && l < s.end).map_or(first.pool, |s| s.pool);
                    match out.iter_mut().find(|(p, _)| *p == pool) {
                        Some((_, k)) => *k += 1,
                        None => out.push((pool, 1)),
                    }
                }
                out
            }
            (None, Op::Embed) => vec![(first.pool, 1)],
            (None, _) => vec![(last.pool, 1)],
        };
    }
    vec![(stage_pool(n.stage, d), n.count())]
}

/// The pool a decode stage's nodes run on outside a layer pipeline (speculative
/// decoding: the target's).
fn stage_pool(stage: Stage, d: &DecodeOption) -> usize {
    match &d.layout {
        Layout::PingPong(p) if stage == Stage::DecodeFfn => p.ffn.0,
        Layout::Speculative(s) => stage_pool(stage, &s.target),
        Layout::Colocated(_) | Layout::PingPong(_) | Layout::Pipeline(_) => d.head().0,
    }
}

/// [`render`] for a solved plan: every node coloured by the pool it runs on (its name
/// and chip in the label; striped, with each pool's layers, when a layer pipeline
/// splits the node's layers over pools), with a legend of the pools.
pub fn render_placed(g: &Graph, title: &str, moe: Option<(u64, u64)>, plan: &Plan, point: &Point) -> String {
    let pools = &plan.cluster.pools;
    let colour = |p: usize| POOL_COLORS[p % POOL_COLORS.len()];
    let fill = |n: &Node| {
        let on = node_pools(n, g, plan, point);
        let colours: Vec<&str> = on.iter().map(|&(p, _)| colour(p)).collect();
        let names: Vec<String> = match on.as_slice() {
            [(p, _)] => vec![format!("{} ({})", pools[*p].name, pools[*p].chip.name)],
            _ => on.iter().map(|&(p, k)| format!("{} ({}): {k} layers", pools[p].name, pools[p].chip.name)).collect(),
        };
        (colours.join(":"), Some(format!("on {}", names.join(", "))))
    };
    let mut used: Vec<usize> = g.nodes().flat_map(|n| node_pools(n, g, plan, point)).map(|(p, _)| p).collect();
    used.sort();
    used.dedup();
    let mut legend = String::from("  subgraph cluster_legend {\n    label=\"pools\";\n");
    for p in used {
        // a pool of nodes as it is written: chips per node x nodes
        let count = match &pools[p].scale_out {
            Some(s) => format!("{} x {}", s.node, pools[p].count / s.node),
            None => pools[p].count.to_string(),
        };
        let _ = writeln!(
            legend,
            "    pool_{p} [label=\"{}: {} x {count}\", fillcolor=\"{}\"];",
            esc(&pools[p].name),
            esc(&pools[p].chip.name),
            colour(p)
        );
    }
    legend.push_str("  }\n");
    render_with(g, title, moe, &fill, &legend)
}

/// A layer node's name: its operator and the layers it stands for, with their kind
/// where the model's layers differ (sliding or full attention, MoE or dense FFN).
fn node_name(n: &Node, g: &Graph) -> String {
    let Some(layers) = n.layers else { return n.op.name().to_string() };
    let kinds: Vec<_> = g.nodes().filter_map(|x| x.layers.map(|l| l.kind)).collect();
    let varies = |f: &dyn Fn(&crate::ir::LayerKind) -> bool| kinds.iter().any(f) && !kinds.iter().all(f);
    let mut kind = String::new();
    if varies(&|k| k.sliding) {
        kind.push_str(if layers.kind.sliding { " sliding" } else { " full-attention" });
    }
    if varies(&|k| k.moe) {
        kind.push_str(if layers.kind.moe { " MoE" } else { " dense" });
    }
    let plural = if layers.count == 1 { "" } else { "s" };
    format!("{} x {}{kind} layer{plural}", n.op.name(), layers.count)
}

/// The DOT text; `fill` gives a node's colour and an extra label line, `extra` is
/// added before the nodes.
fn render_with(g: &Graph, title: &str, moe: Option<(u64, u64)>, fill: &dyn Fn(&Node) -> (String, Option<String>), extra: &str) -> String {
    let tokens = match g.step {
        crate::ir::graph::Step::Prefill { tokens, .. } => tokens as f64,
        crate::ir::graph::Step::Decode { batch, .. } => batch as f64,
        crate::ir::graph::Step::Verify { batch, per_seq, .. } => (batch * per_seq) as f64,
        crate::ir::graph::Step::Mixed { batch, prefill, .. } => (batch + prefill) as f64,
    };
    let mut o = String::new();
    let _ = writeln!(o, "digraph \"{}\" {{", esc(title));
    let _ = writeln!(o, "  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];");
    // one node per operator and layer kind, its figures those of one layer; an edge
    // taken more than once per step says how often
    o.push_str(extra);
    for i in g.graph.node_indices() {
        let n = &g.graph[i];
        let mut label = format!("{}\\n{}", node_name(n, g), n.stage.name());
        if n.layers.is_some() && n.flops + n.weight_bytes + n.kv_read_bytes + n.kv_write_bytes > 0.0 {
            label.push_str("\\neach layer:");
        }
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
        // several colours: a layer pipeline splits the node's layers over pools
        let striped = if fillcolor.contains(':') { ", style=\"filled,striped\"" } else { "" };
        let _ = writeln!(o, "  n{} [label=\"{}\", fillcolor=\"{}\"{striped}];", i.index(), esc(&label), fillcolor);
    }
    let mut edges: Vec<_> =
        g.graph.edge_indices().filter_map(|e| g.graph.edge_endpoints(e).map(|(a, b)| (a.index(), b.index(), g.graph[e]))).collect();
    edges.sort_by_key(|e| (e.0, e.1));
    for (a, b, e) in edges {
        let times = if e.count > 1 { format!(" x {}", e.count) } else { String::new() };
        let _ = writeln!(o, "  n{a} -> n{b} [label=\"{}{times}\"];", fmt_bytes(e.bytes));
    }
    o.push_str("}\n");
    o
}
