//! Graphviz DOT of a plan's dataflow graph: one node per operator with its FLOPs
//! and bytes, edges labelled with activation bytes, nodes coloured by stage.

use crate::ir::graph::Graph;
use crate::ir::Stage;
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
/// tokens per routed expert to expert nodes.
pub fn render(g: &Graph, title: &str, moe: Option<(u64, u64)>) -> String {
    let tokens = match g.step {
        crate::ir::graph::Step::Prefill { tokens } => tokens as f64,
        crate::ir::graph::Step::Decode { batch, .. } => batch as f64,
        crate::ir::graph::Step::Verify { batch, per_seq, .. } => (batch * per_seq) as f64,
    };
    let mut o = String::new();
    let _ = writeln!(o, "digraph \"{}\" {{", esc(title));
    let _ = writeln!(o, "  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];");
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
        let _ = writeln!(o, "  n{} [label=\"{}\", fillcolor=\"{}\"];", i.index(), esc(&label), color(n.stage));
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
