//! Every diagnostic the compiler can emit: its code, title, long explanation
//! and the constructor that words it. Nothing outside this file writes
//! user-facing diagnostic text.

use super::{Diagnostic, Label, Severity};
use crate::source::Span;

mod infeasible;
mod inputs;
mod simulation;
pub use infeasible::*;
pub use inputs::*;
pub use simulation::*;

/// One entry of the catalog.
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
}

pub const CODES: &[CodeInfo] = &[
    CodeInfo { code: "E0001", title: "syntax error", explanation: "The text does not follow the grammar of .hplan files (grammar/hplan.pest).\nThe line is skipped and the rest of the file is still checked, so fix the first\nerror first: later ones may follow from it.\n\nExample:\n    chip x { capacity = }      // expected a value after `=`" },
    CodeInfo { code: "E0002", title: "unknown item kind", explanation: "A top-level block must start with one of the item keywords: chip, link, model,\ncluster, workload, plan or compare.\n\nExample:\n    chp h100 { ... }           // did you mean `chip`?" },
    CodeInfo { code: "E0003", title: "nesting too deep", explanation: "Blocks and lists may nest at most 32 levels deep. Deeper input is rejected\nrather than risking the compiler's stack." },
    CodeInfo { code: "E0004", title: "file too large", explanation: "A source file may be at most 8 MiB. Split large plans into several files and\nimport them with `use \"./other.hplan\"`." },
    CodeInfo { code: "E0101", title: "unknown name", explanation: "A name was used that is not declared in this file and not imported.\nDeclare it, import it (`use std::chips::h100_sxm`), or fix the spelling.\nThe compiler suggests the closest known name of the right kind." },
    CodeInfo { code: "E0102", title: "wrong kind of item", explanation: "A name refers to an item of another kind than the place needs, e.g. a link\nwhere a chip is expected in `pool gpu = nvlink4 x 8`." },
    CodeInfo { code: "E0103", title: "duplicate name", explanation: "Two items in one scope share a name, or an item has the same name as an\nimport. Rename one of them." },
    CodeInfo { code: "E0104", title: "unknown module", explanation: "A `use` names a module that does not exist. The standard library has\nstd::chips, std::links and std::models." },
    CodeInfo { code: "E0105", title: "unknown import", explanation: "A `use` names an item that the module does not declare." },
    CodeInfo { code: "E0106", title: "cyclic extension", explanation: "An item extends itself, directly or through other items\n(`chip a = b {}` and `chip b = a {}`). Break the cycle." },
    CodeInfo { code: "E0107", title: "import failed", explanation: "A `use \"path\"` could not be loaded: the file does not exist, is not a .hplan\nfile, leaves the importing file's folder tree, or imports itself in a cycle." },
    CodeInfo { code: "E0108", title: "extension chain too long", explanation: "An item extends another that extends another, more than 64 items deep\n(`chip a = b {}`, `chip b = c {}`, ...). Let an item nearer the end of the\nchain extend the first item directly, or write it out." },
    CodeInfo { code: "W0101", title: "unused import", explanation: "A name imported with `use` is never used in the file. Remove it, or use it.\nWarnings do not stop a build unless `-W`/`--deny-warnings` is given." },
    CodeInfo { code: "E0201", title: "unknown unit", explanation: "The unit after a number is not in the unit registry. Units are case-sensitive:\n`GB` is 10^9 bytes, `GiB` 2^30 bytes, `Gb` 10^9 bits. Known units: B, b/bit,\ns, ms, us/µs, ns, min, h, FLOP, FLOPS, W, J, $, tok, % and prefixed forms\n(k, M, G, T, P; Ki, Mi, Gi, Ti for bytes)." },
    CodeInfo { code: "E0202", title: "dimension mismatch", explanation: "A quantity has the wrong physical dimension for where it is used, e.g. a\nbandwidth written as a size (`bandwidth = 80 GB`). Every attribute has one\ndimension; the help says which factor is missing." },
    CodeInfo { code: "E0203", title: "value out of range", explanation: "A value is outside the range that makes sense for it: a negative capacity,\nan efficiency above 1, zero chips, a context longer than the model's limit." },
    CodeInfo { code: "E0204", title: "number not representable", explanation: "A number overflows to infinity or is not a number. Write it with a unit\nprefix instead (`3.35 TB/s`, not `3350000000000000000000000 B/s`)." },
    CodeInfo { code: "E0301", title: "unknown attribute", explanation: "The block does not have an attribute or sub-block of that name. The language\nreference (grammar/SPEC.md) lists every block's attributes." },
    CodeInfo { code: "E0302", title: "missing attribute", explanation: "The block lacks an attribute it requires. The language reference lists which\nattributes each block requires." },
    CodeInfo { code: "E0303", title: "duplicate attribute", explanation: "An attribute or sub-block is given twice in one block. Keep one." },
    CodeInfo { code: "E0304", title: "wrong kind of value", explanation: "An attribute got a value of the wrong kind, e.g. a string where a number with\na unit is expected." },
    CodeInfo { code: "E0305", title: "not allowed here", explanation: "A statement appears in a block kind that does not accept it, e.g. `place` in\na chip or `pool` in a plan." },
    CodeInfo { code: "E0307", title: "uncertainty not allowed here", explanation: "A figure was written with its uncertainty (`2 us ± 50%`, `2 us in [0.1 us,\n5 us]`) on an attribute the solver does not vary. Ranges are read on the inputs\nwhose values nobody may have published: a chip's price, power, fixed costs,\ncompute peaks and efficiencies, and a link's bandwidth and latency\n(docs/uncertainty.md). Write the figure alone here." },
    CodeInfo { code: "E0306", title: "unknown choice", explanation: "A value must be one of a fixed set of words (a precision like bf16/fp8/fp4,\na stage like prefill/decode.attn/decode.ffn, an objective like\ncost_per_mtok/tpot, an SLO metric like ttft/tpot)." },
    CodeInfo { code: "E0401", title: "model does not fit", explanation: "No configuration of a stage fits in the memory of the pools it may use:\nweights (sharded over the tensor-parallel degree) plus the KV cache for the\nworkload's context and concurrency exceed the chips' capacity. Use more chips,\na lower-precision format, a shorter context or lower concurrency." },
    CodeInfo { code: "E0402", title: "SLO cannot be met", explanation: "No placement in the configuration space meets this service-level objective.\nThe diagnostic gives the best value any placement reaches and what it is\nmade of. Relax the objective or give the plan faster chips or links." },
    CodeInfo { code: "E0403", title: "pools not linked", explanation: "Two stages that exchange data were placed on pools with no link between\nthem. Declare one in the cluster: `link gpu <-> lpu over spectrum_x`." },
    CodeInfo { code: "E0404", title: "precision not supported", explanation: "The chip declares no compute peak for the precision the model needs (or any\nwider one). Declare the peak in the chip's `compute` block, or choose another\nprecision for the model (`model = m { weights = fp8 }`)." },
    CodeInfo { code: "E0405", title: "missing price", explanation: "The plan minimizes cost (or maximizes throughput per dollar, or has a cost\nbudget) but a chip it may use has no `price`. Give the chip a\nprice, e.g. `chip r = std::chips::rubin { price = 6.0 $/h }`." },
    CodeInfo { code: "E0409", title: "missing power", explanation: "The plan minimizes power or maximizes tokens per MW, or has a power budget,\nbut a chip it may use has no `power`. Give the chip one, e.g.\n`chip l = std::chips::lp30 { power = 900 W }`." },
    CodeInfo { code: "E0406", title: "no feasible placement", explanation: "Every stage has configurations that fit on its own, but no combination of\nthem fits the cluster together (inventory, links, time limits). The\ndiagnostic lists what each combination ran into." },
    CodeInfo { code: "E0410", title: "pin cannot be honoured", explanation: "A pin after a `place` statement (`place decode.attn on gpu { tp = 4 }`) fixes a\ndecision the model or the pools cannot take: a tensor- or expert-parallel degree that\ndoes not divide the heads (the FFN's split dimension for decode.ffn) or exceeds every\npool the stage may use; a data-parallel group count that is not a power of two; data\nparallelism anywhere but decode.attn;\nexpert parallelism for a dense model; microbatches outside 1 to 8; a pin on a stage\nit does not apply to. A pin that is possible on its own but leaves no feasible\nplacement (the batch does not fit) is E0401 or E0406 with the pin labelled." },
    CodeInfo { code: "E0408", title: "draft model does not match", explanation: "Speculative decoding needs a draft model that shares the target's vocabulary\n(the target verifies the draft's token ids), and a `place draft on POOL` for it.\nLlama-3.2-1B drafts for Llama-3.1 models; most families ship a small sibling." },
    CodeInfo { code: "W0301", title: "rate not used", explanation: "A workload's `rate` sets the arrival rate `hplanc simulate` draws at. A plan with\npercentile SLOs or `maximize goodput` searches the rate instead (the highest that\nmeets its SLOs), so the workload's `rate` does not change its answer; its\n`burstiness` still shapes the arrivals the search draws (docs/simulation.md)." },
    CodeInfo { code: "W0401", title: "placement not proven optimal", explanation: "The ILP solver hit its time limit: the reported placement is the best found,\nnot proven optimal. The report's status is `feasible` instead of `optimal`." },
    CodeInfo { code: "W0403", title: "not every batch searched", explanation: "The solver searches every integer decode batch of the workload's concurrency\nrange, solving batches and bounding the ranges between them (docs/solver.md,\n\"Every batch\"). It solves at most 4,096 batches per search; when ranges whose\nbound could still beat the answer remain, the answer is the best found and the\nwarning says how far from the best over every batch it may be." },
    CodeInfo { code: "W0404", title: "no break-even in the range", explanation: "A compare block's `break_even { figure = ..., values = lo ..= hi }` solved both\nplans at each value tried and the same plan was better (or neither was feasible)\nat every one: the two do not trade places over this range of the figure, or they\ndo between two values tried and back again. Widen `values` or try more `points`\n(docs/uncertainty.md, \"Break-even on request\")." },
    CodeInfo { code: "W0402", title: "op table extrapolated", explanation: "The chosen placement prices some operation from a chip's measured op table at a\nshape outside the measured range (a longer context, a larger batch or GEMM):\nits time is the largest measured shape's, scaled by how much larger it is\n(docs/op-tables.md). The answer rests on that extrapolation; measure the shape\nand add it to the table to be sure." },
    CodeInfo { code: "E0501", title: "op table cannot be read", explanation: "A chip's `tables = \"FILE\"` names a file that cannot be read: it does not exist,\nis not a regular file, leaves the project folder, is larger than 8 MiB or is not\nUTF-8. The path is relative to the file that declares the chip.\nThe format is in docs/op-tables.md." },
    CodeInfo { code: "E0502", title: "malformed op table", explanation: "A row or the header of an op table is not in the documented format\n(docs/op-tables.md): a missing or unknown column, an unknown op or dtype, a\nvalue that is not a positive number, a shape given twice, or a table with no\nrows. A chip whose table has an error uses no table at all: a partial table\nnever silently replaces the roofline." },
    CodeInfo { code: "E0503", title: "op table is faster than the chip", explanation: "A GEMM row implies more FLOP/s than the chip's declared peak for that\nprecision: the table was measured on another chip, or its latencies are not in\nmicroseconds. Name the table of this chip, or fix the units." },
    CodeInfo { code: "E0504", title: "FP8 GEMM surplus the tables cannot take", explanation: "A chip's `fp8_gemm_surplus` is subtracted from every FP8 GEMM its op tables\nprice (docs/cost-model.md §9). It needs `tables` with FP8 GEMM rows, and it must\nbe less than the fastest of them: a GEMM takes some time." },
    CodeInfo { code: "E0602", title: "unreadable trace", explanation: "A workload's `trace = \"FILE\"` names a file that cannot be read: it must be a\nregular file of at most 8 MiB inside the project folder, named by a path relative\nto the file that names it (docs/simulation.md)." },
    CodeInfo { code: "E0601", title: "malformed trace", explanation: "A request trace (a workload's `trace`, or `hplanc simulate --trace`) has a line that is not a\nrequest: each line is `arrival_s,input_tokens,output_tokens` (seconds from the\nstart, non-decreasing; whole token counts of at least 1), with an optional\nheader line of those three names and `#` comments. The simulation does not run\nuntil every line reads (docs/simulation.md)." },
    CodeInfo { code: "E0411", title: "percentile SLO cannot be met", explanation: "The plan bounds a percentile (`ttft.p99 <= 2 s`) or maximises goodput, so it\nis solved with the request-level simulation in the loop: for each candidate\nconfiguration, the highest Poisson arrival rate at which the simulated requests\nmeet every SLO. No candidate meets this SLO even at 1% of its capacity: its\nlatency there is already over the limit. Relax the limit, or give the plan\nfaster chips (docs/simulation.md)." },
    CodeInfo { code: "E0412", title: "simulation failed", explanation: "The plan is solved with the request-level simulation in the loop, and the\nsimulation could not run: a drawn request is longer than the KV cache or the\nprefill chips hold, or the workload asks for more than a simulation may run.\nThe message says which (docs/simulation.md)." },
    CodeInfo { code: "E0407", title: "solver failed", explanation: "The ILP solver stopped without an answer (time limit without a feasible\nsolution, or an internal error). The message gives the solver's reason." },
];

pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

fn warning(code: &'static str, span: Span, message: String, label: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    let mut d = make(code, span, message, label, help);
    d.severity = Severity::Warning;
    d
}

fn make(code: &'static str, span: Span, message: String, label: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    debug_assert!(lookup(code).is_some(), "code {code} missing from the catalog");
    Diagnostic {
        code,
        severity: Severity::Error,
        message,
        primary: Label { span, message: label.into() },
        labels: vec![],
        notes: vec![],
        help: help.into(),
        fix: None,
    }
}

/// "did you mean `x`?" for the closest candidate within an edit distance of a third of
/// the name's length (at least 1, at most 3: rustc's rule), case-insensitively, with a
/// bonus for one being a prefix of the other. A name all of whose letters would change
/// (`zz0` for `fp4`) is not a misspelling.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let mut d = edit_distance(&lower, &cl);
        if d > 0 && (cl.starts_with(&lower) || lower.starts_with(&cl)) && lower.len().min(cl.len()) >= 3 {
            d = d.min(2);
        }
        let limit = (name.chars().count() / 3).clamp(1, 3);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal-string-alignment (restricted Damerau–Levenshtein) distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The help for a name that is not one of `candidates`: "did you mean `x`?" and `x` as
/// the fix (see [`Diagnostic::fix`]), or `otherwise` and no fix.
fn suggestion(name: &str, candidates: &[&str], otherwise: String) -> (String, Option<String>) {
    match did_you_mean(name, candidates.iter().copied()) {
        Some(s) => (format!("did you mean `{s}`?"), Some(s.to_string())),
        None => (otherwise, None),
    }
}

