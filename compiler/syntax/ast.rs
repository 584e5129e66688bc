//! The spanned syntax tree. Every node keeps the byte span of its text.

use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a::b::c`
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.segments.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join("::"))
    }
}

impl Path {
    pub fn last(&self) -> &Ident {
        // A path always has at least one segment (the grammar requires it).
        &self.segments[self.segments.len() - 1]
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    pub uses: Vec<Use>,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UseTarget {
    /// `use std::chips::h100_sxm` or `use std::chips::{a, b}` or `use std::chips::*`
    Module { module: Vec<Ident>, names: Vec<Ident>, glob: bool },
    /// `use "./other.hplan"`
    File { path: String, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Use {
    pub target: UseTarget,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    Chip,
    Link,
    Model,
    Cluster,
    Workload,
    Plan,
    /// a side-by-side comparison of plans against a baseline
    Compare,
    /// unit registry items, only in stdlib/units.hplan
    Dimension,
    Prefix,
    Unit,
}

impl ItemKind {
    pub const ALL: [ItemKind; 10] = [
        ItemKind::Chip,
        ItemKind::Link,
        ItemKind::Model,
        ItemKind::Cluster,
        ItemKind::Workload,
        ItemKind::Plan,
        ItemKind::Compare,
        ItemKind::Dimension,
        ItemKind::Prefix,
        ItemKind::Unit,
    ];

    /// Kinds that only the unit registry (stdlib/units.hplan) declares.
    pub fn is_registry(self) -> bool {
        matches!(self, ItemKind::Dimension | ItemKind::Prefix | ItemKind::Unit)
    }

    pub fn keyword(self) -> &'static str {
        match self {
            ItemKind::Chip => "chip",
            ItemKind::Link => "link",
            ItemKind::Model => "model",
            ItemKind::Cluster => "cluster",
            ItemKind::Workload => "workload",
            ItemKind::Plan => "plan",
            ItemKind::Compare => "compare",
            ItemKind::Dimension => "dimension",
            ItemKind::Prefix => "prefix",
            ItemKind::Unit => "unit",
        }
    }

    pub fn from_keyword(s: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.keyword() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub kind_span: Span,
    pub name: Ident,
    /// `chip mine = std::chips::b200 { ... }`: the item it extends.
    pub base: Option<Path>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub entries: Vec<Entry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Attr(Attr),
    Block(Block),
    Pool(PoolStmt),
    Link(LinkStmt),
    Place(PlaceStmt),
    Objective(ObjectiveStmt),
    Constraint(Constraint),
}

impl Entry {
    pub fn span(&self) -> Span {
        match self {
            Entry::Attr(a) => a.span,
            Entry::Block(b) => b.span,
            Entry::Pool(p) => p.span,
            Entry::Link(l) => l.span,
            Entry::Place(p) => p.span,
            Entry::Objective(o) => o.span,
            Entry::Constraint(c) => c.span,
        }
    }

    /// The key by which an override replaces a base entry (`extends`).
    pub fn key(&self) -> String {
        match self {
            Entry::Attr(a) => format!("attr {}", a.name.name),
            Entry::Block(b) => format!("block {} {}", b.kind.name, b.label.as_ref().map(|l| l.name.as_str()).unwrap_or("")),
            Entry::Pool(p) => format!("pool {}", p.name.name),
            Entry::Link(l) => format!("link {} {}", l.a.name, l.b.name),
            Entry::Place(p) => format!("place {}", p.stage.name),
            Entry::Objective(_) => "objective".to_string(),
            Entry::Constraint(c) => format!("constraint {} {}", c.metric.name, c.op.as_str()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: Ident,
    pub value: Value,
    pub span: Span,
}

/// `memory hbm { ... }`, `slo { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: Ident,
    pub label: Option<Ident>,
    pub body: Body,
    pub span: Span,
}

/// `pool gpu = rubin x 72 over nvlink6`; `pool gpu = h100_sxm x 8 over nvlink4 x 4 over
/// ib_ndr` (4 nodes of 8, the nodes joined over `ib_ndr`)
#[derive(Clone, Debug, PartialEq)]
pub struct PoolStmt {
    pub name: Ident,
    pub chip: Path,
    /// chips per node (all of them without `nodes`)
    pub count: u64,
    pub count_span: Span,
    pub over: Option<Path>,
    pub nodes: Option<PoolNodes>,
    pub span: Span,
}

/// `x 4 over ib_ndr` after a pool's chips: how many nodes of them, and the scale-out link
/// between nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolNodes {
    pub count: u64,
    pub count_span: Span,
    pub over: Path,
    pub span: Span,
}

/// `link gpu <-> lpu over spectrum_x`
#[derive(Clone, Debug, PartialEq)]
pub struct LinkStmt {
    pub a: Ident,
    pub b: Ident,
    pub over: Path,
    pub span: Span,
}

/// `place decode.ffn on auto`, `place prefill on gpu`, `place decode.ffn on any [gpu, lpu]`,
/// `place decode.attn on gpu { tp = 4 }` (pinned decisions)
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceStmt {
    pub stage: Ident,
    /// one pool name or `auto`, or the pools of `any [...]`
    pub targets: Vec<Ident>,
    /// `{ tp = 4, dp = 2 }`: decisions the plan fixes for this stage
    pub pins: Option<Body>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectiveStmt {
    pub direction: Direction,
    pub metric: Ident,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Eq => "==",
        }
    }
}

/// `tpot <= 2.5 ms`
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub metric: Ident,
    pub op: CmpOp,
    pub value: Value,
    pub span: Span,
}

/// A number as written: its value (with any `k`/`Mi` suffix applied) and unit text.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub value: f64,
    pub unit: Option<Ident>,
    pub span: Span,
}

/// How far an uncertain figure may lie from its nominal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Spread {
    /// `± x`: a share of the nominal (`25%`) or an amount of its dimension
    PlusMinus(Number),
    /// `in [lo, hi]`
    Within(Number, Number),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(Number),
    Str(String, Span),
    Bool(bool, Span),
    /// A name, optionally with overrides: `llama3_1_70b { weights = fp8 }`.
    Ref(Path, Option<Body>),
    Range {
        lo: Number,
        hi: Number,
        inclusive: bool,
        span: Span,
    },
    /// A figure with its uncertainty: `2 us ± 50%`, `2 us in [0.1 us, 5 us]`.
    Uncertain {
        nominal: Number,
        spread: Spread,
        span: Span,
    },
    List(Vec<Value>, Span),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Number(n) => n.span,
            Value::Str(_, s) | Value::Bool(_, s) | Value::List(_, s) => *s,
            Value::Ref(p, b) => b.as_ref().map(|b| p.span.to(b.span)).unwrap_or(p.span),
            Value::Range { span, .. } | Value::Uncertain { span, .. } => *span,
        }
    }

    /// What kind of value this is, in words, for "expected X, found Y".
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Number(n) if n.unit.is_some() => "a quantity",
            Value::Number(_) => "a number",
            Value::Str(..) => "a string",
            Value::Bool(..) => "a boolean",
            Value::Ref(..) => "a name",
            Value::Range { .. } => "a range",
            Value::Uncertain { .. } => "an uncertain figure",
            Value::List(..) => "a list",
        }
    }
}
