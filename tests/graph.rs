//! `hplanc graph` DOT output for Llama-3.1-70B and DeepSeek-V3, through the real
//! binary, snapshotted. (Rendered with Graphviz `dot -Tsvg` when reviewed.)

use std::process::Command;

fn graph(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_hplanc")).arg("graph").args(args).current_dir(crate::root()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn llama3_1_70b_decode_graph() {
    let dot = graph(&["tests/graphs/llama3_1_70b.hplan"]);
    // one node per operator, standing for all 80 layers: embed, 4, LM head; the edges
    // into the layers, within one (taken 80 times), from one to the next (79) and out
    assert_eq!(dot.matches(" -> ").count(), 1 + 3 + 1 + 1);
    assert!(dot.contains("[label=\"qkv_proj x 80 layers\\ndecode.attn\\neach layer:"));
    assert!(dot.contains("n4 -> n1 [label=\"131 kB x 79\"]"), "{dot}");
    insta::assert_snapshot!(dot);
}

#[test]
fn deepseek_v3_decode_graph() {
    let dot = graph(&["tests/graphs/deepseek_v3.hplan", "--plan", "dsv3", "--batch", "8"]);
    // Nodes: embed and LM head, the 3 dense layers' 4 (qkv, attention, out, ffn) and
    // the 58 MoE layers' 8 (qkv, attention, out, router, dispatch, experts, shared,
    // combine).
    let edges = dot.matches(" -> ").count();
    assert_eq!(dot.matches(" [label=").count() - edges, 2 + 4 + 8);
    // Edges: 3 within a dense layer and 8 within an MoE one, into the first layer,
    // dense to dense, dense to MoE, MoE to MoE, and to the LM head.
    assert_eq!(edges, 3 + 8 + 5);
    // taken per step as in the layer-by-layer graph: 4 per dense layer and 9 per MoE
    // layer (each counting the edge into the layer), and one to the LM head
    let taken: u64 = dot
        .lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| l.split(" x ").nth(1).map_or(1, |n| n.trim_end_matches("\"];").parse::<u64>().unwrap()))
        .sum();
    assert_eq!(taken, 3 * 4 + 58 * 9 + 1);
    assert!(dot.contains("experts x 58 MoE layers") && dot.contains("ffn x 3 dense layers"));
    insta::assert_snapshot!(dot);
}

#[test]
fn prefill_graph_and_plan_selection() {
    let dot = graph(&["tests/graphs/llama3_1_70b.hplan", "--step", "prefill"]);
    assert!(dot.starts_with("digraph \"llama: prefill of 4000 tokens\""));
    let o = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .args(["graph", "tests/graphs/llama3_1_70b.hplan", "--plan", "nope"])
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no plan `nope`; the file declares llama"));
}

#[test]
fn placed_graph_colours_nodes_by_pool() {
    // The two-generation pipeline (eight H100s, four H200s) cuts Llama-3.1-405B after
    // layer 53 at its best batch, 279: the embedding and layers 0..54 on the H200s (the
    // first stage, which also does the engine's per-sequence work), 54..126 and the LM
    // head on the H100 node. (Before prefill could pipeline over the H200s of `pre`, the
    // H100 node went first, at batch 338.)
    let dot = graph(&["tests/graphs/llama405b_pipeline.hplan", "--placed"]);
    assert!(dot.starts_with("digraph \"split_decode: decode step, batch 279"), "{}", &dot[..80]);
    assert!(dot.contains("pool_0 [label=\"old: h100_sxm x 8\", fillcolor=\"#a8c8f0\"]"));
    assert!(dot.contains("pool_1 [label=\"new: h200 x 4\", fillcolor=\"#b8e0b0\"]"));
    let node = |name: &str| dot.lines().find(|l| l.contains(&format!("label=\"{name}\\n"))).unwrap_or_else(|| panic!("{name}")).to_string();
    assert!(node("embed").contains("on new (h200)\"") && node("embed").contains("fillcolor=\"#b8e0b0\"]"));
    // each layer node's layers are split over the stages: striped in both colours
    for op in ["qkv_proj", "attention", "out_proj", "ffn"] {
        let n = node(&format!("{op} x 126 layers"));
        assert!(n.contains("on new (h200): 54 layers, old (h100_sxm): 72 layers"), "{n}");
        assert!(n.contains("fillcolor=\"#b8e0b0:#a8c8f0\", style=\"filled,striped\""), "{n}");
    }
    assert!(node("lm_head").contains("on old (h100_sxm)\""));
    // A prefill graph runs on the prefill pool.
    let dot = graph(&["tests/graphs/llama405b_pipeline.hplan", "--placed", "--step", "prefill"]);
    let layer_nodes: Vec<&str> = dot.lines().filter(|l| l.contains(" x 126 layers")).collect();
    assert_eq!(layer_nodes.len(), 4);
    assert!(layer_nodes.iter().all(|l| l.contains("on pre (h200)") && !l.contains("striped")));
}

/// A pool of nodes is drawn as it is written: chips per node, then nodes.
#[test]
fn placed_graph_names_a_pool_of_nodes_as_written() {
    let dot = graph(&["examples/deepseek_v3_h100_nodes.hplan", "--plan", "cheapest", "--placed"]);
    assert!(dot.contains("pool_0 [label=\"gpu: h100_sxm x 8 x 4\""), "{dot}");
}

#[test]
fn placed_graph_of_an_infeasible_plan_is_an_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_hplanc"))
        .args(["graph", "tests/ui/inventory.hplan", "--placed"])
        .current_dir(crate::root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0406"));
}