fn list_words(words: &[&str]) -> String {
    let mut v: Vec<&str> = words.to_vec();
    v.sort();
    v.dedup();
    v.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

// ------------------------------------------------------------------ syntax

pub fn unknown_escape(span: Span, c: char) -> Diagnostic {
    make(
        "E0001",
        span,
        format!("unknown escape `\\{c}` in a string"),
        "not an escape",
        "a string knows `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash",
    )
}

/// `skipped`: the text the parser skipped to recover, when it is more than the token.
pub fn syntax_error(span: Span, expected: String, found: String, skipped: Option<Span>) -> Diagnostic {
    let d = make(
        "E0001",
        span,
        format!("expected {expected}, found {found}"),
        format!("expected {expected} here"),
        "fix the syntax here; the rest of the line was skipped and the rest of the file is still checked",
    );
    match skipped {
        Some(s) => d.label(s, "this text was skipped"),
        None => d,
    }
}

pub fn unknown_item_kind(span: Span, kind: &str, known: &[&str]) -> Diagnostic {
    let (help, fix) = suggestion(kind, known, format!("an item starts with one of {}", list_words(known)));
    make("E0002", span, format!("unknown item kind `{kind}`"), "not an item keyword", help).fix(kind, fix)
}

pub fn nesting_too_deep(span: Span, max: usize) -> Diagnostic {
    make("E0003", span, format!("blocks nest more than {max} levels deep"), "nested too deeply", "flatten the structure")
}

pub fn file_too_large(span: Span, size: usize, max: usize) -> Diagnostic {
    make(
        "E0004",
        span,
        format!("the file is {size} bytes; the limit is {max}"),
        "file too large",
        "split it into several files and import them with `use \"./part.hplan\"`",
    )
}

// ------------------------------------------------------------------ names

pub fn unknown_name(span: Span, name: &str, expected_kind: &str, candidates: &[&str]) -> Diagnostic {
    let otherwise = if candidates.is_empty() {
        format!("declare {} {expected_kind} named `{name}` or import one with `use`", article(expected_kind))
    } else {
        format!("known {expected_kind}s: {}", list_words(&candidates[..candidates.len().min(12)]))
    };
    let (help, fix) = suggestion(name, candidates, otherwise);
    make("E0101", span, format!("unknown {expected_kind} `{name}`"), format!("no {expected_kind} of this name is in scope"), help)
        .fix(name, fix)
}

/// An item name not in scope: `in_std` is a stdlib module and item close to it that
/// the file did not import (`chips`, `h100_sxm`), offered when nothing in scope is close.
pub fn unknown_item(span: Span, name: &str, expected_kind: &str, candidates: &[&str], in_std: Option<(&str, &str)>) -> Diagnostic {
    let mut d = unknown_name(span, name, expected_kind, candidates);
    if let (None, Some((module, hit))) = (&d.fix, in_std) {
        d.help = format!("did you mean `std::{module}::{hit}`? import it with `use std::{module}::{hit}`");
    }
    d
}

pub fn wrong_kind(span: Span, name: &str, found: &str, expected: &str, decl: Span) -> Diagnostic {
    make(
        "E0102",
        span,
        format!("`{name}` is a {found}, not a {expected}"),
        format!("expected a {expected}"),
        format!("name a {expected} here"),
    )
    .label(decl, format!("`{name}` is declared as a {found} here"))
}

pub fn duplicate_item(span: Span, name: &str, first: Span) -> Diagnostic {
    make("E0103", span, format!("`{name}` is declared more than once"), "declared again here", "rename one of them")
        .label(first, "first declared here")
}

pub fn unknown_module(span: Span, module: &str, known: &[&str]) -> Diagnostic {
    let (help, fix) = suggestion(module, known, format!("modules: {}", list_words(known)));
    make("E0104", span, format!("unknown module `{module}`"), "no such module", help).fix(module, fix)
}

pub fn unknown_import(span: Span, name: &str, module: &str, known: &[&str]) -> Diagnostic {
    let (help, fix) = suggestion(name, known, format!("`{module}` declares {}", list_words(&known[..known.len().min(16)])));
    make("E0105", span, format!("`{module}` has no item `{name}`"), "not found in the module", help).fix(name, fix)
}

pub fn unused_import(span: Span, name: &str) -> Diagnostic {
    warning("W0101", span, format!("`{name}` is imported but never used"), "unused", "remove it from the `use`")
}

pub fn extends_cycle(span: Span, name: &str) -> Diagnostic {
    make(
        "E0106",
        span,
        format!("`{name}` extends itself"),
        "this extension leads back to the item",
        "make one item in the cycle stand on its own",
    )
}

pub fn extends_too_deep(span: Span, name: &str, max: usize) -> Diagnostic {
    make(
        "E0108",
        span,
        format!("`{name}` extends a chain of more than {max} items"),
        format!("this extension is the {}th in a row", max + 1),
        "let this item extend one nearer the end of the chain, or write it out",
    )
}

pub fn import_too_deep(span: Span, path: &str, max: usize) -> Diagnostic {
    make(
        "E0107",
        span,
        format!("cannot import `{path}`: imports nest more than {max} files deep"),
        "imported here",
        "import the deeper files directly from a file nearer the root",
    )
}

// ------------------------------------------------------------------ op tables

// ------------------------------------------------------------------ traces

const TRACE_LINE: &str = "each line is `arrival_s,input_tokens,output_tokens`, e.g. `0.25,2048,512`";

pub fn trace_cells(span: Span, found: usize) -> Diagnostic {
    make("E0601", span, format!("a trace line has {found} fields, not 3"), "not a request", TRACE_LINE)
}

pub fn trace_not_a_number(span: Span, column: &str, text: &str) -> Diagnostic {
    make(
        "E0601",
        span,
        format!("`{text}` is not a number ({column})"),
        "not a number",
        format!("{TRACE_LINE}; a header line may name the columns, once, first"),
    )
}

pub fn trace_arrival(span: Span, text: &str) -> Diagnostic {
    make(
        "E0601",
        span,
        format!("the arrival time `{text}` is negative or not finite"),
        "not a time",
        "arrival times are seconds from the start of the trace, 0 or more",
    )
}

pub fn trace_length(span: Span, column: &str, text: &str, max: u64) -> Diagnostic {
    make(
        "E0601",
        span,
        format!("`{text}` is not a token count ({column})"),
        "not a whole number of tokens",
        format!("lengths are whole numbers of tokens from 1 to {max}"),
    )
}

pub fn trace_out_of_order(span: Span, time: f64, earlier: f64) -> Diagnostic {
    make(
        "E0601",
        span,
        format!("this request arrives at {time} s, before the line above ({earlier} s)"),
        "earlier than the line above",
        "sort the trace by arrival time",
    )
}

pub fn arrivals_twice(span: Span, first: Span) -> Diagnostic {
    make(
        "E0305",
        span,
        "a workload's requests arrive one way: a `rate` or a `trace`, not both".to_string(),
        "a second arrival process",
        "keep `rate` (and `burstiness`) for drawn arrivals, or `trace` for recorded ones",
    )
    .label(first, "the first")
}

pub fn burstiness_of_a_trace(span: Span) -> Diagnostic {
    make(
        "E0305",
        span,
        "`burstiness` shapes drawn arrivals; a trace has its own".to_string(),
        "not used with a trace",
        "remove `burstiness`, or draw arrivals with `rate` instead of the trace",
    )
}

pub fn trace_empty(span: Span) -> Diagnostic {
    make("E0601", span, "the trace has no requests".to_string(), "empty trace", TRACE_LINE)
}

pub fn trace_too_long(span: Span, max: u64) -> Diagnostic {
    make(
        "E0601",
        span,
        format!("the trace has more than {max} requests"),
        "one request too many",
        format!("simulate at most {max} requests: cut the trace, or sample it"),
    )
}

/// `fp8_gemm_surplus` on a chip whose tables cannot take it: `fastest` is the table's
/// fastest FP8 GEMM row, `None` when it has none (or there is no table).
pub fn fp8_surplus_unusable(span: Span, chip: &str, surplus: &str, fastest: Option<&str>, tables: Option<Span>) -> Diagnostic {
    let (message, label, help) = match (tables, fastest) {
        (None, _) => (
            format!("`{chip}` has an FP8 GEMM surplus but no op tables"),
            "nothing to subtract it from",
            "the surplus is what each FP8 GEMM row of `tables` carries beyond a deployment; name the chip's table, or leave the surplus out".to_string(),
        ),
        (Some(_), None) => (
            format!("`{chip}`'s op tables have no FP8 GEMM rows to take its FP8 GEMM surplus"),
            "no FP8 GEMM row",
            "leave the surplus out, or add the table's FP8 GEMM rows".to_string(),
        ),
        (Some(_), Some(f)) => (
            format!("an FP8 GEMM surplus of {surplus} is not less than `{chip}`'s fastest FP8 GEMM row, {f}"),
            "as much as a whole GEMM",
            format!("a GEMM takes some time: the surplus must be below {f}; it is the part of each row a deployment does not pay (a separately timed activation quantisation)"),
        ),
    };
    let d = make("E0504", span, message, label, help);
    match tables {
        Some(t) => d.label(t, "the op tables"),
        None => d,
    }
}

pub fn table_faster_than_chip(span: Span, chip: &str, implied: &str, peak: &str) -> Diagnostic {
    make(
        "E0503",
        span,
        format!("this GEMM runs at {implied}, faster than `{chip}`'s peak of {peak}"),
        "faster than the chip can compute",
        "the table was measured on another chip, or its latencies are not in microseconds (`latency_us`)",
    )
}

// ------------------------------------------------------------------ units

/// Why a unit is not one, when the units phase knows more than "unknown".
#[derive(Clone, Debug, PartialEq)]
pub enum UnitHint {
    /// an exponent out of range, written or combined (the bound)
    Exponent(i8),
    /// `KB` or `Kb`: 1000 or 1024?
    AmbiguousK { bits: bool },
    /// `TFLOPs`: a rate or an amount (the prefix)
    Flops(String),
    /// `sec`
    Seconds,
    /// `GBps`: a byte rate (the byte unit)
    BytesPerSecond(String),
}

impl UnitHint {
    fn text(&self) -> String {
        match self {
            UnitHint::Exponent(max) => format!(
                "a unit's exponent is a whole number from -{max} to {max} other than 0 (e.g. `B*s^-1`), and so is each base unit's in the whole expression"
            ),
            UnitHint::AmbiguousK { bits: false } => "`KB` is ambiguous: write `kB` (1000 B) or `KiB` (1024 B)".into(),
            UnitHint::AmbiguousK { bits: true } => "`Kb` is ambiguous: write `kb` (1000 bits) or `Kib`... better `kB`/`KiB` for bytes".into(),
            UnitHint::Flops(p) => format!("write `{p}FLOP/s` for a rate or `{p}FLOP` for an amount"),
            UnitHint::Seconds => "write `s` for seconds".into(),
            UnitHint::BytesPerSecond(u) => format!("write `{u}/s` for a rate"),
        }
    }
}

pub fn unknown_unit(span: Span, unit: &str, hint: Option<UnitHint>, known: &[&str]) -> Diagnostic {
    let (help, fix) = match hint {
        Some(h) => (h.text(), None),
        None => suggestion(unit, known, "write a known unit such as B, GB, GiB, B/s, s, ms, FLOP/s, W, $/h or tok".into()),
    };
    make("E0201", span, format!("unknown unit `{unit}`"), "not a unit", help).fix(unit, fix)
}

pub fn dimension_mismatch(span: Span, what: &str, expected: &str, found: &str, hint: String) -> Diagnostic {
    make("E0202", span, format!("{what} must be {expected}, found {found}"), format!("this is {found}"), hint)
}

/// What a value must do, said two ways: "`x` must be greater than zero" in the message,
/// "use a value that is greater than zero" in the help. The common rules have
/// constructors here; a rule with its own reason gives its predicate to [`Rule::be`].
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    verb: Verb,
    rest: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Verb {
    Be,
    NotBe,
    Fit,
    Give,
    Divide,
}

impl Rule {
    /// "must be {rest}" / "is {rest}"
    pub fn be(rest: impl Into<String>) -> Rule {
        Rule { verb: Verb::Be, rest: rest.into() }
    }
    /// "must fit {rest}" / "fits {rest}"
    pub fn fit(rest: impl Into<String>) -> Rule {
        Rule { verb: Verb::Fit, rest: rest.into() }
    }
    /// "must divide {rest}" / "divides {rest}"
    pub fn divide(rest: impl Into<String>) -> Rule {
        Rule { verb: Verb::Divide, rest: rest.into() }
    }
    /// "must give {rest}" / "gives {rest}"
    pub fn give(rest: impl Into<String>) -> Rule {
        Rule { verb: Verb::Give, rest: rest.into() }
    }
    pub fn positive() -> Rule {
        Rule::be("greater than zero")
    }
    pub fn not_negative() -> Rule {
        Rule { verb: Verb::NotBe, rest: "negative".into() }
    }
    pub fn fraction() -> Rule {
        Rule::be("greater than 0 and at most 1")
    }
    pub fn whole() -> Rule {
        Rule::be("a whole number")
    }
    pub fn at_least(x: impl std::fmt::Display) -> Rule {
        Rule::be(format!("at least {x}"))
    }
    pub fn at_most(x: impl std::fmt::Display) -> Rule {
        Rule::be(format!("at most {x}"))
    }
    pub fn between(lo: impl std::fmt::Display, hi: impl std::fmt::Display) -> Rule {
        Rule::be(format!("between {lo} and {hi}"))
    }

    /// "must be ...", for the message
    fn must(&self) -> String {
        let verb = match self.verb {
            Verb::Be => "must be",
            Verb::NotBe => "must not be",
            Verb::Fit => "must fit",
            Verb::Give => "must give",
            Verb::Divide => "must divide",
        };
        format!("{verb} {}", self.rest)
    }

    /// "is ...", for the help
    fn holds(&self) -> String {
        let verb = match self.verb {
            Verb::Be => "is",
            Verb::NotBe => "is not",
            Verb::Fit => "fits",
            Verb::Give => "gives",
            Verb::Divide => "divides",
        };
        format!("{verb} {}", self.rest)
    }
}

pub fn uncertainty_not_allowed(span: Span, what: &str, block: &str) -> Diagnostic {
    make(
        "E0307",
        span,
        format!("{what} of a {block} cannot carry an uncertainty"),
        "a range the solver would not vary",
        "write the figure alone; ranges belong on a chip's price, power, fixed costs, compute peaks and efficiencies, and a link's bandwidth and latency",
    )
}

pub fn out_of_range(span: Span, what: &str, rule: Rule) -> Diagnostic {
    make("E0203", span, format!("{what} {}", rule.must()), "out of range", format!("use a value that {}", rule.holds()))
}

pub fn not_finite(span: Span) -> Diagnostic {
    make(
        "E0204",
        span,
        "this number is too large to represent".into(),
        "overflows",
        "write it with a unit prefix (k, M, G, T, P) so it stays within range",
    )
}

// ------------------------------------------------------------------ schema

/// Where a misplaced attribute belongs: `attr` of the sub-block `block`.
pub struct InBlock<'a> {
    pub attr: &'a str,
    pub block: &'a str,
    /// the block takes a name (`memory hbm { ... }`)
    pub labelled: bool,
}

