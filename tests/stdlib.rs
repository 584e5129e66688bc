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

/// Parameter counts and KV bytes per token of the stdlib models, against
/// ../shared/reference/models.csv (total_params_b, kv_bytes_per_token_bf16).
#[test]
fn model_figures_match_the_reference() {
    let src = "use std::models::*\n\
               use std::chips::h100_sxm\nuse std::links::nvlink4\n\
               workload w { input = 1k tok\n output = 1k tok\n concurrency = 1 }\n\
               cluster c { pool g = h100_sxm x 8 over nvlink4 }\n\
               plan a { model = llama3_1_8b\n cluster = c\n workload = w }\n\
               plan b { model = llama3_1_70b\n cluster = c\n workload = w }\n\
               plan d { model = llama3_2_1b\n cluster = c\n workload = w }\n";
    let comp = hplanc::compile("models.hplan", src, None, hplanc::Mode::Check);
    assert!(!comp.has_errors());
    let expect = [("llama3_1_8b", 8.03e9, 131_072.0), ("llama3_1_70b", 70.55e9, 327_680.0), ("llama3_2_1b", 1.24e9, 32_768.0)];
    for (plan, (name, params, kv)) in comp.program.plans.iter().zip(expect) {
        let m = &plan.model;
        assert_eq!(m.name, name);
        // models.csv gives billions to two decimals
        assert!((m.params() as f64 - params).abs() < 0.005e9, "{name}: {} params", m.params());
        assert_eq!(m.kv_bytes_per_token(), kv, "{name}");
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
