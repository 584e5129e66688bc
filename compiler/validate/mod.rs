//! `hplanc validate DATA.csv`: evaluates every row of a measured-deployments CSV (the
//! columns of `deployments.csv`) as a pinned plan and compares the predicted TTFT and
//! TPOT with the measured ones (docs/validation.md).
//!
//! Rows map to stdlib items through [`Mapping`] (built in, extendable with `--map`).
//! Each (model, system, framework, weights) group becomes one plan of a generated
//! `.hplan` text compiled by the library entry point, so the chips carry their tables
//! and the framework's fixed costs exactly as in a user's plan; the row's parallelism,
//! concurrency and sequence lengths are then pinned in [`eval`].

pub mod calibrate;
pub mod eval;
pub mod stats;

use crate::ir::{self, Precision};
use std::collections::BTreeMap;

/// Most rows one data file may have.
pub const MAX_ROWS: usize = 100_000;
/// Most clients one worker of a row may have: a row's prompts are priced in bursts of
/// up to that many (the largest measured concurrency is 512).
pub const MAX_CLIENTS: u64 = 100_000;

/// How CSV names map to stdlib items. `hplanc validate --map FILE` adds entries.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// `model_path` value -> stdlib model (`std::models::NAME`)
    pub models: BTreeMap<String, String>,
    /// `system` value -> (stdlib chip, stdlib link between its GPUs)
    pub systems: BTreeMap<String, (String, String)>,
}

impl Default for Mapping {
    fn default() -> Mapping {
        let models = [
            ("meta-llama/Llama-3.1-8B-Instruct", "llama3_1_8b"),
            ("nvidia/Llama-3.1-8B-Instruct-FP8", "llama3_1_8b"),
            ("Qwen/Qwen3-32B", "qwen3_32b"),
            ("nvidia/Qwen3-32B-NVFP4", "qwen3_32b"),
            ("Qwen/Qwen3-235B-A22B-FP8", "qwen3_235b_a22b"),
            ("Qwen/Qwen3-235B-A22B", "qwen3_235b_a22b"),
        ];
        let systems = [
            ("h100_sxm", "h100_sxm_measured", "nvlink4"),
            ("h200_sxm", "h200_measured", "nvlink4"),
            ("b200_sxm", "b200_measured", "nvlink5"),
            ("gb200", "gb200_measured", "nvlink5"),
            ("gb300", "gb300_measured", "nvlink5"),
        ];
        Mapping {
            models: models.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            systems: systems.iter().map(|(a, b, c)| (a.to_string(), (b.to_string(), c.to_string()))).collect(),
        }
    }
}

