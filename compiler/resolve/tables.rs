//! Reads a chip's op table (docs/op-tables.md) into [`ir::tables::OpTables`], with a
//! diagnostic at the file, line and column of every malformed cell. A table with any
//! error is dropped whole: a partial table never replaces the roofline.

use crate::diagnostics::catalog::{self, TableProblem};
use crate::diagnostics::Diagnostics;
use crate::ir::tables::{AttnKey, Grid, MoeKey, OpTables};
use crate::ir::{self, Precision};
use crate::source::{FileId, Span};
use std::collections::BTreeMap;

/// Most rows one table file may hold (the stdlib's have about 8,000).
pub const MAX_TABLE_ROWS: usize = 200_000;

/// The columns a file may have; `op`, `dtype` and `latency_us` are required.
const COLUMNS: [&str; 15] =
    ["op", "dtype", "m", "n", "k", "batch", "context", "heads", "kv_heads", "head_dim", "gpus", "bytes", "experts", "topk", "latency_us"];

/// Each op: its axes (interpolated) and its key columns (matched exactly).
fn op_columns(op: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match op {
        "gemm" => (&["m", "n", "k"], &[]),
        "attn_decode" | "attn_prefill" => (&["batch", "context"], &["heads", "kv_heads", "head_dim"]),
        "allreduce" => (&["bytes"], &["gpus"]),
        "moe" | "moe_tp" => (&["m"], &["n", "k", "experts", "topk", "gpus"]),
        _ => return None,
    })
}

const OPS: [&str; 6] = ["gemm", "attn_decode", "attn_prefill", "allreduce", "moe", "moe_tp"];

/// (op, dtype, key values) -> rows of (axis values, seconds, span of the row)
type Rows = BTreeMap<(String, Precision, Vec<u64>), Vec<(Vec<f64>, f64, Span)>>;

