//! Every stdlib module loads on its own without diagnostics, every item cites a
//! source, and derived figures match ../shared/reference/models.csv.

use hplanc::resolve::stdlib::{module_names, STDLIB_FILES};

#[test]
fn every_stdlib_module_loads_cleanly() {
    for m in module_names() {
        let src = format!("use std::{m}::*\n");
        let comp = hplanc::compile("use.hplan", &src, None, hplanc::Mode::Check);
        let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        assert!(comp.diagnostics.is_empty(), "std::{m}:\n{rendered}");
    }
    assert!(STDLIB_FILES.len() >= 5);
}

#[test]
fn every_stdlib_item_cites_a_source() {
    for (path, text) in STDLIB_FILES {
        let items = text.lines().filter(|l| ["chip ", "link ", "model "].iter().any(|k| l.starts_with(k))).count();
        let sources = text.lines().filter(|l| l.trim_start().starts_with("source")).count();
        if *path == "units.hplan" {
            continue; // the unit registry: definitions, not measurements
        }
        // chips also cite their efficiency measurements, so at least one per item
        assert!(sources >= items && items > 0, "{path}: {items} items, {sources} sources");
    }
}

/// Parameter counts and KV bytes per token of every stdlib model against
/// ../shared/reference/models.csv: attention, FFN (total and active) and embedding
/// parameters in billions to the reference's three decimals, totals to its two, and
/// KV bytes per token (BF16, all layers) exactly. "±1 in the last digit" absorbs the
/// reference's rounding.
#[test]
fn model_figures_match_the_reference() {
    // (model, attn_b, ffn_total_b, ffn_active_b, embed_b, total_b, active_b, kv_bytes_per_token)
    let reference = [
        ("llama3_1_8b", 1.342, 5.637, 5.637, 1.051, 8.03, 8.03, 131_072.0),
        ("llama3_1_70b", 12.08, 56.371, 56.371, 2.101, 70.55, 70.55, 327_680.0),
        ("llama3_1_405b", 71.874, 329.773, 329.773, 4.203, 405.85, 405.85, 516_096.0),
        ("llama3_2_1b", 0.168, 0.805, 0.805, 0.263, 1.24, 1.24, 32_768.0),
        ("qwen3_32b", 6.04, 25.166, 25.166, 1.556, 32.76, 32.76, 262_144.0),
        ("qwen3_235b_a22b", 6.703, 227.146, 14.243, 1.245, 235.09, 22.19, 192_512.0),
        ("gpt_oss_120b", 0.956, 114.715, 3.598, 1.158, 116.83, 5.71, 73_728.0),
        ("deepseek_v3", 11.414, 657.759, 24.285, 1.853, 671.03, 37.55, 70_272.0),
        ("kimi_k2", 6.169, 1017.89, 24.343, 2.349, 1026.41, 32.86, 70_272.0),
    ];
    let mut src = String::from("use std::models::*\nuse std::chips::h100_sxm\nuse std::links::nvlink4\n");
    src.push_str("workload w {\n  input = 1k tok\n  output = 1k tok\n  concurrency = 1\n}\n");
    src.push_str("cluster c {\n  pool g = h100_sxm x 8 over nvlink4\n}\n");
    for (name, ..) in &reference {
        // BF16 everywhere, as the reference's figures are.
        src.push_str(&format!("plan p_{name} {{\n  model = {name} {{ weights = bf16, kv = bf16 }}\n  cluster = c\n  workload = w\n}}\n"));
    }
    let comp = hplanc::compile("models.hplan", &src, None, hplanc::Mode::Check);
    let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    assert!(!comp.has_errors(), "{rendered}");
    // Within one unit of the reference's last decimal.
    let close = |got: u64, want: f64, decimals: i32| (got as f64 / 1e9 - want).abs() <= 1.0001 * 10f64.powi(-decimals);
    // The reference gives two decimals (12.08) or three (1.342).
    let decimals = |x: f64| if ((x * 100.0).round() - x * 100.0).abs() < 1e-9 { 2 } else { 3 };
    assert_eq!(comp.program.plans.len(), reference.len());
    for (plan, (name, attn, ffn, ffn_active, embed, total, active, kv)) in comp.program.plans.iter().zip(reference) {
        let m = &plan.model;
        assert_eq!(m.name, name);
        let checks = [
            ("attention", m.layers * m.attn_params_per_layer(), attn),
            ("ffn", m.ffn_params(), ffn),
            ("ffn active", m.ffn_active_params(), ffn_active),
            ("embedding", m.embedding_params(), embed),
            ("total", m.params(), total),
            ("active", m.active_params(), active),
        ];
        for (what, got, want) in checks {
            assert!(close(got, want, decimals(want)), "{name} {what}: {got} vs {want}B");
        }
        assert_eq!(m.kv_bytes_per_token(), kv, "{name} KV bytes per token");
    }
}

/// `extends` of a stdlib item: entries replace the base's, blocks merge recursively.
#[test]
fn extending_stdlib_items_overrides_and_merges() {
    let src = "use std::links::nvlink4\n\
               model m = std::models::llama3_1_70b { weights = fp8 }\n\
               chip big = std::chips::h100_sxm {\n  memory hbm { capacity = 96 GB }\n  price = 3 $/h\n}\n\
               workload w { input = 1k tok\n output = 1k tok\n concurrency = 1 }\n\
               cluster c { pool g = big x 8 over nvlink4 }\n\
               plan p { model = m { kv = fp8 }\n cluster = c\n workload = w }\n";
    let comp = hplanc::compile("extends.hplan", src, None, hplanc::Mode::Check);
    let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    assert!(comp.diagnostics.is_empty(), "{rendered}");
    let plan = &comp.program.plans[0];
    // model: the base's numbers, the override's weights, the plan's kv override on top
    assert_eq!((plan.model.layers, plan.model.weights, plan.model.kv), (80, hplanc::ir::Precision::Fp8, hplanc::ir::Precision::Fp8));
    // chip: capacity replaced, bandwidth kept from the base's hbm block, price added
    let chip = &plan.cluster.pools[0].chip;
    assert_eq!(chip.memory[0].capacity, 96e9);
    assert_eq!(chip.memory[0].bandwidth, 3.35e12);
    assert!((chip.price.unwrap() - 3.0 / 3600.0).abs() < 1e-15);
    assert_eq!(chip.compute.len(), 2);
}