pub fn unknown_attribute(span: Span, name: &str, block: &str, known: &[&str], in_block: Option<InBlock>) -> Diagnostic {
    let otherwise = match in_block {
        Some(InBlock { attr, block: sub, labelled }) => {
            let label = if labelled { " <name>" } else { "" };
            format!("`{attr}` is an attribute of the `{sub}` block: write it inside `{sub}{label} {{ ... }}`")
        }
        None => format!("`{block}` accepts {}", list_words(known)),
    };
    let (help, fix) = suggestion(name, known, otherwise);
    make("E0301", span, format!("unsupported attribute `{name}` in {block}"), "unknown here", help).fix(name, fix)
}

pub fn missing_attribute(span: Span, name: &str, block: &str, example: &str) -> Diagnostic {
    make(
        "E0302",
        span,
        format!("missing required attribute `{name}` in {block}"),
        format!("this {block} has no `{name}`"),
        format!("add `{name} = {example}`"),
    )
}

/// `serving = aggregated` where no pool may take prefill and both decode stages;
/// `places`: each stage's `place` statement, its name and the pools it may use.
pub fn aggregated_without_common_pool(span: Span, places: &[(Span, &str, Vec<&str>)]) -> Diagnostic {
    let mut d = not_allowed_in(
        span,
        "`serving = aggregated`",
        "a plan where no pool may take prefill, decode.attn and decode.ffn together",
        "aggregated serving runs prefill chunks inside the decode steps on the same chips: place `prefill`, `decode.attn` and `decode.ffn` on a common pool",
    );
    for (at, stage, pools) in places {
        let names: Vec<String> = pools.iter().map(|p| format!("`{p}`")).collect();
        d = d.label(*at, format!("`{stage}` may use {}", names.join(", ")));
    }
    d
}

