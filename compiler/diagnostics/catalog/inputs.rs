//! Why an input could not be taken, as reasons the resolver names and this file words:
//! a file (E0107, E0501, E0602), an op table (E0502), a pin (E0410), a model attribute that an
//! architecture needs (E0302).

use super::{make, missing_attribute};
use crate::diagnostics::Diagnostic;
use crate::source::Span;

/// Why a file an item names (an import, an op table, a trace) could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum FileProblem {
    /// the naming text is not a file on disk (standard input, an editor buffer), so
    /// there is no folder to find the file in
    NotOnDisk,
    /// an op table the embedded standard library does not have
    NotInStdlib,
    NotHplan,
    /// a `*.hplan` name that links to another kind of file
    LinksToOtherKind,
    LeavesProject,
    /// a symbolic link whose target is missing or loops back
    DanglingLink,
    NoSuchFile,
    Cycle,
    /// the operating system's error reading it (or the reader's refusal: not a regular
    /// file, larger than 8 MiB, not UTF-8)
    Unreadable(String),
}

/// What names a file: an import, a chip's op table, a workload's trace.
#[derive(Clone, Copy)]
enum Named {
    Import,
    Table,
    Trace,
}

fn file_problem(p: &FileProblem, named: Named) -> String {
    let thing = match named {
        Named::Import => "file",
        Named::Table => "table",
        Named::Trace => "trace",
    };
    match p {
        FileProblem::NotOnDisk if matches!(named, Named::Import) => "only files on disk can import other files".into(),
        FileProblem::NotOnDisk => format!("this text was not read from a folder to find the {thing} in"),
        FileProblem::NotInStdlib => format!("the standard library has no such {thing}"),
        FileProblem::NotHplan => "not a .hplan file".into(),
        FileProblem::LinksToOtherKind => "it links to a file that is not a .hplan file".into(),
        FileProblem::LeavesProject => "the path leaves the project folder".into(),
        FileProblem::DanglingLink => "it is a symbolic link that leads to no file (a loop, or a missing target)".into(),
        FileProblem::NoSuchFile => "no such file".into(),
        FileProblem::Cycle => "the files import each other in a cycle".into(),
        FileProblem::Unreadable(e) => e.clone(),
    }
}

pub fn import_failed(span: Span, path: &str, why: &FileProblem) -> Diagnostic {
    make(
        "E0107",
        span,
        format!("cannot import `{path}`: {}", file_problem(why, Named::Import)),
        "imported here",
        "import an existing .hplan file inside this project, by a path relative to the importing file",
    )
}

pub fn table_unreadable(span: Span, path: &str, why: &FileProblem) -> Diagnostic {
    make(
        "E0501",
        span,
        format!("cannot read the op table `{path}`: {}", file_problem(why, Named::Table)),
        "named here",
        "name a CSV file inside this project, by a path relative to this file (format: docs/op-tables.md)",
    )
}

pub fn trace_unreadable(span: Span, path: &str, why: &FileProblem) -> Diagnostic {
    make(
        "E0602",
        span,
        format!("cannot read the trace `{path}`: {}", file_problem(why, Named::Trace)),
        "named here",
        "name a CSV file inside this project, by a path relative to this file (`arrival_s,input_tokens,output_tokens` lines)",
    )
}