impl Mapping {
    /// Adds the entries of a map file: `model,CSV_NAME,STD_MODEL` and
    /// `system,CSV_NAME,STD_CHIP,STD_LINK` lines (`#` comments). Errors name the line.
    pub fn extend_from(&mut self, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match f[..] {
                ["model", name, item] if ident(item) => {
                    self.models.insert(name.to_string(), item.to_string());
                }
                ["system", name, chip, link] if ident(chip) && ident(link) => {
                    self.systems.insert(name.to_string(), (chip.to_string(), link.to_string()));
                }
                _ => {
                    return Err(format!(
                        "line {}: expected `model,CSV_NAME,STD_MODEL` or `system,CSV_NAME,STD_CHIP,STD_LINK`, found `{line}`",
                        i + 1
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Aggregated (prefill and decode on the same GPUs) or disaggregated serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Agg,
    Disagg,
}

impl Mode {
    /// The name the data uses: `agg` or `disagg`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Agg => "agg",
            Mode::Disagg => "disagg",
        }
    }
}

/// One worker's parallelism.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parallel {
    /// attention tensor parallelism
    pub tp: u64,
    /// attention data parallelism
    pub dp: u64,
    /// GPUs the MoE layers' experts spread over (moe_tp x moe_ep); tp x dp otherwise
    pub moe: u64,
    /// how the experts divide over those GPUs: split by width where the row's MoE is
    /// tensor-parallel only (moe_tp > 1, moe_ep = 1), whole experts otherwise (a row with
    /// both above 1 is priced as expert parallelism over their product)
    pub experts: crate::cost::MoeSplit,
}

/// One row, as read.
#[derive(Clone, Debug)]
pub struct Row {
    /// 1-based line in the file
    pub line: usize,
    pub id: String,
    pub model: String,
    pub system: String,
    pub framework: String,
    pub mode: Mode,
    pub weights: Precision,
    pub isl: u64,
    pub osl: u64,
    /// requests in flight per worker (agg) or per decode worker (disagg)
    pub batch: u64,
    /// agg: the worker; disagg: the decode worker
    pub decode: Parallel,
    /// disagg: the prefill worker's tensor parallelism
    pub prefill_tp: u64,
    pub ttft_ms: f64,
    pub tpot_ms: f64,
}

/// A row that cannot be evaluated, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub line: usize,
    pub id: String,
    pub reason: String,
}

/// Reads the CSV. Rows that cannot be read are returned as skipped with their reason;
/// a missing column is an error for the whole file.
pub fn read_rows(text: &str) -> Result<(Vec<Row>, Vec<Skipped>), String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.starts_with('#'));
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.split(',').map(str::trim).collect(),
        None => return Err("the file is empty".into()),
    };
    let need = [
        "id",
        "model_path",
        "system",
        "backend",
        "mode",
        "isl",
        "osl",
        "gemm_quant_mode",
        "batch_size",
        "tp_size",
        "attention_dp_size",
        "moe_tp_size",
        "moe_ep_size",
        "prefill_tp_size",
        "decode_tp_size",
        "decode_attention_dp_size",
        "decode_batch_size",
        "silicon_ttft_ms",
        "silicon_tpot_ms",
        "concurrency",
    ];
    let mut col = BTreeMap::new();
    for n in need {
        match header.iter().position(|h| *h == n) {
            Some(i) => {
                col.insert(n, i);
            }
            None => return Err(format!("line 1: the header has no `{n}` column (the columns of deployments.csv are needed)")),
        }
    }
    // read where present: a pipeline-parallel worker is counted as not evaluated
    for n in ["pp_size", "prefill_pp_size", "decode_pp_size"] {
        if let Some(i) = header.iter().position(|h| *h == n) {
            col.insert(n, i);
        }
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in lines {
        if rows.len() + skipped.len() >= MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows"));
        }
        if line.trim().is_empty() {
            continue;
        }
        let cells = split_csv(line);
        let get = |n: &str| -> String { col.get(n).and_then(|&i| cells.get(i)).map(|s| s.trim().to_string()).unwrap_or_default() };
        let id = get("id");
        match parse_row(i + 1, &get) {
            Ok(r) => rows.push(r),
            Err(reason) => skipped.push(Skipped { line: i + 1, id, reason }),
        }
    }
    Ok((rows, skipped))
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    out.push(cell);
    out
}