/// A chip's `compute` block with no dense peak.
pub fn no_compute_peak(span: Span) -> Diagnostic {
    missing_attribute(span, "bf16", "compute block", "989 TFLOP/s")
        .note("a chip needs at least one dense peak (fp4, fp8, int8, bf16, fp16 or fp32)")
}

/// An attribute a model needs for its architecture (`why`: "for gqa").
/// A cluster with no pool.
pub fn cluster_without_pool(span: Span) -> Diagnostic {
    missing_attribute(span, "pool", "cluster", "").note("add a pool: `pool gpu = std::chips::h100_sxm x 8 over std::links::nvlink4`")
}

/// A sub-block that takes a name written without one (`memory { ... }`).
pub fn unnamed_block(span: Span, keyword: &str) -> Diagnostic {
    wrong_value(span, &format!("a `{keyword}` block"), "named", "no name")
        .note(format!("write `{keyword} <name> {{ ... }}`, e.g. `{keyword} hbm {{ ... }}`"))
}

/// A count above its bound (`rule`), and what it is.
pub fn count_too_large(span: Span, what: &str, rule: Rule, found: impl std::fmt::Display) -> Diagnostic {
    out_of_range(span, what, rule).note(format!("it is {found}"))
}

/// A sweep of more values than a sweep may have.
pub fn sweep_too_long(span: Span, max: usize, found: u64) -> Diagnostic {
    out_of_range(span, "the sweep", Rule::give(format!("at most {max} values"))).note(format!("this range and step give {found}"))
}

/// A sweep block varying two things at once.
pub fn sweep_two_variables(span: Span, first: Span) -> Diagnostic {
    not_allowed_in(span, "a second variable", "a sweep block", "a sweep varies one thing; write a second plan for the other")
        .label(first, "the sweep's variable")
}

/// A sweep's `figure = "ITEM.FIGURE"` whose item is no chip or link of the plan's
/// cluster (`figure` None), or whose figure that item does not have (`figure` Some:
/// `candidates` are the item's figures, written whole).
pub fn unknown_swept_figure(span: Span, item: &str, figure: Option<&str>, cluster: &str, candidates: &[&str]) -> Diagnostic {
    let (message, label, otherwise) = match figure {
        None => (
            format!("`{item}` is no chip or link of cluster `{cluster}`"),
            "not in the plan's cluster".to_string(),
            format!("name a chip or link of its pools: {}", list_words(candidates)),
        ),
        Some(f) => (
            format!("`{item}` has no figure `{f}` a sweep can vary"),
            format!("no figure `{f}` here"),
            format!("its figures: {}", list_words(candidates)),
        ),
    };
    let name = figure.map_or(item.to_string(), |f| format!("{item}.{f}"));
    let (help, _) = suggestion(&name, candidates, otherwise);
    make("E0101", span, message, label, help)
}

/// The workload's context past the model's `max_context`.
pub fn context_too_long(span: Span, max: u64, ctx: u64, model: Span) -> Diagnostic {
    out_of_range(
        span,
        "the workload's context (input + output)",
        Rule::fit(format!("the model's max_context of {max} tokens, but is {ctx}")),
    )
    .label(model, "the model is used here")
}

pub fn missing_block(span: Span, keyword: &str, block: &str, example: &str) -> Diagnostic {
    make(
        "E0302",
        span,
        format!("missing required block `{keyword}` in {block}"),
        format!("this {block} has no `{keyword}` block"),
        format!("add a block `{example}`"),
    )
}

pub fn duplicate_attribute(span: Span, name: &str, first: Span) -> Diagnostic {
    make("E0303", span, format!("`{name}` is given more than once"), "given again here", "keep one of them")
        .label(first, "first given here")
}

pub fn wrong_value(span: Span, what: &str, expected: &str, found: &str) -> Diagnostic {
    make(
        "E0304",
        span,
        format!("{what} must be {expected}, found {found}"),
        format!("expected {expected}"),
        format!("write {expected} here"),
    )
}