/// What is wrong with an op table's header or a row (E0502).
#[derive(Clone, Debug, PartialEq)]
pub enum TableProblem<'a> {
    ColumnTwice(&'a str),
    /// an unknown column, and the known ones
    UnknownColumn(&'a str, &'a [&'a str]),
    NoColumn(&'a str),
    TooManyRows(usize),
    /// cells in the row, in the header
    Cells(usize, usize),
    /// an op's row lacks a column it needs
    OpNeedsColumn {
        op: &'a str,
        column: &'a str,
    },
    /// a value that is not a (whole) number above zero: column, whole, the cell
    BadValue {
        column: &'a str,
        whole: bool,
        cell: &'a str,
    },
    /// the table at this path has no rows
    Empty(&'a str),
    /// an op's shape measured twice (the second row; `first` is the first's)
    Duplicate {
        op: &'a str,
        first: Span,
    },
}

pub fn table_malformed(span: Span, problem: &TableProblem) -> Diagnostic {
    let (message, label, help) = match problem {
        TableProblem::ColumnTwice(name) => (format!("column `{name}` appears twice"), "again here", "keep one".to_string()),
        TableProblem::UnknownColumn(name, known) => {
            (format!("unknown column `{name}`"), "not a column of op tables", format!("the columns are {}", known.join(", ")))
        }
        TableProblem::NoColumn(name) => (
            format!("the header has no `{name}` column"),
            "the header",
            "the header names the columns: op, dtype, the op's shape columns and latency_us (docs/op-tables.md)".to_string(),
        ),
        TableProblem::TooManyRows(n) => {
            (format!("more than {n} rows"), "the limit is passed here", "keep the shapes the cost model needs: a reduced grid".to_string())
        }
        TableProblem::Cells(row, header) => (
            format!("this row has {row} cells, the header {header}"),
            "this row",
            "give every row one cell per header column (empty where the op does not use the column)".to_string(),
        ),
        TableProblem::OpNeedsColumn { op, column } => (
            format!("`{op}` rows need the `{column}` column"),
            "this row",
            format!("add `{column}` to the header (docs/op-tables.md lists each op's columns)"),
        ),
        TableProblem::BadValue { column, whole, cell } => {
            let want = if *whole { "a whole number greater than zero" } else { "a number greater than zero" };
            let found = if cell.is_empty() { "an empty cell".to_string() } else { format!("`{cell}`") };
            (format!("`{column}` must be {want}, found {found}"), "not a valid value", format!("write {want}"))
        }
        TableProblem::Empty(path) => (
            format!("the op table `{path}` has no rows"),
            "this table is empty",
            "give it a header and at least one measured row (docs/op-tables.md)".to_string(),
        ),
        TableProblem::Duplicate { op, .. } => {
            (format!("this `{op}` shape is measured twice"), "the second row", "keep one row per shape".to_string())
        }
    };
    let d = make("E0502", span, message, label, help);
    match problem {
        TableProblem::Duplicate { first, .. } => d.label(*first, "the first row"),
        _ => d,
    }
}

/// What a pinned degree splits (E0410).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinSplit {
    Heads,
    DraftHeads,
    Intermediate,
    /// an MoE's `tp`: each expert's intermediate size
    ExpertWidth,
    Experts,
}

/// Why a pin cannot be honoured (E0410).
#[derive(Clone, Debug, PartialEq)]
pub enum PinProblem<'a> {
    /// the pin is not a decision of `stage`, which takes `takes`; `dense_ffn`: an `ep`
    /// pin on a dense FFN (its degree is `tp`)
    NotThisStage {
        stage: &'a str,
        takes: &'a [&'a str],
        dense_ffn: bool,
    },
    Microbatches,
    /// a data-parallel group count that is not a power of two and fills no node or
    /// pool
    NotPowerOfTwo,
    /// an expert-parallel degree above the model's experts (each chip holds one at least)
    MoreThanExperts {
        value: u64,
        experts: u64,
    },
    /// the degree does not divide this dimension of the model
    NotDividing {
        value: u64,
        dim: u64,
        what: PinSplit,
    },
    /// more chips than the largest pool the stage may use
    PoolTooSmall {
        stage: &'a str,
        largest: u64,
    },
    /// a tensor-parallel degree above the largest scale-up domain (a node of a pool of
    /// nodes) of the pools the stage may use: a group stays inside one
    BeyondNode {
        stage: &'a str,
        node: u64,
    },
    /// a degree above 1 with no pool the stage may use having a scale-up link
    NoLink {
        stage: &'a str,
    },
    /// `dp` groups of `tp` chips need more chips than the largest pool
    TooManyGroups {
        dp: u64,
        tp: u64,
        largest: u64,
    },
    /// more prefill pipeline stages than the limit or the model's layers (`most`, the
    /// lesser of the two)
    TooManyStages {
        most: u64,
        layers: u64,
    },
    /// `pp` stages of `tp` chips need more chips than the largest pool
    TooManyStageChips {
        pp: u64,
        tp: u64,
        largest: u64,
    },
    /// a context split of the KV cache (`cp`) that no tensor-parallel degree gives:
    /// `cp` times the `kv_ways` the heads split the cache does not divide the `heads`
    /// query heads, or the pinned `tp` leaves another split
    ContextSplit {
        cp: u64,
        tp: Option<u64>,
        heads: u64,
        kv_ways: u64,
    },
    /// a prompt split by context over more groups than the limit
    TooManySplits {
        most: u64,
    },
    /// a prompt split by context beside `pp` pipeline stages
    ContextSplitStages {
        pp: u64,
    },
    /// an MoE FFN's `tp` (experts split by width) beside `ep` above 1 (whole experts)
    ExpertsBothWays {
        ep: u64,
    },
    /// a context split of `cp` takes `cp · kv_ways` chips, more than the largest pool
    ContextSplitChips {
        cp: u64,
        kv_ways: u64,
        largest: u64,
    },
}

pub fn pin_impossible(span: Span, pin: &str, problem: &PinProblem) -> Diagnostic {
    let (why, help): (String, String) = match problem {
        PinProblem::NotThisStage { stage, takes, dense_ffn } => {
            let why = match dense_ffn {
                true => "a dense FFN has no experts: its degree is `tp`",
                false => "not a decision of this stage",
            };
            let help = if takes.is_empty() {
                format!("`{stage}` takes no pins")
            } else {
                format!("`{stage}` takes {}", takes.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "))
            };
            (why.into(), help)
        }
        PinProblem::Microbatches => {
            ("ping-pong runs 1 to 8, 12, 16, 24 or 32 microbatches".into(), "pin one of 1 to 8, 12, 16, 24 or 32".into())
        }
        PinProblem::NotPowerOfTwo => (
            "not a power of two, and no count of groups that fills a node or pool".into(),
            "the solver's data-parallel group counts are powers of two (2, 4, 8, ...) and those whose groups fill a node or a pool (72 groups of 1 chip on a 72-chip pool)".into(),
        ),
        PinProblem::MoreThanExperts { value, experts } => (
            format!("{value} chips are more than the model's {experts} experts: each chip holds one at least"),
            format!("pin at most {experts}; a degree that does not divide the experts gives each chip ⌈{experts}/ep⌉ slots, some holding redundant copies"),
        ),
        PinProblem::NotDividing { value, dim, what } => {
            let what = match what {
                PinSplit::Heads => "attention heads",
                PinSplit::DraftHeads => "draft model's attention heads",
                PinSplit::Intermediate => "FFN's intermediate size",
                PinSplit::ExpertWidth => "experts' intermediate size",
                PinSplit::Experts => "experts",
            };
            (format!("{value} does not divide the {dim} {what}"), "pin a degree that divides it, or leave the degree to the solver".into())
        }
        PinProblem::PoolTooSmall { stage, largest } => (
            format!("the largest pool `{stage}` may use has {largest} chips"),
            "pin at most as many chips as a pool has, or add chips to the pool".into(),
        ),
        PinProblem::BeyondNode { stage, node } => (
            format!("a tensor-parallel group stays inside one node; the pools `{stage}` may use have nodes of at most {node} chips"),
            format!("pin a degree of at most {node}; groups over several nodes are data- or expert-parallel (`dp`, `ep`)"),
        ),
        PinProblem::NoLink { stage } => (
            format!("no pool `{stage}` may use has a scale-up link"),
            "give the pool a link (`pool gpu = h100_sxm x 8 over nvlink4`)".into(),
        ),
        PinProblem::TooManyGroups { dp, tp, largest } => (
            format!("{dp} groups of {tp} chips need {} chips; the largest pool has {largest}", tp * dp),
            "pin fewer groups or a smaller degree".into(),
        ),
        PinProblem::TooManyStages { most, layers } => (
            format!("a prefill pipeline has at most {most} stages here (16, and the model's {layers} layers)"),
            format!("pin at most {most} stages, or leave `pp` to the solver (docs/limits.md)"),
        ),
        PinProblem::TooManyStageChips { pp, tp, largest } => (
            format!("{pp} stages of {tp} chips need {} chips; the largest pool has {largest}", tp * pp),
            "pin fewer stages or a smaller degree".into(),
        ),
        PinProblem::ContextSplit { cp, tp: Some(tp), heads: _, kv_ways } => {
            let beyond = if tp % kv_ways == 0 { tp / kv_ways } else { 1 };
            (
                format!("`tp = {tp}` splits the KV cache {kv_ways} ways by its heads and {beyond} by context, not {cp}"),
                format!("pin `cp = {beyond}`, or a `tp` of {} chips", cp.saturating_mul(*kv_ways)),
            )
        }
        PinProblem::ContextSplit { cp, tp: None, heads, kv_ways } => (
            format!(
                "a context split of {cp} takes {cp} × {kv_ways} = {} chips, which do not divide the {heads} attention heads",
                cp.saturating_mul(*kv_ways)
            ),
            "pin a context split whose chips divide the heads, or leave `cp` to the solver".into(),
        ),
        PinProblem::ContextSplitChips { cp, kv_ways, largest } => (
            format!(
                "a context split of {cp} takes {cp} × {kv_ways} = {} chips; the largest pool has {largest}",
                cp.saturating_mul(*kv_ways)
            ),
            "pin a smaller split, or add chips to the pool".into(),
        ),
        PinProblem::TooManySplits { most } => (
            format!("a prompt splits by context over at most {most} groups"),
            format!("pin at most {most}, or leave `cp` to the solver (docs/limits.md)"),
        ),
        PinProblem::ContextSplitStages { pp } => (
            format!("each group of a prompt split by context runs every layer, not one of {pp} pipeline stages"),
            "pin `pp = 1` with `cp`, or leave one of them to the solver".into(),
        ),
        PinProblem::ExpertsBothWays { ep } => (
            format!("an MoE's experts are either whole on each chip (`ep = {ep}`) or each split by width over all of them (`tp`), not both"),
            "pin one of `tp` and `ep`, or leave the choice to the solver".into(),
        ),
    };
    make("E0410", span, format!("the pin `{pin}` cannot be honoured"), why, help)
}

/// Which architecture needs a model attribute (E0302).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeededFor<'a> {
    Mla,
    GroupedQuery,
    Moe,
    DenseLayers,
    /// the sliding-window attribute given without its partner
    Together(&'a str),
}

pub fn missing_model_attribute(span: Span, attr: &str, example: &str, why: NeededFor) -> Diagnostic {
    let why = match why {
        NeededFor::Mla => "for `attention = mla`".to_string(),
        NeededFor::GroupedQuery => "for grouped-query attention".to_string(),
        NeededFor::Moe => "for a mixture-of-experts model (`experts` is set)".to_string(),
        NeededFor::DenseLayers => "for the dense FFN layers".to_string(),
        NeededFor::Together(has) => format!("together with `{has}`"),
    };
    missing_attribute(span, attr, "model", example).note(format!("`{attr}` is required {why}"))
}
