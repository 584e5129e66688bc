//! Measured per-op latency tables a chip can carry (docs/op-tables.md): GEMMs by shape
//! and precision, decode and prefill attention by batch and context, all-reduce by
//! message size, MoE expert layers by tokens. Each table is a full grid over its axes, values in seconds; the cost
//! phase interpolates in it ([`crate::cost::tables`]).

use super::Precision;
use crate::source::Span;
use std::collections::BTreeMap;

/// One table: measured values (seconds) over one or more axes, nested by axis. The
/// values of an inner axis may differ from one outer value to the next (a measurement
/// campaign skips shapes that do not fit in memory), so the table need not be a full
/// grid. Every axis is sorted, strictly increasing and positive, and non-empty.
#[derive(Clone, Debug, PartialEq)]
pub enum Grid {
    /// the last axis: its values and the measured time at each
    Leaf { axis: Vec<f64>, values: Vec<f64> },
    /// an outer axis: its values and the table of the remaining axes at each
    Node { axis: Vec<f64>, children: Vec<Grid> },
}

impl Grid {
    /// Builds the table from rows sorted by their coordinates (all of one length ≥ 1,
    /// no two equal).
    pub fn from_sorted(rows: &[(Vec<f64>, f64)], depth: usize) -> Grid {
        if rows[0].0.len() == depth + 1 {
            return Grid::Leaf { axis: rows.iter().map(|r| r.0[depth]).collect(), values: rows.iter().map(|r| r.1).collect() };
        }
        let mut axis = Vec::new();
        let mut children = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let v = rows[start].0[depth];
            let end = start + rows[start..].iter().take_while(|r| r.0[depth] == v).count();
            axis.push(v);
            children.push(Grid::from_sorted(&rows[start..end], depth + 1));
            start = end;
        }
        Grid::Node { axis, children }
    }

    /// Measured values in the table.
    pub fn len(&self) -> usize {
        match self {
            Grid::Leaf { values, .. } => values.len(),
            Grid::Node { children, .. } => children.iter().map(Grid::len).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The least measured value (∞ for an empty table).
    pub fn least(&self) -> f64 {
        match self {
            Grid::Leaf { values, .. } => values.iter().copied().fold(f64::INFINITY, f64::min),
            Grid::Node { children, .. } => children.iter().map(Grid::least).fold(f64::INFINITY, f64::min),
        }
    }
}

/// Attention tables are keyed by the precision of the KV cache and the heads one chip
/// serves: query heads, KV heads, head dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttnKey {
    pub kv: Precision,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
}

/// MoE expert tables are keyed by the weights' precision, the layer's shape and the
/// GPUs its experts are spread over: expert parallelism (`moe`, each GPU holding
/// `experts / gpus` whole experts) or tensor parallelism (`moe_tp`, each GPU holding
/// `1/gpus` of every expert's intermediate width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MoeKey {
    pub dtype: Precision,
    pub hidden: u64,
    pub inter: u64,
    pub top_k: u64,
    pub experts: u64,
    pub gpus: u64,
}

/// The op tables of one chip.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTables {
    /// the file's name as shown in diagnostics
    pub file: String,
    /// the chip attribute that names the file
    pub span: Span,
    /// `gemm`: axes m (tokens), n (output features), k (input features)
    pub gemm: BTreeMap<Precision, Grid>,
    /// `attn_decode`: axes batch (sequences), context (tokens in each KV cache)
    pub attn_decode: BTreeMap<AttnKey, Grid>,
    /// `attn_prefill`: axes batch (requests), context (prompt tokens)
    pub attn_prefill: BTreeMap<AttnKey, Grid>,
    /// `allreduce`: keyed by chip count, axis bytes
    pub allreduce: BTreeMap<u64, Grid>,
    /// `moe`: one MoE layer's routed experts on one GPU of an expert-parallel group,
    /// axis tokens entering the layer
    pub moe: BTreeMap<MoeKey, Grid>,
    /// `moe_tp`: the same on one GPU of a group that splits every expert by width
    pub moe_tp: BTreeMap<MoeKey, Grid>,
}

impl OpTables {
    /// Rows in all tables.
    pub fn rows(&self) -> usize {
        self.gemm.values().map(|t| t.len()).sum::<usize>()
            + self.attn_decode.values().map(|t| t.len()).sum::<usize>()
            + self.attn_prefill.values().map(|t| t.len()).sum::<usize>()
            + self.allreduce.values().map(|t| t.len()).sum::<usize>()
            + self.moe.values().map(|t| t.len()).sum::<usize>()
            + self.moe_tp.values().map(|t| t.len()).sum::<usize>()
    }
}