fn not_allowed_in(span: Span, what: &str, block: &str, hint: &str) -> Diagnostic {
    make("E0305", span, format!("{what} is not allowed in {block}"), "not allowed here", hint.to_string())
}

/// Where a statement or a block belongs, when it stands elsewhere (E0305).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Belongs {
    /// pools and links
    Cluster,
    /// `place` and objectives
    Plan,
    /// constraints
    Slo,
}

/// Something written where the language does not take it (E0305).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Misplaced<'a> {
    /// `unit`, `prefix` or `dimension` outside the standard library
    UnitDeclaration {
        keyword: &'a str,
    },
    /// a statement (`what`: its description) in a block of kind `block` that does not take it
    Statement {
        what: &'a str,
        block: &'a str,
        belongs: Belongs,
    },
    /// a name on a sub-block that takes none
    BlockName {
        keyword: &'a str,
    },
    SelfLink,
    PipelineTooManyPools {
        pools: usize,
        max: usize,
    },
    /// a layer pipeline whose pools come in too many kinds for the exact partition
    PipelineTooManyKinds {
        pools: usize,
        kinds: usize,
        states: usize,
        max: usize,
    },
    DraftWithoutSpeculate,
    AggregatedWithSpeculate,
    /// a `speculate` block in a plan whose model serves several variants in turn
    SpeculateWithVariants,
    /// `variants` on a speculate block's draft model
    DraftWithVariants,
    BaselineInPlans,
    PointsWithStep,
    StepOnPerUserSweep,
    StepOnFigureSweep,
    BreakEvenAcrossObjectives,
    /// an override block on a plan's `cluster = c` or `workload = w`
    Override {
        keyword: &'a str,
    },
}

pub fn not_allowed(span: Span, m: &Misplaced) -> Diagnostic {
    let (what, block, hint): (String, String, String) = match *m {
        Misplaced::UnitDeclaration { keyword } => (
            format!("declaring a `{keyword}`"),
            "a plan file".into(),
            "units, prefixes and dimensions are declared in the standard library's units.hplan; write quantities with the units it defines"
                .into(),
        ),
        Misplaced::Statement { what, block, belongs } => (
            what.into(),
            block.into(),
            match belongs {
                Belongs::Cluster => "pools and links between pools belong in a `cluster`",
                Belongs::Plan => "`place` and `minimize` belong in a `plan`",
                Belongs::Slo => "constraints belong in a plan's `slo { ... }` block",
            }
            .into(),
        ),
        Misplaced::BlockName { keyword } => ("a name".into(), format!("a `{keyword}` block"), format!("write `{keyword} {{ ... }}`")),
        Misplaced::SelfLink => (
            "a link from a pool to itself".into(),
            "cluster".into(),
            "chips within a pool talk over the pool's own link: `pool x = chip x 8 over <link>`".into(),
        ),
        Misplaced::PipelineTooManyPools { pools, max } => (
            format!("a layer pipeline over {pools} pools"),
            "`place decode.layers`".into(),
            format!("name at most {max} pools: `place decode.layers on any [a, b, ...]`"),
        ),
        Misplaced::PipelineTooManyKinds { pools, kinds, states, max } => (
            format!("a layer pipeline over {pools} pools of {kinds} kinds"),
            "`place decode.layers`".into(),
            format!(
                "the exact partition holds (n₁+1)·…·(n_k+1)·k = {states} states per layer for pools in kinds of n₁, …, n_k (pools of one kind have the same chip, count, links and placements); at most {max}: name fewer pools, or fewer kinds"
            ),
        ),
        Misplaced::DraftWithoutSpeculate => (
            "`place draft`".into(),
            "a plan without a `speculate` block".into(),
            "add `speculate { draft = <model>, lookahead = 4, acceptance = 0.7 }`, or remove this line".into(),
        ),
        Misplaced::AggregatedWithSpeculate => (
            "`serving = aggregated`".into(),
            "a plan with a `speculate` block".into(),
            "the draft and verify steps run on their own chips; use `serving = disaggregated` or remove the `speculate` block".into(),
        ),
        Misplaced::SpeculateWithVariants => (
            "a `speculate` block".into(),
            "a plan whose model serves several variants (`variants` above 1)".into(),
            "each variant would need a draft of its own, which is not modelled: serve one model, or remove the `speculate` block".into(),
        ),
        Misplaced::DraftWithVariants => (
            "`variants`".into(),
            "a draft model".into(),
            "a draft drafts for the one target model: remove `variants` from the draft".into(),
        ),
        Misplaced::BaselineInPlans => {
            ("the baseline".into(), "the compared `plans`".into(), "the baseline is compared with every plan listed; remove it here".into())
        }
        Misplaced::PointsWithStep => (
            "`points` together with `step`".into(),
            "a sweep block".into(),
            "keep one: `step` spaces values evenly, `points` on a log scale".into(),
        ),
        Misplaced::StepOnPerUserSweep => (
            "`step`".into(),
            "a sweep over `tokens_per_s_per_user`".into(),
            "use `points = N` (values spaced evenly on a log scale)".into(),
        ),
        Misplaced::BreakEvenAcrossObjectives => (
            "a break-even".into(),
            "a comparison of plans with different objectives".into(),
            "two plans trade places only on one objective: give the compared plans the same `minimize` or `maximize`".into(),
        ),
        Misplaced::StepOnFigureSweep => (
            "`step`".into(),
            "a sweep over a figure".into(),
            "use `points = N` (values spaced evenly on a log scale, or evenly from a low end of 0)".into(),
        ),
        Misplaced::Override { keyword } => (
            format!("overriding a {keyword}"),
            "a plan".into(),
            format!("declare a new {keyword} that extends it: `{keyword} mine = base {{ ... }}`"),
        ),
    };
    not_allowed_in(span, &what, &block, &hint)
}

/// An objective not of this direction: `other` is the direction it has, if any.
pub fn unknown_objective(span: Span, name: &str, maximize: bool, choices: &[&str], other: Option<&str>) -> Diagnostic {
    let what = if maximize { "objective to maximize" } else { "objective to minimize" };
    let mut d = unknown_choice(span, name, what, choices);
    if let Some(dir) = other {
        d.help = format!("`{name}` is {dir}d: write `{dir} {name}`");
        d.fix = None;
    }
    d
}

pub fn unknown_choice(span: Span, value: &str, what: &str, choices: &[&str]) -> Diagnostic {
    let (help, fix) = suggestion(value, choices, format!("{what} is one of {}", list_words(choices)));
    make("E0306", span, format!("unknown {what} `{value}`"), format!("not {} {what}", article(what)), help).fix(value, fix)
}

pub fn percentile_slo_unmet(span: Span, slo: &str, reached: &str, rate: &str) -> Diagnostic {
    make(
        "E0411",
        span,
        format!("no configuration meets `{slo}` at any arrival rate"),
        format!("{reached} at {rate}, 1% of the closest configuration's capacity"),
        "relax the limit, or give the plan faster chips; `hplanc simulate` shows the distribution",
    )
}

pub fn simulation_failed(span: Span, reason: &SimProblem) -> Diagnostic {
    make(
        "E0412",
        span,
        format!("the simulation of this plan failed: {reason}"),
        "simulated with this workload",
        "shorten the workload's lengths or its `spread`, or lower its `requests`",
    )
}