/// Parses `text` (file `file`) as the op table of `chip`; `None` after any error.
pub fn parse(file: FileId, display: &str, text: &str, chip: &ir::Chip, named_at: Span, diags: &mut Diagnostics) -> Option<OpTables> {
    let before = diags.error_count();
    let mut header: Option<Vec<usize>> = None; // column index -> index into COLUMNS
    let mut rows: Rows = BTreeMap::new();
    let mut count = 0usize;
    for line in crate::source::csv_lines(file, text) {
        let (cells, row_span) = (line.cells, line.span);
        let Some(cols) = &header else {
            let mut idx = Vec::new();
            for (name, span) in &cells {
                match COLUMNS.iter().position(|c| c == name) {
                    Some(i) if !idx.contains(&i) => idx.push(i),
                    Some(_) => diags.push(catalog::table_malformed(*span, &TableProblem::ColumnTwice(name))),
                    None => diags.push(catalog::table_malformed(*span, &TableProblem::UnknownColumn(name, &COLUMNS))),
                }
            }
            for req in ["op", "dtype", "latency_us"] {
                if !idx.iter().any(|&i| COLUMNS[i] == req) {
                    diags.push(catalog::table_malformed(row_span, &TableProblem::NoColumn(req)));
                }
            }
            if diags.error_count() > before {
                return None;
            }
            header = Some(idx);
            continue;
        };
        count += 1;
        if count > MAX_TABLE_ROWS {
            diags.push(catalog::table_malformed(row_span, &TableProblem::TooManyRows(MAX_TABLE_ROWS)));
            return None;
        }
        if cells.len() != cols.len() {
            diags.push(catalog::table_malformed(row_span, &TableProblem::Cells(cells.len(), cols.len())));
            continue;
        }
        let cell = |name: &str| cols.iter().position(|&i| COLUMNS[i] == name).map(|j| cells[j]);
        let (op, op_span) = cell("op").unwrap_or(("", row_span));
        let Some((axes, keys)) = op_columns(op) else {
            diags.push(catalog::unknown_choice(op_span, op, "table op", &OPS));
            continue;
        };
        let (dt, dt_span) = cell("dtype").unwrap_or(("", row_span));
        let Some(dtype) = Precision::from_name(dt) else {
            let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
            diags.push(catalog::unknown_choice(dt_span, dt, "dtype", &names));
            continue;
        };
        let mut num = |name: &str, whole: bool| -> Option<f64> {
            let Some((v, span)) = cell(name) else {
                diags.push(catalog::table_malformed(row_span, &TableProblem::OpNeedsColumn { op, column: name }));
                return None;
            };
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 && (!whole || x.fract() == 0.0) => Some(x),
                _ => {
                    diags.push(catalog::table_malformed(span, &TableProblem::BadValue { column: name, whole, cell: v }));
                    None
                }
            }
        };
        let latency = num("latency_us", false);
        let ax: Vec<Option<f64>> = axes.iter().map(|a| num(a, true)).collect();
        let ks: Vec<Option<f64>> = keys.iter().map(|k| num(k, true)).collect();
        let (Some(latency), Some(ax), Some(ks)) =
            (latency, ax.into_iter().collect::<Option<Vec<f64>>>(), ks.into_iter().collect::<Option<Vec<f64>>>())
        else {
            continue;
        };
        rows.entry((op.to_string(), dtype, ks.iter().map(|&k| k as u64).collect())).or_default().push((ax, latency * 1e-6, row_span));
    }
    if header.is_none() || count == 0 {
        diags.push(catalog::table_malformed(named_at, &TableProblem::Empty(display)));
        return None;
    }
    let mut t = OpTables {
        file: display.to_string(),
        span: named_at,
        gemm: BTreeMap::new(),
        attn_decode: BTreeMap::new(),
        attn_prefill: BTreeMap::new(),
        allreduce: BTreeMap::new(),
        moe: BTreeMap::new(),
        moe_tp: BTreeMap::new(),
    };
    for ((op, dtype, key), rs) in rows {
        let Some(grid) = grid(&op, &rs, diags) else { continue };
        match op.as_str() {
            "gemm" => {
                check_peak(chip, dtype, &rs, diags);
                t.gemm.insert(dtype, grid);
            }
            "allreduce" => {
                t.allreduce.insert(key[0], grid);
            }
            "moe" | "moe_tp" => {
                let k = MoeKey { dtype, inter: key[0], hidden: key[1], experts: key[2], top_k: key[3], gpus: key[4] };
                if op == "moe" { &mut t.moe } else { &mut t.moe_tp }.insert(k, grid);
            }
            _ => {
                let k = AttnKey { kv: dtype, heads: key[0], kv_heads: key[1], head_dim: key[2] };
                if op == "attn_decode" {
                    t.attn_decode.insert(k, grid);
                } else {
                    t.attn_prefill.insert(k, grid);
                }
            }
        }
    }
    if diags.error_count() > before {
        return None;
    }
    Some(t)
}

/// The rows of one table, indexed; a diagnostic at each shape measured twice.
fn grid(op: &str, rs: &[(Vec<f64>, f64, Span)], diags: &mut Diagnostics) -> Option<Grid> {
    let mut sorted: Vec<&(Vec<f64>, f64, Span)> = rs.iter().collect();
    sorted.sort_by(|a, b| a.0.iter().zip(&b.0).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal));
    let mut ok = true;
    for w in sorted.windows(2) {
        if w[0].0 == w[1].0 {
            let (first, again) = if w[0].2 < w[1].2 { (w[0].2, w[1].2) } else { (w[1].2, w[0].2) };
            diags.push(catalog::table_malformed(again, &TableProblem::Duplicate { op, first }));
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let rows: Vec<(Vec<f64>, f64)> = sorted.into_iter().map(|r| (r.0.clone(), r.1)).collect();
    Some(Grid::from_sorted(&rows, 0))
}

/// A GEMM row may not imply more FLOP/s than the chip's peak for its precision (or the
/// narrowest wider one it has): 5% slack for clock boost.
fn check_peak(chip: &ir::Chip, dtype: Precision, rs: &[(Vec<f64>, f64, Span)], diags: &mut Diagnostics) {
    let Some((_, peak)) = chip.peak(dtype) else { return };
    if let Some((x, t, span)) = rs.iter().find(|(x, t, _)| 2.0 * x[0] * x[1] * x[2] / t > 1.05 * peak) {
        let implied = 2.0 * x[0] * x[1] * x[2] / t;
        diags.push(catalog::table_faster_than_chip(
            *span,
            &chip.name,
            &crate::units::format::fmt_si(implied, "FLOP/s"),
            &crate::units::format::fmt_si(peak, "FLOP/s"),
        ));
    }
}