fn parse_row(line: usize, get: &dyn Fn(&str) -> String) -> Result<Row, String> {
    let num = |n: &str| -> Result<Option<f64>, String> {
        let v = get(n);
        let v = v.as_str();
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(format!("`{n}` is `{v}`, not a number >= 0")),
        }
    };
    let count = |n: &str| -> Result<Option<u64>, String> {
        match num(n)? {
            Some(x) if x.fract() == 0.0 && x <= 1e9 => Ok(Some(x as u64)),
            Some(x) => Err(format!("`{n}` is {x}, not a whole number")),
            None => Ok(None),
        }
    };
    let mode = match get("mode").as_str() {
        "agg" => Mode::Agg,
        "disagg" => Mode::Disagg,
        m => return Err(format!("unknown mode `{m}` (agg or disagg)")),
    };
    let weights = match get("gemm_quant_mode").as_str() {
        "" | "bfloat16" | "bf16" => Precision::Bf16,
        "fp8" | "fp8_block" => Precision::Fp8,
        "nvfp4" | "fp4" => Precision::Fp4,
        q => return Err(format!("unknown gemm_quant_mode `{q}`")),
    };
    let positive = |n: &str, v: Option<u64>| -> Result<u64, String> {
        match v {
            Some(x) if x > 0 => Ok(x),
            _ => Err(format!("no `{n}`")),
        }
    };
    let isl = positive("isl", count("isl")?)?;
    let osl = positive("osl", count("osl")?)?;
    // Pipeline-parallel workers are not evaluated: validation prices a worker as one
    // tensor-parallel group (data-parallel attention ranks over one expert group), and
    // evaluating a pipeline as one would be a wrong prediction, not a missing one.
    for n in ["pp_size", "prefill_pp_size", "decode_pp_size"] {
        if let Some(pp) = count(n)?.filter(|pp| *pp > 1) {
            return Err(format!("`{n}` is {pp}: pipeline-parallel workers are not evaluated"));
        }
    }
    let ttft_ms = num("silicon_ttft_ms")?.filter(|x| *x > 0.0).ok_or("no measured TTFT")?;
    let tpot_ms = num("silicon_tpot_ms")?.filter(|x| *x > 0.0).ok_or("no measured TPOT")?;
    let (decode, batch, prefill_tp) = match mode {
        Mode::Agg => {
            let tp = positive("tp_size", count("tp_size")?)?;
            let dp = count("attention_dp_size")?.filter(|d| *d > 0).unwrap_or(1);
            let mt = count("moe_tp_size")?.unwrap_or(0).max(1);
            let me = count("moe_ep_size")?.unwrap_or(0).max(1);
            // The worker has as many GPUs as the larger of attention (tp x dp) and the MoE
            // layers (moe_tp x moe_ep). The two rows the data's README calls quirky
            // (moe_tp = moe_ep = 2 with tp x dp = 2 x 2) run on 4 GPUs, as their ids
            // (`_tp4_`) say, which this gives.
            let gpus = (tp * dp).max(mt * me);
            let dp = (gpus / tp).max(1);
            let experts = if mt > 1 && me == 1 { crate::cost::MoeSplit::Width } else { crate::cost::MoeSplit::Experts };
            // The clients of one worker. 11 aggregated rows record the concurrency only in
            // batch_size; 16 record a concurrency that is a whole multiple k > 1 of
            // batch_size: k replicas of the worker, each with batch_size clients (one
            // TP2 worker cannot hold 416 clients of 15k-token prompts and still decode
            // 13 ms steps; 32 replicas of 13 can).
            let concurrency = count("concurrency")?.filter(|c| *c > 0);
            let per_worker = count("batch_size")?.filter(|b| *b > 0);
            let batch = match (concurrency, per_worker) {
                (Some(c), Some(b)) if c > b && c % b == 0 => b,
                (c, b) => positive("concurrency", c.or(b))?,
            };
            if batch > MAX_CLIENTS {
                return Err(format!("{batch} clients per worker, more than {MAX_CLIENTS}"));
            }
            (Parallel { tp, dp, moe: gpus, experts }, batch, tp)
        }
        Mode::Disagg => {
            let tp = positive("decode_tp_size", count("decode_tp_size")?)?;
            let dp = count("decode_attention_dp_size")?.filter(|d| *d > 0).unwrap_or(1);
            let batch = positive("decode_batch_size", count("decode_batch_size")?)?;
            let ptp = positive("prefill_tp_size", count("prefill_tp_size")?)?;
            (Parallel { tp, dp, moe: tp * dp, experts: crate::cost::MoeSplit::Experts }, batch, ptp)
        }
    };
    Ok(Row {
        line,
        id: get("id"),
        model: get("model_path"),
        system: get("system"),
        framework: get("backend"),
        mode,
        weights,
        isl,
        osl,
        batch,
        decode,
        prefill_tp,
        ttft_ms,
        tpot_ms,
    })
}

/// The key of a row's plan: (stdlib model, chip, link, framework, weights).
type PlanKey = (String, String, String, String, Precision);