pub fn rate_searched(span: Span, plan: &str) -> Diagnostic {
    warning(
        "W0301",
        span,
        format!("plan `{plan}` searches the arrival rate; this `rate` is used only by `hplanc simulate`"),
        "not the rate the plan is solved at",
        "keep it for `hplanc simulate`, or remove it; the plan reports the highest rate that meets its SLOs",
    )
}

pub fn goodput_without_slo(span: Span) -> Diagnostic {
    make(
        "E0305",
        span,
        "`goodput` counts the requests that meet the plan's SLOs, and it has none".to_string(),
        "needs an `slo` block",
        "add an `slo` block, e.g. `slo { ttft.p99 <= 2 s, tpot.p99 <= 200 ms }`",
    )
}

pub fn spread_without_lengths(span: Span) -> Diagnostic {
    make(
        "E0305",
        span,
        "`spread` needs lengths that vary".to_string(),
        "fixed lengths have no spread",
        "add `lengths = lognormal` (or `uniform`), or remove `spread`",
    )
}

pub fn prefix_reuse_without_prefix(span: Span, attr: &str) -> Diagnostic {
    make(
        "E0305",
        span,
        format!("`{attr}` needs a shared `prefix`"),
        "no prefix to reuse",
        "add `prefix = N tok` (the tokens every prompt begins with), or remove this line",
    )
}

pub fn percentile_of_rate(span: Span, p: &str) -> Diagnostic {
    make(
        "E0306",
        span,
        format!("`tokens_per_s_per_user` has no percentiles (`{p}`)"),
        "not a percentile of this metric",
        "bound a percentile of the time per token instead: `tpot.p99 <= 50 ms` gives 99% of requests at least 20 tok/s",
    )
}

/// "a" or "an" before a word (by its first letter: these are English nouns of the
/// language, none with a silent consonant or a sounded vowel).
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

// ------------------------------------------------------------------ plans

/// `unlinked`: the closest option's pool, when it has more chips than the option uses
/// but no scale-up link to combine them: (pool, its chips).
/// What the memory of a stage holds, for [`model_does_not_fit`]'s note.
pub struct Footprint<'a> {
    pub weights: &'a str,
    pub weights_precision: &'a str,
    pub kv_per_token: &'a str,
    pub kv_precision: &'a str,
    pub context: u64,
    pub concurrency: u64,
}

/// The weight format below `precision` a plan can ask for (`{ weights = ... }`): fp8
/// below 16- and 32-bit formats, fp4 below 8-bit ones; none below fp4.
fn lower_precision(precision: &str) -> Option<&'static str> {
    match precision {
        "fp32" | "bf16" | "fp16" => Some("fp8"),
        "fp8" | "int8" => Some("fp4"),
        _ => None,
    }
}

fn model_does_not_fit_alone(span: Span, stage: &str, need: &str, best: &str, unlinked: Option<(&str, u64)>, precision: &str) -> Diagnostic {
    let lower = lower_precision(precision).map_or(String::new(), |p| format!("a lower precision (`{{ weights = {p} }}`), "));
    let help = match unlinked {
        Some((pool, n)) => format!(
            "the largest option offers {best}: pool `{pool}` has {n} chips but no scale-up link, so tensor parallelism cannot split the model over them; \
             give it one (`pool {pool} = ... x {n} over LINK`), or use {lower}a shorter context or lower concurrency"
        ),
        None => format!("the largest option offers {best}; use more chips, {lower}a shorter context or lower concurrency"),
    };
    make("E0401", span, format!("the model does not fit for stage `{stage}`"), format!("`{stage}` needs {need}"), help)
}

/// Two pools that must exchange data with no link between them (`cluster`: its
/// declaration).
pub fn pools_not_linked(span: Span, a: &str, b: &str, cluster: Span) -> Diagnostic {
    make(
        "E0403",
        span,
        format!("no link between pools `{a}` and `{b}`"),
        "these stages must exchange data",
        format!("declare one in the cluster: `link {a} <-> {b} over <link>`"),
    )
    .label(cluster, "cluster declared here")
}

/// The model's weights (or, `activations`, its activations) at a precision the chip
/// declared at `decl` cannot compute.
pub fn precision_unsupported(span: Span, chip: &str, precision: &str, have: &[&str], decl: Span, activations: bool) -> Diagnostic {
    let what = if activations { "activations (attention runs at this precision)" } else { "weights" };
    make(
        "E0404",
        span,
        format!("chip `{chip}` has no compute for `{precision}` or any wider precision"),
        format!("`{chip}` declares {}", list_words(have)),
        format!("declare `{precision}` in the chip's `compute` block or pick a precision it supports"),
    )
    .label(decl, "declared here")
    .note(format!("the model's {what} are {precision}"))
}

/// A pool whose chip has no price: `used` is the pool (its span and name).
pub fn missing_price(span: Span, chip: &str, decl: Span, used: (Span, &str)) -> Diagnostic {
    make(
        "E0405",
        span,
        format!("chip `{chip}` has no price, and this plan needs one"),
        "the objective or budget needs every chip's price",
        format!("give it one: `chip {chip}_priced = {chip} {{ price = 3.5 $/h }}`, and use that chip in the pool"),
    )
    .label(decl, format!("`{chip}` is declared here without `price`"))
    .label(used.0, format!("pool `{}` uses it", used.1))
}

/// A pool whose chip has no power figure: `used` is the pool (its span and name).
pub fn missing_power(span: Span, chip: &str, decl: Span, used: (Span, &str)) -> Diagnostic {
    make(
        "E0409",
        span,
        format!("chip `{chip}` has no power figure, and this plan needs one"),
        "the objective or budget needs every chip's power",
        format!(
            "give it one: `chip {chip}_rated = {chip} {{ power = 1000 W }}` (or its power as deployed, `system_power = 1.8 kW`), and use that chip in the pool"
        ),
    )
    .label(decl, format!("`{chip}` is declared here without `power` or `system_power`"))
    .label(used.0, format!("pool `{}` uses it", used.1))
}

pub fn draft_mismatch(span: Span, draft: &str, target: &str, why: &str) -> Diagnostic {
    make(
        "E0408",
        span,
        format!("`{draft}` cannot draft for `{target}`: {why}"),
        "the draft model",
        "draft with a model of the same family and tokenizer, e.g. `std::models::llama3_2_1b` for Llama-3.1",
    )
}

/// A draft whose vocabulary is not the target's (`target_at`: the plan's `model = ...`).
pub fn draft_vocabulary(span: Span, draft: &str, target: &str, draft_vocab: u64, target_vocab: u64, target_at: Span) -> Diagnostic {
    draft_mismatch(span, draft, target, &format!("its vocabulary has {draft_vocab} tokens, the target's {target_vocab}"))
        .label(target_at, "the target model")
}

pub fn draft_unplaced(span: Span, draft: &str) -> Diagnostic {
    make(
        "E0408",
        span,
        format!("the draft model `{draft}` has no pool"),
        "speculative decoding declared here",
        "add `place draft on <pool>` (or `on auto`) to the plan",
    )
}