/// A row with its prediction, or why there is none.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub row: Row,
    pub result: Result<eval::Prediction, String>,
}

/// What to give a mapped stdlib chip under one framework instead of its own: its fixed
/// costs, and (when set) the engine's first-token latency `(F, L)`. `hplanc calibrate`
/// fits them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    pub costs: ir::FixedCosts,
    pub first_token: Option<(f64, f64)>,
}

/// (stdlib chip, framework) -> what replaces its own.
pub type Overrides = BTreeMap<(String, String), Calibration>;

/// Evaluates every row: groups rows into plans, compiles them in one generated file,
/// and pins each row's configuration.
pub fn evaluate(rows: Vec<Row>, map: &Mapping) -> Result<Vec<Evaluated>, String> {
    evaluate_with(rows, map, &Overrides::new())
}

/// [`evaluate`], with the chips of `overrides` carrying those fixed costs (a chip that
/// extends the stdlib one with a `framework` block, as `hplanc calibrate` writes it).
pub fn evaluate_with(rows: Vec<Row>, map: &Mapping, overrides: &Overrides) -> Result<Vec<Evaluated>, String> {
    let mut keys: Vec<PlanKey> = Vec::new();
    let mut which: Vec<Result<usize, String>> = Vec::new();
    for r in &rows {
        let Some(model) = map.models.get(&r.model) else {
            which.push(Err(format!("unknown model `{}` (add it with --map)", r.model)));
            continue;
        };
        let Some((chip, link)) = map.systems.get(&r.system) else {
            which.push(Err(format!("unknown system `{}` (add it with --map)", r.system)));
            continue;
        };
        if !ir::FRAMEWORKS.contains(&r.framework.as_str()) {
            which.push(Err(format!("unknown framework `{}`", r.framework)));
            continue;
        }
        let key = (model.clone(), chip.clone(), link.clone(), r.framework.clone(), r.weights);
        let i = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
            keys.push(key);
            keys.len() - 1
        });
        which.push(Ok(i));
    }
    let mut text = String::new();
    for (i, (model, chip, link, fw, w)) in keys.iter().enumerate() {
        let chip = match overrides.get(&(chip.clone(), fw.clone())) {
            Some(Calibration { costs: c, first_token }) => {
                let first = first_token
                    .map(|(f, l)| format!("    first_token = {:.4} ms\n    first_token_per_layer = {:.4} ms\n", f * 1e3, l * 1e3))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "chip k{i} = std::chips::{chip} {{\n  framework {fw} {{\n    step_overhead = {:.4} us\n    layer_overhead = {:.4} us\n    sequence_overhead = {:.4} us\n{first}    source = \"validate\"\n  }}\n}}\n",
                    c.step * 1e6,
                    c.layer * 1e6,
                    c.sequence * 1e6
                ));
                format!("k{i}")
            }
            None => format!("std::chips::{chip}"),
        };
        text.push_str(&format!(
            "cluster c{i} {{\n  pool gpu = {chip} x 64 over std::links::{link}\n}}\n\
             plan p{i} {{\n  model = std::models::{model} {{ weights = {} }}\n  cluster = c{i}\n  workload = w\n  framework = {fw}\n  minimize tpot\n}}\n",
            w.name()
        ));
    }
    text.push_str("workload w {\n  input = 1 tok\n  output = 1 tok\n  concurrency = 1\n}\n");
    let comp = crate::compile("<validate>", &text, None, crate::Mode::Check);
    if comp.has_errors() {
        let msgs: Vec<String> = comp.diagnostics.iter().map(|d| d.message.clone()).collect();
        return Err(format!("the mapped stdlib items do not compile: {}", msgs.join("; ")));
    }
    let plans: BTreeMap<usize, &ir::Plan> =
        comp.program.plans.iter().filter_map(|p| p.name[1..].parse::<usize>().ok().map(|i| (i, p))).collect();
    Ok(rows
        .into_iter()
        .zip(which)
        .map(|(row, w)| {
            let result =
                w.and_then(|i| plans.get(&i).ok_or_else(|| "its plan did not resolve".to_string())).and_then(|p| eval::predict(p, &row));
            Evaluated { row, result }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(framework: &str, tp: u64, batch: u64) -> Row {
        Row {
            line: 2,
            id: "t".into(),
            model: "Qwen/Qwen3-32B".into(),
            system: "h100_sxm".into(),
            framework: framework.into(),
            mode: Mode::Agg,
            weights: Precision::Bf16,
            isl: 1024,
            osl: 128,
            batch,
            decode: Parallel { tp, dp: 1, moe: tp, experts: crate::cost::MoeSplit::Experts },
            prefill_tp: tp,
            ttft_ms: 1.0,
            tpot_ms: 1.0,
        }
    }

    fn predict(rows: Vec<Row>) -> Vec<eval::Prediction> {
        evaluate(rows, &Mapping::default()).unwrap().into_iter().map(|e| e.result.unwrap()).collect()
    }

    #[test]
    fn a_concurrency_that_is_a_multiple_of_the_batch_is_replicas_of_the_worker() {
        let head = "id,backend,model_path,system,mode,isl,osl,gemm_quant_mode,batch_size,tp_size,attention_dp_size,moe_tp_size,\
                    moe_ep_size,prefill_tp_size,decode_tp_size,decode_attention_dp_size,decode_batch_size,silicon_ttft_ms,silicon_tpot_ms,concurrency";
        let text = format!(
            "{head}\na,trtllm,Qwen/Qwen3-32B,b200_sxm,agg,15000,500,nvfp4,13,2,,,,,,,,719.3,13.66,416\n\
             b,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,1,,,,,,,,190.9,7.94,8\n\
             c,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,1,,,,,,,,190.9,7.94,\n\
             d,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,1,,,,,,,,190.9,7.94,12\n\
             e,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,,1,,,,,,,,190.9,7.94,200000\n"
        );
        let (rows, skipped) = read_rows(&text).unwrap();
        // a row that states more clients than a burst may hold is not evaluated
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].reason.contains("200000 clients per worker, more than 100000"), "{skipped:?}");
        // nor a pipeline-parallel worker, aggregated or either side of a disaggregated one
        let pp = format!(
            "{head},pp_size,prefill_pp_size,decode_pp_size\n\
             a,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,2,,,,,,,,190.9,7.94,8,2,,\n\
             b,trtllm,Qwen/Qwen3-32B,h100_sxm,disagg,1024,128,,,,,,,2,2,,8,190.9,7.94,8,,2,1\n\
             c,trtllm,Qwen/Qwen3-32B,h100_sxm,disagg,1024,128,,,,,,,2,2,,8,190.9,7.94,8,,1,4\n\
             d,trtllm,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,2,,,,,,,,190.9,7.94,8,1,,\n"
        );
        let (pp_rows, pp_skipped) = read_rows(&pp).unwrap();
        let reasons: Vec<&str> = pp_skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "`pp_size` is 2: pipeline-parallel workers are not evaluated",
                "`prefill_pp_size` is 2: pipeline-parallel workers are not evaluated",
                "`decode_pp_size` is 4: pipeline-parallel workers are not evaluated"
            ]
        );
        assert_eq!(pp_rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["d"]);
        // 416 clients over 32 workers of 13; 8 of 8; only batch_size; 12 is no multiple of 8
        let batches: Vec<u64> = rows.iter().map(|r| r.batch).collect();
        assert_eq!(batches, vec![13, 8, 8, 12]);
    }

    /// `moe_tp_size` above 1 with `moe_ep_size` 1 splits every expert by width; experts
    /// stay whole otherwise, the two "quirky" rows with both at 2 too (docs/cost-model.md
    /// §4h). Split by width over two attention ranks, the experts' collective is one
    /// all-reduce's traffic of both ranks' tokens, not two all-to-alls of their routes.
    #[test]
    fn a_tensor_parallel_moe_row_splits_its_experts_by_width() {
        use crate::cost::MoeSplit;
        let head = "id,backend,model_path,system,mode,isl,osl,gemm_quant_mode,batch_size,tp_size,attention_dp_size,moe_tp_size,\
                    moe_ep_size,prefill_tp_size,decode_tp_size,decode_attention_dp_size,decode_batch_size,silicon_ttft_ms,silicon_tpot_ms,concurrency";
        let text = format!(
            "{head}\na,vllm,Qwen/Qwen3-235B-A22B-FP8,h200_sxm,agg,1000,100,fp8,8,1,,2,1,,,,,356.9,54.93,8\n\
             b,vllm,Qwen/Qwen3-235B-A22B-FP8,h200_sxm,agg,1000,100,fp8,8,2,,1,2,,,,,356.9,54.93,8\n\
             c,trtllm,Qwen/Qwen3-235B-A22B-FP8,h100_sxm,agg,1000,100,fp8,8,2,2,2,2,,,,,356.9,54.93,8\n"
        );
        let (rows, skipped) = read_rows(&text).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let ways: Vec<(u64, u64, MoeSplit)> = rows.iter().map(|r| (r.decode.dp, r.decode.moe, r.decode.experts)).collect();
        assert_eq!(ways, [(2, 2, MoeSplit::Width), (1, 2, MoeSplit::Experts), (2, 4, MoeSplit::Experts)]);
        // the same worker (1 GPU per rank, 2 ranks) priced both ways: the width split's
        // step is the other's with its collective and its expert kernels swapped
        let dp = |experts| Row {
            model: "Qwen/Qwen3-235B-A22B-FP8".into(),
            system: "h200_sxm".into(),
            weights: Precision::Fp8,
            decode: Parallel { tp: 1, dp: 2, moe: 2, experts },
            prefill_tp: 1,
            batch: 8,
            ..row("sglang", 1, 8)
        };
        let p = predict(vec![dp(MoeSplit::Experts), dp(MoeSplit::Width)]);
        assert_ne!(p[0].decode_step, p[1].decode_step);
        let src = "use std::chips::h200_measured\nuse std::links::nvlink4\nuse std::models::qwen3_235b_a22b\n\
                   workload w {\n  input = 1024 tok\n  output = 128 tok\n  concurrency = 8\n}\n\
                   cluster c {\n  pool gpu = h200_measured x 2 over nvlink4\n}\n\
                   plan p {\n  model = qwen3_235b_a22b { weights = fp8 }\n  cluster = c\n  workload = w\n}\n";
        let comp = crate::compile("t.hplan", src, None, crate::Mode::Check);
        assert!(!comp.has_errors());
        let plan = &comp.program.plans[0];
        let (m, chip) = (&plan.model, &plan.cluster.pools[0].chip);
        let link = plan.cluster.pools[0].link.clone().unwrap();
        // the experts see both ranks' 4 sequences; the fixed costs are the same either way
        let g = crate::ir::graph::build(m, crate::ir::graph::Step::Decode { batch: 8, context: 1088.0 });
        let ffn = |s| crate::cost::ffn_stage_time(&g, m, chip, 2, s).unwrap().time;
        let routed = 4.0 * 8.0 * m.hidden as f64 * m.activations.bytes();
        let a2a = 2.0 * m.moe_layers() as f64 * crate::cost::alltoall_time(routed, 2, &link);
        let gather = m.moe_layers() as f64 * crate::cost::allreduce_on(chip, crate::cost::activation_bytes(m, 8), 2, &link);
        let want = (ffn(MoeSplit::Width) + gather) - (ffn(MoeSplit::Experts) + a2a);
        assert!((p[1].decode_step - p[0].decode_step - want).abs() < 1e-9, "{} vs {want}", p[1].decode_step - p[0].decode_step);
    }

    #[test]
    fn data_parallel_moe_ranks_share_every_arrival() {
        // Qwen3-235B-A22B FP8 on two H200s as two attention ranks over one expert group,
        // 2 clients (1 per rank), 1024-token prompts: a chunk on either rank holds both
        // ranks' step, so the steady state counts both ranks' arrivals; the benchmark's two
        // clients arrive together (vLLM's burst of 2), one on each rank, and their prompts
        // prefill side by side, both through the experts in one step
        let r = Row {
            model: "Qwen/Qwen3-235B-A22B-FP8".into(),
            system: "h200_sxm".into(),
            weights: Precision::Fp8,
            decode: Parallel { tp: 1, dp: 2, moe: 2, experts: crate::cost::MoeSplit::Experts },
            prefill_tp: 1,
            batch: 2,
            ..row("vllm", 1, 2)
        };
        let p = predict(vec![r.clone()])[0];
        assert_eq!(crate::cost::admission::Engine::of(Some("vllm")).burst(2), 2);
        // the steady state's steps carry one prompt's chunks (p.prompt), its first tokens
        // the burst's step: TTFT = T/2 + own
        let own = p.ttft - p.queue - p.tpot / 2.0;
        let (t, ttft) = crate::cost::aggregated::steady_state(p.decode_step, p.prompt - p.decode_step, own, 2, r.osl);
        assert!((p.tpot - t).abs() < 1e-9 * t, "{} vs {t}", p.tpot);
        assert!((p.ttft - p.queue - ttft).abs() < 1e-9 * ttft);
        // both ranks' prompts in one step: longer than one prompt's, shorter than two in turn
        // (each rank's attention runs beside the other's, the experts' weights read once)
        assert!(own > 1.05 * p.prompt && own < 2.0 * p.prompt, "{own} vs {}", p.prompt);
        // one rank's arrivals alone would give a shorter step
        let (alone, _) = crate::cost::aggregated::steady_state(p.decode_step, p.prompt - p.decode_step, own, 1, r.osl);
        assert!(alone < t);
        // a dense model's ranks are independent replicas: each rank's own burst alone
        let dense =
            Row { decode: Parallel { tp: 1, dp: 2, moe: 1, experts: crate::cost::MoeSplit::Experts }, batch: 2, ..row("vllm", 1, 2) };
        let d = predict(vec![dense])[0];
        assert!((d.ttft - d.queue - d.tpot / 2.0 - d.prompt).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn clients_beyond_the_kv_cache_wait_for_a_slot() {
        // Qwen3-32B BF16 on one H100 (81559 MiB = 85.5 GB) under SGLang: 0.88·85.5 − 65.6
        // − 3 GB leaves room for 23 sequences of 1024 + 64 tokens at 256 KiB each
        // (cost::admission), so of 32 clients 9 wait (Little's law over the 23 slots); 16
        // clients all run at once.
        let p = predict(vec![row("sglang", 1, 32), row("sglang", 1, 16)]);
        assert_eq!(p[0].admitted, 23);
        let engine = p[0].ttft - p[0].queue;
        let wait = crate::cost::admission::closed_loop_wait(32, 23, engine + 128.0 * p[0].tpot);
        assert!((p[0].queue - wait).abs() < 1e-12 && wait > engine, "{:?}", p[0]);
        assert_eq!((p[1].admitted, p[1].queue), (16, 0.0));
        // TensorRT-LLM takes every client (docs/cost-model.md §11): 16 run, none waits
        let t = predict(vec![row("trtllm", 1, 16)]);
        assert_eq!((t[0].admitted, t[0].queue), (16, 0.0));
    }

    #[test]
    fn prefill_first_engines_keep_the_clients_in_step() {
        // 16 clients of 1024-token prompts on TP2, everything admitted: SGLang prefills
        // all 16 prompts (two 8192-token steps) before decoding, so a request waits for
        // its share of both; under vLLM about 6 of them arrive together (Engine::burst).
        let p = predict(vec![row("sglang", 2, 16), row("vllm", 2, 16)]);
        assert_eq!((p[0].queue, p[1].queue), (0.0, 0.0));
        assert!(p[0].ttft > 1.2 * p[1].ttft, "{:?}", p);
    }
}