/// How far a stopped solve's best placement may be from the optimum, in words: the
/// solver's relative gap as a percentage, or, where that is no measure (above 100%,
/// which a near-zero objective makes astronomically large, or not a number), say so.
pub fn gap_phrase(gap: f64) -> String {
    if gap.is_finite() && (0.0..=1.0).contains(&gap) {
        format!("within {:.2}% of the best proven bound", 100.0 * gap)
    } else {
        "more than 100% from the best proven bound".to_string()
    }
}

pub fn not_proven_optimal(span: Span, limit: &str, gap: Option<f64>) -> Diagnostic {
    let within = match gap {
        Some(g) => format!("; it is {}", gap_phrase(g)),
        None => "; no bound was proven, so its gap is unknown".to_string(),
    };
    warning(
        "W0401",
        span,
        format!("the placement is the best found in {limit} per solve, not proven optimal{within}"),
        "solved to the time limit",
        "raise `time_limit`, shrink the configuration space (fewer pools on `auto`, a narrower concurrency range), or solve with a faster backend",
    )
}

pub fn batches_not_searched(span: Span, solved: usize, gap: Option<f64>) -> Diagnostic {
    let within = match gap {
        Some(g) => format!("; it is {} over the batches not solved", gap_phrase(g)),
        None => "; the batches not solved have no useful bound".to_string(),
    };
    warning(
        "W0403",
        span,
        format!("the search over the concurrency range stopped after {solved} batches: the placement is the best found, not proven optimal over every batch{within}"),
        "searched to the bound",
        "narrow the concurrency range or pin the concurrency (`concurrency = N ..= N`) near the answer",
    )
}

/// A requested break-even with no crossing among the `tried` values of `range` (as
/// written: "$0.05/h to $2.00/h") between plans `a` and `b`: `better` is the plan better
/// at every one (None: they tie, or neither is feasible, at every one).
pub fn no_break_even(span: Span, figure: &str, range: &str, tried: usize, [a, b]: [&str; 2], better: Option<&str>) -> Diagnostic {
    let message = match better {
        Some(p) => {
            format!("`{p}` is better at every value of {figure} tried ({tried} from {range}): `{a}` and `{b}` do not trade places there")
        }
        None => format!("`{a}` and `{b}` tie, or neither is feasible, at every value of {figure} tried ({tried} from {range})"),
    };
    warning(
        "W0404",
        span,
        message,
        "no break-even in this range",
        "widen `values`, or try more `points` if the two might trade places and back between two of them",
    )
}

pub fn table_extrapolated(span: Span, tables: &[(Span, String)]) -> Diagnostic {
    let mut d = warning(
        "W0402",
        span,
        "the chosen placement prices some operations outside their op table's measured range".to_string(),
        "solved with extrapolated table lookups",
        "add rows measured at the plan's shapes (its context, batch and GEMM sizes) to the table; the report says how much of each stage came from tables",
    );
    for (at, file) in tables {
        d = d.label(*at, format!("`{file}` is extrapolated"));
    }
    d
}

pub fn solver_failed(span: Span, reason: &str) -> Diagnostic {
    make(
        "E0407",
        span,
        format!("the placement solver failed: {reason}"),
        "while solving this plan",
        "report this with the input file; `hplanc check` still validates the rest",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_reads_as_a_demand_in_the_message_and_a_fact_in_the_help() {
        let span = Span::new(crate::source::FileId(0), 0, 1);
        let said = |r: Rule| {
            let d = out_of_range(span, "`x`", r);
            (d.message, d.help)
        };
        assert_eq!(said(Rule::positive()), ("`x` must be greater than zero".into(), "use a value that is greater than zero".into()));
        assert_eq!(said(Rule::not_negative()), ("`x` must not be negative".into(), "use a value that is not negative".into()));
        assert_eq!(said(Rule::divide("`heads` (64)")).1, "use a value that divides `heads` (64)");
        assert_eq!(said(Rule::fit("the model's max_context")).0, "`x` must fit the model's max_context");
        assert_eq!(said(Rule::give("at most 4096 values")).1, "use a value that gives at most 4096 values");
        assert_eq!(said(Rule::between(1, "1e9")).0, "`x` must be between 1 and 1e9");
    }

    /// E0401's help suggests the weight format below the model's own, and none below
    /// fp4 (it used to suggest fp8 to a model already in fp8).
    #[test]
    fn a_model_that_does_not_fit_is_offered_a_lower_precision_only_where_there_is_one() {
        let span = Span::new(crate::source::FileId(0), 0, 1);
        let help = |precision: &str| model_does_not_fit_alone(span, "decode.attn", "90 GB", "80 GB", None, precision).help;
        assert!(help("bf16").contains("a lower precision (`{ weights = fp8 }`), "), "{}", help("bf16"));
        assert!(help("fp8").contains("a lower precision (`{ weights = fp4 }`), "), "{}", help("fp8"));
        assert!(help("int8").contains("`{ weights = fp4 }`"));
        assert_eq!(help("fp4"), "the largest option offers 80 GB; use more chips, a shorter context or lower concurrency");
        let unlinked = model_does_not_fit_alone(span, "decode.attn", "90 GB", "80 GB", Some(("wse", 4)), "fp4").help;
        assert!(unlinked.ends_with("over LINK`), or use a shorter context or lower concurrency"), "{unlinked}");
    }

    /// A relative gap is shown as a percentage up to 100%; beyond (a near-zero
    /// objective made it 1.76e12 %) or non-finite, as "more than 100%".
    #[test]
    fn gaps_past_100_percent_are_not_printed_as_numbers() {
        assert_eq!(gap_phrase(0.0125), "within 1.25% of the best proven bound");
        assert_eq!(gap_phrase(1.0), "within 100.00% of the best proven bound");
        for g in [1.0001, 1.763_400_294e12, f64::INFINITY, f64::NAN, -0.5] {
            assert_eq!(gap_phrase(g), "more than 100% from the best proven bound", "{g}");
        }
    }

    #[test]
    fn codes_are_unique_and_explained() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(!c.explanation.is_empty() && !c.title.is_empty());
        }
    }

    #[test]
    fn articles_agree_with_their_noun() {
        // issue 18: "not a objective to maximize"
        assert_eq!(
            unknown_choice(Span::new(crate::source::FileId(0), 0, 1), "x", "objective to maximize", &["tpot"]).primary.message,
            "not an objective to maximize"
        );
        assert_eq!(unknown_choice(Span::new(crate::source::FileId(0), 0, 1), "x", "budget", &["cost"]).primary.message, "not a budget");
        assert!(unknown_name(Span::new(crate::source::FileId(0), 0, 1), "x", "item", &[]).help.starts_with("declare an item named `x`"));
    }

    #[test]
    fn did_you_mean_finds_close_names() {
        assert_eq!(did_you_mean("bandwith", ["bandwidth", "capacity"]), Some("bandwidth"));
        assert_eq!(did_you_mean("h100sxm", ["h100_sxm", "h200"]), Some("h100_sxm"));
        assert_eq!(did_you_mean("zzz", ["bandwidth"]), None);
        // every letter different is no misspelling; one of three is
        assert_eq!(did_you_mean("zz0", ["fp4", "fp8"]), None);
        assert_eq!(did_you_mean("fp6", ["fp4", "int8"]), Some("fp4"));
        assert_eq!(did_you_mean("capcity", ["capacity"]), Some("capacity"));
        assert_eq!(did_you_mean("bandwdth", ["bandwidth"]), Some("bandwidth"));
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
