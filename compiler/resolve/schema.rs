//! The schema table: which attributes, sub-blocks and statements each block
//! kind allows or requires, and the kind and dimension of every attribute.
//! One place, read by the checker, the language reference and (later) the
//! editor's completion.

use crate::units::Dim;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrKind {
    /// A number with a unit of this dimension.
    Quantity(Dim),
    /// A whole number > 0, no unit.
    Count,
    /// A whole number >= 0, no unit.
    CountOrZero,
    /// A whole number from 1 to a physical bound, no unit; the phrase after the bound
    /// in the message (`" tokens a round"`), checked before anything it sizes is built.
    CountUpTo(u64, &'static str),
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A plain number in [0, 1].
    Fraction,
    /// A plain positive number.
    Number,
    /// A token count: `8k tok` or a plain number.
    Tokens,
    /// A count, or an inclusive range of counts `1 ..= 512`.
    CountOrRange,
    /// A quantity of this dimension, or an inclusive range of two `50 tok/s ..= 1000 tok/s`.
    QuantityOrRange(Dim),
    /// A range of two figures whose unit another attribute decides (a sweep's `values`,
    /// in its `figure`'s unit): checked where that is known.
    FigureRange,
    Str,
    Bool,
    /// `bf16`, `fp8`, ...
    Precision,
    /// A list of `weights` / `kv`.
    Contents,
    /// A list of names of this kind.
    List(&'static str),
    /// A reference to an item of this kind (`chip`, `model`, ...), possibly with overrides.
    Ref(&'static str),
}

impl AttrKind {
    pub fn describe(self) -> String {
        match self {
            AttrKind::Quantity(d) => d.describe(),
            AttrKind::Count => "a whole number".into(),
            AttrKind::CountOrZero => "a whole number (0 or more)".into(),
            AttrKind::CountUpTo(max, _) => format!("a whole number (at most {max})"),
            AttrKind::Choice(words) => words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(" or "),
            AttrKind::Fraction => "a fraction between 0 and 1".into(),
            AttrKind::Number => "a positive number".into(),
            AttrKind::Tokens => "a token count (tok)".into(),
            AttrKind::CountOrRange => "a count or a range like `1 ..= 512`".into(),
            AttrKind::QuantityOrRange(d) => format!("{}, or a range of two", d.describe()),
            AttrKind::FigureRange => "a range of two figures in the swept figure's unit (`2 us ..= 40 us`)".into(),
            AttrKind::Str => "a string".into(),
            AttrKind::Bool => "`true` or `false`".into(),
            AttrKind::Precision => "a precision (`bf16`, `fp8`, `fp4`, ...)".into(),
            AttrKind::Contents => "a list of `weights` and `kv`".into(),
            AttrKind::List(k) => format!("a list of {k} names"),
            AttrKind::Ref(k) => format!("the name of a {k}"),
        }
    }
}

pub struct AttrSpec {
    pub name: &'static str,
    pub kind: AttrKind,
    pub required: bool,
    /// What `add X = ...` suggests when the attribute is missing.
    pub example: &'static str,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stmt {
    Pool,
    Link,
    Place,
    Objective,
    Constraint,
}

impl Stmt {
    pub fn describe(self) -> &'static str {
        match self {
            Stmt::Pool => "a `pool` statement",
            Stmt::Link => "a `link` statement",
            Stmt::Place => "a `place` statement",
            Stmt::Objective => "an objective (`minimize`)",
            Stmt::Constraint => "a constraint",
        }
    }
}

pub struct BlockSpec {
    /// How the block is named in messages ("chip", "memory block").
    pub name: &'static str,
    pub attrs: &'static [AttrSpec],
    /// Sub-blocks: (keyword, takes a label, may repeat, spec).
    pub blocks: &'static [SubBlock],
    pub stmts: &'static [Stmt],
}

pub struct SubBlock {
    pub keyword: &'static str,
    pub labelled: bool,
    pub repeated: bool,
    pub required: bool,
    pub spec: &'static BlockSpec,
}

const fn a(name: &'static str, kind: AttrKind, required: bool, example: &'static str, doc: &'static str) -> AttrSpec {
    AttrSpec { name, kind, required, example, doc }
}

/// How `figure` is written in its block: the kind its values take (a sweep's `values`
/// are checked as it).
pub fn figure_kind(figure: crate::ir::uncertain::Figure) -> AttrKind {
    let (block, attr) = figure.written();
    let spec = [&CHIP, &COMPUTE, &EFFICIENCY, &LINK, &MEMORY].into_iter().find(|s| s.name == block).unwrap_or(&CHIP);
    spec.attrs.iter().find(|a| a.name == attr).map_or(AttrKind::Number, |a| a.kind)
}

/// Whether `attr` of the block `block` may be written with its uncertainty (`2 us ±
/// 50%`): the figures the solver varies (`ir::uncertain::Figure`, docs/uncertainty.md).
pub fn may_be_uncertain(block: &str, attr: &str) -> bool {
    crate::ir::uncertain::Figure::ALL.iter().any(|f| f.written() == (block, attr))
}

pub static COMPUTE: BlockSpec = BlockSpec {
    name: "compute block",
    attrs: &[
        a("fp4", AttrKind::Quantity(Dim::FLOP_RATE), false, "9000 TFLOP/s", "dense FP4 peak"),
        a("fp8", AttrKind::Quantity(Dim::FLOP_RATE), false, "4500 TFLOP/s", "dense FP8 peak"),
        a("int8", AttrKind::Quantity(Dim::FLOP_RATE), false, "4500 TFLOP/s", "dense INT8 peak"),
        a("bf16", AttrKind::Quantity(Dim::FLOP_RATE), false, "2250 TFLOP/s", "dense BF16 peak"),
        a("fp16", AttrKind::Quantity(Dim::FLOP_RATE), false, "2250 TFLOP/s", "dense FP16 peak"),
        a("fp32", AttrKind::Quantity(Dim::FLOP_RATE), false, "80 TFLOP/s", "dense FP32 peak"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static MEMORY: BlockSpec = BlockSpec {
    name: "memory block",
    attrs: &[
        a("capacity", AttrKind::Quantity(Dim::BYTES), true, "80 GB", "capacity per chip"),
        a("bandwidth", AttrKind::Quantity(Dim::BANDWIDTH), true, "3.35 TB/s", "peak bandwidth per chip"),
        a("holds", AttrKind::Contents, false, "[weights, kv]", "what this tier holds; default: the first tier holds everything"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static EFFICIENCY: BlockSpec = BlockSpec {
    name: "efficiency block",
    attrs: &[
        a("compute", AttrKind::Fraction, true, "0.6", "achievable fraction of peak FLOP/s (kernel-level measurement)"),
        a("memory", AttrKind::Fraction, true, "0.9", "achievable fraction of peak memory bandwidth (kernel-level measurement)"),
        a("source", AttrKind::Str, true, "\"https://...\"", "the measurement the fractions come from"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static FRAMEWORK: BlockSpec = BlockSpec {
    name: "framework block",
    attrs: &[
        a(
            "step_overhead",
            AttrKind::Quantity(Dim::TIME),
            false,
            "3 ms",
            "fixed time per step under this framework (scheduling, launches, sampling); default the chip's own",
        ),
        a("layer_overhead", AttrKind::Quantity(Dim::TIME), false, "20 us", "fixed time per layer of a step under this framework; default the chip's own"),
        a(
            "sequence_overhead",
            AttrKind::Quantity(Dim::TIME),
            false,
            "30 us",
            "fixed host time per step for each sequence the engine schedules (batch bookkeeping, sampling, detokenisation)",
        ),
        a(
            "memory_fraction",
            AttrKind::Fraction,
            false,
            "0.95",
            "the engine's share of memory (vLLM `gpu_memory_utilization`, SGLang `mem_fraction_static`, TensorRT-LLM `free_gpu_memory_fraction`); default the framework's",
        ),
        a(
            "runtime_memory",
            AttrKind::Quantity(Dim::BYTES),
            false,
            "3 GB",
            "memory per chip the runtime keeps besides weights and KV cache; default 3 GB",
        ),
        a(
            "first_token",
            AttrKind::Quantity(Dim::TIME),
            false,
            "40 ms",
            "a request's first-token latency beyond the engine's steps (its path outside the batch); default the framework's",
        ),
        a(
            "first_token_per_layer",
            AttrKind::Quantity(Dim::TIME),
            false,
            "1 ms",
            "the first-token latency's part per layer of the model; default the framework's",
        ),
        a(
            "moe_dense_reads",
            AttrKind::Fraction,
            false,
            "0.6",
            "the engine's MoE kernels read every expert's weights each step (as a dense layer would), at this share of the weight tier's bandwidth; default: only the routed experts are read",
        ),
        a("source", AttrKind::Str, true, "\"fitted to ...\"", "what the figures were measured or fitted on"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static CHIP: BlockSpec = BlockSpec {
    name: "chip",
    attrs: &[
        a("source", AttrKind::Str, true, "\"https://...\"", "where the figures come from"),
        a("power", AttrKind::Quantity(Dim::POWER), false, "700 W", "the chip's own power (TDP or board power)"),
        a(
            "system_power",
            AttrKind::Quantity(Dim::POWER),
            false,
            "1.8 kW",
            "power per chip as deployed: its share of everything its system draws (host CPUs, NICs, switches, cooling); power budgets and tokens/s per MW count it in place of `power`",
        ),
        a("price", AttrKind::Quantity(Dim::PRICE), false, "2.35 $/h", "rental or amortised price per chip"),
        a(
            "step_overhead",
            AttrKind::Quantity(Dim::TIME),
            false,
            "20 us",
            "fixed host/launch time per step (decode step, prefill); default 0",
        ),
        a(
            "layer_overhead",
            AttrKind::Quantity(Dim::TIME),
            false,
            "20 us",
            "fixed time per layer of a step on the chips that run the layer's attention, and on an FFN pool's chips per layer they run (launches, norms, residual adds, rotary); default 0",
        ),
        a(
            "sequence_overhead",
            AttrKind::Quantity(Dim::TIME),
            false,
            "15 us",
            "fixed host time per step for each sequence the engine schedules; default 0",
        ),
        a(
            "tables",
            AttrKind::Str,
            false,
            "\"h100_sxm.csv\"",
            "a CSV of measured per-op latencies (docs/op-tables.md), relative to this file; ops it covers are priced from it instead of the roofline",
        ),
        a(
            "fp8_gemm_surplus",
            AttrKind::Quantity(Dim::TIME),
            false,
            "4 us",
            "time each FP8 GEMM row of `tables` carries beyond what a deployment pays (a separately timed activation quantisation), subtracted from every FP8 GEMM the tables price; below the table's fastest FP8 GEMM row; default 0",
        ),
    ],
    blocks: &[
        SubBlock { keyword: "compute", labelled: false, repeated: false, required: true, spec: &COMPUTE },
        SubBlock { keyword: "framework", labelled: true, repeated: true, required: false, spec: &FRAMEWORK },
        SubBlock { keyword: "memory", labelled: true, repeated: true, required: true, spec: &MEMORY },
        SubBlock { keyword: "efficiency", labelled: false, repeated: false, required: true, spec: &EFFICIENCY },
    ],
    stmts: &[],
};

pub static LINK: BlockSpec = BlockSpec {
    name: "link",
    attrs: &[
        a("source", AttrKind::Str, true, "\"https://...\"", "where the figures come from"),
        a("bandwidth", AttrKind::Quantity(Dim::BANDWIDTH), true, "450 GB/s", "bandwidth per chip, per direction"),
        a("latency", AttrKind::Quantity(Dim::TIME), true, "2 us", "one-way small-message latency"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static MODEL: BlockSpec = BlockSpec {
    name: "model",
    attrs: &[
        a("source", AttrKind::Str, true, "\"https://huggingface.co/.../config.json\"", "where the configuration comes from"),
        a("layers", AttrKind::CountUpTo(crate::ir::MAX_LAYERS, ""), true, "80", "num_hidden_layers"),
        a("hidden", AttrKind::Count, true, "8192", "hidden_size"),
        a("heads", AttrKind::Count, true, "64", "num_attention_heads"),
        a(
            "attention",
            AttrKind::Choice(&["gqa", "mla"]),
            false,
            "gqa",
            "grouped-query (also MHA, MQA) or multi-head latent attention; default gqa",
        ),
        a("kv_heads", AttrKind::Count, false, "8", "num_key_value_heads (required for gqa)"),
        a("head_dim", AttrKind::Count, false, "128", "head_dim (required for gqa)"),
        a("q_lora_rank", AttrKind::Count, false, "1536", "MLA query compression rank (omit if queries are not compressed)"),
        a("kv_lora_rank", AttrKind::Count, false, "512", "MLA KV latent rank (required for mla)"),
        a("qk_rope_dim", AttrKind::Count, false, "64", "MLA decoupled RoPE key dimension (required for mla)"),
        a("qk_nope_dim", AttrKind::Count, false, "128", "MLA per-head query/key dimension without RoPE (required for mla)"),
        a("v_head_dim", AttrKind::Count, false, "128", "MLA per-head value dimension (required for mla)"),
        a("intermediate", AttrKind::Count, false, "28672", "intermediate_size of the dense FFN (required unless every layer is MoE)"),
        a("experts", AttrKind::Count, false, "256", "routed experts per MoE layer (n_routed_experts); makes the model MoE"),
        a("experts_per_token", AttrKind::Count, false, "8", "routed experts per token, top-k (required for MoE)"),
        a("shared_experts", AttrKind::CountOrZero, false, "1", "shared experts per MoE layer; default 0"),
        a(
            "expert_intermediate",
            AttrKind::Count,
            false,
            "2048",
            "intermediate size of one expert (moe_intermediate_size; required for MoE)",
        ),
        a("dense_layers", AttrKind::CountOrZero, false, "3", "leading layers with a dense FFN (first_k_dense_replace); default 0"),
        a("router_bias", AttrKind::Bool, false, "false", "the router has a bias (DeepSeek's e_score_correction_bias)"),
        a("sliding_window", AttrKind::Tokens, false, "128 tok", "window of the sliding-window attention layers"),
        a("sliding_layers", AttrKind::Count, false, "18", "how many layers use the sliding window"),
        a("biases", AttrKind::Bool, false, "false", "attention and FFN projections carry biases"),
        a("qk_norm", AttrKind::Bool, false, "false", "per-head RMSNorm of queries and keys"),
        a("vocab", AttrKind::Count, true, "128256", "vocab_size"),
        a("tied_embeddings", AttrKind::Bool, false, "false", "tie_word_embeddings"),
        a("max_context", AttrKind::Tokens, false, "128Ki tok", "max_position_embeddings"),
        a("weights", AttrKind::Precision, false, "bf16", "weight precision (default bf16)"),
        a("kv", AttrKind::Precision, false, "bf16", "KV-cache precision (default bf16)"),
        a("activations", AttrKind::Precision, false, "bf16", "activation precision (default bf16)"),
        a(
            "variants",
            AttrKind::CountUpTo(crate::ir::MAX_VARIANTS, " models"),
            false,
            "4",
            "models of this architecture served at once on the same chips, in turn (fine-tunes; default 1)",
        ),
    ],
    blocks: &[],
    stmts: &[],
};

pub static CLUSTER: BlockSpec = BlockSpec { name: "cluster", attrs: &[], blocks: &[], stmts: &[Stmt::Pool, Stmt::Link] };

pub static WORKLOAD: BlockSpec = BlockSpec {
    name: "workload",
    attrs: &[
        a("input", AttrKind::Tokens, true, "8k tok", "prompt tokens per request"),
        a("output", AttrKind::Tokens, true, "1k tok", "generated tokens per request"),
        a("concurrency", AttrKind::CountOrRange, true, "1 ..= 256", "concurrent sequences; from a range the solver chooses the best of every whole number in it"),
        a(
            "lengths",
            AttrKind::Choice(&["fixed", "uniform", "lognormal"]),
            false,
            "lognormal",
            "simulation: how prompt and answer lengths vary around `input` and `output` (default `fixed`)",
        ),
        a(
            "spread",
            AttrKind::Number,
            false,
            "0.6",
            "simulation: `lognormal`: the standard deviation of ln(length), at most 3; `uniform`: the half-width as a share of the mean, below 1",
        ),
        a(
            "requests",
            AttrKind::CountUpTo(crate::ir::MAX_SIM_REQUESTS, " requests"),
            false,
            "5000",
            "simulation: requests per arrival rate tried by a plan with percentile SLOs (default 2,000)",
        ),
        a("seed", AttrKind::CountOrZero, false, "7", "simulation: the seed of its random draws (default 0)"),
        a(
            "rate",
            AttrKind::Quantity(Dim::REQUEST_RATE),
            false,
            "3 req/s",
            "simulation: requests arrive at this mean rate, gaps drawn independently (Poisson at `burstiness` 1); a plan with percentile SLOs searches the rate instead",
        ),
        a(
            "burstiness",
            AttrKind::Number,
            false,
            "0.5",
            "simulation: the gamma shape of the gaps between arrivals, 0.01 to 100: 1 is Poisson (default), below 1 burstier, above 1 more even",
        ),
        a(
            "trace",
            AttrKind::Str,
            false,
            "\"traffic.csv\"",
            "simulation: arrival times and lengths from this file (`arrival_s,input_tokens,output_tokens` lines, next to the plan); a rate search scales its times",
        ),
        a(
            "prefix",
            AttrKind::Tokens,
            false,
            "1500 tok",
            "prefix reuse: tokens every prompt begins with that a prefix cache can hold (a system prompt); below `input`",
        ),
        a(
            "prefixes",
            AttrKind::CountUpTo(crate::ir::MAX_PREFIXES, " prefixes"),
            false,
            "8",
            "prefix reuse: how many distinct prefixes requests draw from uniformly (default 1)",
        ),
        a(
            "prefix_hit",
            AttrKind::Fraction,
            false,
            "0.9",
            "prefix reuse: the share of requests whose prefix is cached, as the analytical model's mean (default 1); the simulation runs the cache",
        ),
    ],
    blocks: &[],
    stmts: &[],
};

pub static SPECULATE: BlockSpec = BlockSpec {
    name: "speculate block",
    attrs: &[
        a(
            "draft",
            AttrKind::Ref("model"),
            true,
            "std::models::llama3_2_1b",
            "the draft model (same vocabulary as the target); place it with `place draft on POOL`",
        ),
        a("lookahead", AttrKind::CountUpTo(crate::ir::MAX_LOOKAHEAD, " tokens a round"), true, "4", "tokens drafted per round (k)"),
        a("acceptance", AttrKind::Fraction, true, "0.7", "probability the target accepts a drafted token (i.i.d.)"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static SLO: BlockSpec = BlockSpec { name: "slo block", attrs: &[], blocks: &[], stmts: &[Stmt::Constraint] };

/// `place decode.attn on gpu { tp = 4, dp = 2 }`: decisions a plan fixes for a stage.
pub static PINS: BlockSpec = BlockSpec {
    name: "pins block (after a place statement)",
    attrs: &[
        a(
            "tp",
            AttrKind::Count,
            false,
            "4",
            "tensor-parallel degree (prefill, decode.attn, decode.ffn, draft, each stage of decode.layers): any degree that divides the heads (for decode.ffn the FFN's width; of an MoE, each expert's, split by width over the FFN's chips instead of whole experts on each, not with `ep`; both for decode.layers)",
        ),
        a("dp", AttrKind::Count, false, "2", "decode.attn: data-parallel attention groups (a power of two, or a count whose groups fill a node or pool; the FFN spans all of them)"),
        a(
            "cp",
            AttrKind::Count,
            false,
            "2",
            "decode.attn: the ways each sequence's KV cache splits by context over the group's chips beyond its KV heads (1: none; `tp / min(tp, KV heads)`, `tp` for MLA; in each data-parallel group, the FFN colocated); prefill: groups of `tp` chips that split each prompt by context, passing its cache around a ring (1: none; at most 16, not with `pp`)",
        ),
        a("ep", AttrKind::Count, false, "8", "decode.ffn of an MoE model: expert-parallel degree, whole experts on each chip (any up to the experts; redundant slots where it does not divide them; not with `tp` above 1)"),
        a(
            "microbatches",
            AttrKind::Count,
            false,
            "2",
            "decode.ffn on another pool than decode.attn: ping-pong microbatches (1 to 8, 12, 16, 24 or 32)",
        ),
        a("replicas", AttrKind::Count, false, "3", "prefill: independent prefill copies, exactly this many"),
        a(
            "pp",
            AttrKind::Count,
            false,
            "2",
            "prefill: pipeline stages of each replica within its pool, the layers cut evenly (1: one tensor-parallel group; at most 16 and the model's layers)",
        ),
    ],
    blocks: &[],
    stmts: &[],
};

/// `budget { cost <= 100 $/h, chips <= 64, power <= 50 kW }`
pub static BUDGET: BlockSpec = BlockSpec { name: "budget block", attrs: &[], blocks: &[], stmts: &[Stmt::Constraint] };

/// `sweep { concurrency = 2 ..= 1024, step = 2 }`: one variable, its values.
pub static SWEEP: BlockSpec = BlockSpec {
    name: "sweep block",
    attrs: &[
        a(
            "concurrency",
            AttrKind::CountOrRange,
            false,
            "1 ..= 1024",
            "solve at each concurrency of the range (the workload's range is replaced); one of `concurrency`, `tokens_per_s_per_user` and `figure`",
        ),
        a(
            "tokens_per_s_per_user",
            AttrKind::QuantityOrRange(Dim::TOKEN_RATE),
            false,
            "50 tok/s ..= 1000 tok/s",
            "solve with the SLO `tokens_per_s_per_user >= X` at each X of the range (it replaces the plan's `tpot` and `tokens_per_s_per_user` SLOs; `ttft` stays)",
        ),
        a(
            "figure",
            AttrKind::Str,
            false,
            "\"lp30.layer_overhead\"",
            "solve over the plan's whole space at each value of `values` of this figure of a chip or link of its cluster, named `ITEM.FIGURE` as the uncertainty table names it: a chip's `price`, `power`, `system_power`, `step_overhead`, `layer_overhead`, `sequence_overhead`, `compute.fp8` (a precision it has), `efficiency.compute`, `efficiency.memory`, `memory[0].bandwidth`; a link's `latency`, `bandwidth`",
        ),
        a("values", AttrKind::FigureRange, false, "2 us ..= 40 us", "with `figure`: its values, a range in the figure's unit"),
        a(
            "step",
            AttrKind::Count,
            false,
            "2",
            "concurrency only: every `step`-th value from the low end (default: the ends and the powers of two between them)",
        ),
        a(
            "points",
            AttrKind::Count,
            false,
            "64",
            "how many values, spaced evenly on a log scale (a figure's from a low end of 0: evenly; default for `tokens_per_s_per_user` and `figure`: 16)",
        ),
    ],
    blocks: &[],
    stmts: &[],
};

pub static PLAN: BlockSpec = BlockSpec {
    name: "plan",
    attrs: &[
        a("model", AttrKind::Ref("model"), true, "std::models::llama3_1_70b", "the model to serve, optionally with overrides"),
        a("cluster", AttrKind::Ref("cluster"), true, "my_cluster", "the hardware"),
        a("workload", AttrKind::Ref("workload"), true, "chat", "the traffic"),
        a(
            "inventory",
            AttrKind::Choice(&["bounded", "free"]),
            false,
            "free",
            "`bounded` (default): a pool's count is how many chips there are; `free`: the solver uses as many chips of each pool as the placement needs, and a pool's count only bounds one tensor-parallel group (its scale-up domain)",
        ),
        a(
            "time_limit",
            AttrKind::Quantity(Dim::TIME),
            false,
            "5 s",
            "how long one ILP solve may run; when it stops early the best placement found is reported with its optimality gap and W0401 (default 30 s)",
        ),
        a(
            "framework",
            AttrKind::Choice(&crate::ir::FRAMEWORKS),
            false,
            "vllm",
            "the serving framework: chips use their fixed costs for it (`framework vllm { ... }` in the chip) where they declare them, and get only the memory its engine lets weights and KV cache use",
        ),
        a(
            "serving",
            AttrKind::Choice(&crate::ir::Serving::NAMES),
            false,
            "aggregated",
            "`aggregated`: prefill runs in chunks inside the decode steps on the decode chips (in-flight batching), on a pool that both `prefill` and `decode.attn` may use; `disaggregated`: prefill gets chips of its own and moves the KV cache; `auto` (default): the solver weighs both",
        ),
        a(
            "chunk",
            AttrKind::Tokens,
            false,
            "2048 tok",
            "aggregated serving: the prompt tokens one step may carry beside decode (TensorRT-LLM `max_num_tokens`, vLLM `max_num_batched_tokens`, SGLang `chunked_prefill_size`); a prefill pipeline may also pass its prompt along in chunks of this size; at least 16, and a prompt in at most 1024 chunks; default 8192",
        ),
    ],
    blocks: &[
        SubBlock { keyword: "slo", labelled: false, repeated: false, required: false, spec: &SLO },
        SubBlock { keyword: "speculate", labelled: false, repeated: false, required: false, spec: &SPECULATE },
        SubBlock { keyword: "budget", labelled: false, repeated: false, required: false, spec: &BUDGET },
        SubBlock { keyword: "sweep", labelled: false, repeated: false, required: false, spec: &SWEEP },
    ],
    stmts: &[Stmt::Place, Stmt::Objective],
};

/// `compare name { baseline = a, plans = [b, c], interactivity = 400 tok/s }`
pub static COMPARE: BlockSpec = BlockSpec {
    name: "compare",
    attrs: &[
        a("baseline", AttrKind::Ref("plan"), true, "gpu_only", "the plan the others are measured against"),
        a("plans", AttrKind::List("plan"), false, "[afd, speculative]", "the plans to compare (default: every other plan in the file)"),
        a(
            "interactivity",
            AttrKind::Quantity(Dim::TOKEN_RATE),
            false,
            "400 tok/s",
            "also compare each plan's best frontier point with at least this many tokens/s per user",
        ),
    ],
    blocks: &[SubBlock { keyword: "break_even", labelled: true, repeated: true, required: false, spec: &BREAK_EVEN }],
    stmts: &[],
};

/// A break-even asked for in a compare block, named (`break_even lp30_cost { ... }`):
/// where each compared plan and the baseline trade places as one figure moves over a
/// range (docs/uncertainty.md).
pub static BREAK_EVEN: BlockSpec = BlockSpec {
    name: "break_even block",
    attrs: &[
        a(
            "figure",
            AttrKind::Str,
            true,
            "\"lp30.price\"",
            "the figure of a chip or link of the plans' clusters to move, named `ITEM.FIGURE` as a sweep's `figure` (a plan without that item keeps its answer)",
        ),
        a("values", AttrKind::FigureRange, true, "0.05 $/h ..= 2 $/h", "the range to look for the value where the two plans tie, in the figure's unit"),
        a(
            "points",
            AttrKind::CountUpTo(crate::ir::MAX_BREAK_EVEN_POINTS as u64, " values"),
            false,
            "16",
            "how many values to try before bisecting between those where the better plan changes (default 16; log-spaced, or evenly from a low end of 0)",
        ),
    ],
    blocks: &[],
    stmts: &[],
};

/// The unit registry's items (only in stdlib/units.hplan; read by units::registry).
pub static DIMENSION: BlockSpec = BlockSpec {
    name: "dimension",
    attrs: &[
        a("base", AttrKind::Str, false, "\"B\"", "the base unit of a base dimension"),
        a("unit", AttrKind::Str, false, "\"B/s\"", "a unit of a named derived dimension, shown in messages"),
        a("describe", AttrKind::Str, true, "\"a bandwidth\"", "the dimension in words"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static PREFIX: BlockSpec = BlockSpec {
    name: "prefix",
    attrs: &[
        a("factor", AttrKind::Number, true, "1e3", "the multiplier"),
        a("set", AttrKind::Ref("prefix set"), true, "large", "the set it belongs to (`large`, `binary`, `small`)"),
    ],
    blocks: &[],
    stmts: &[],
};

pub static UNIT: BlockSpec = BlockSpec {
    name: "unit",
    attrs: &[
        a("dimension", AttrKind::Ref("dimension"), false, "size", "makes this the base unit of a base dimension"),
        a("value", AttrKind::Quantity(Dim::NONE), false, "0.125 B", "defines it as a multiple of units above it (any dimension)"),
        a("prefixes", AttrKind::List("prefix set"), false, "[large, binary]", "prefix sets it accepts"),
    ],
    blocks: &[],
    stmts: &[],
};

pub fn for_item(kind: crate::syntax::ast::ItemKind) -> &'static BlockSpec {
    use crate::syntax::ast::ItemKind::*;
    match kind {
        Chip => &CHIP,
        Link => &LINK,
        Model => &MODEL,
        Cluster => &CLUSTER,
        Workload => &WORKLOAD,
        Plan => &PLAN,
        Compare => &COMPARE,
        Dimension => &DIMENSION,
        Prefix => &PREFIX,
        Unit => &UNIT,
    }
}

/// The attribute tables of grammar/SPEC.md, generated from this schema so the
/// reference cannot drift (a test compares them).
pub fn reference_tables() -> String {
    fn table(out: &mut String, spec: &BlockSpec, heading: &str) {
        out.push_str(&format!("#### {heading}\n\n"));
        if !spec.attrs.is_empty() {
            out.push_str("| attribute | value | required | meaning |\n|---|---|---|---|\n");
            for a in spec.attrs {
                let req = if a.required { "yes" } else { "no" };
                out.push_str(&format!("| `{}` | {} | {} | {} (e.g. `{}`) |\n", a.name, a.kind.describe(), req, a.doc, a.example));
            }
            out.push('\n');
        }
        for b in spec.blocks {
            let label = if b.labelled { " <name>" } else { "" };
            let times = match (b.required, b.repeated) {
                (true, true) => "one or more",
                (true, false) => "exactly one",
                (false, true) => "any number",
                (false, false) => "at most one",
            };
            out.push_str(&format!("Block `{}{label} {{ ... }}`: {times}, see {}.\n\n", b.keyword, b.spec.name));
        }
        if !spec.stmts.is_empty() {
            let s: Vec<&str> = spec.stmts.iter().map(|s| s.describe()).collect();
            out.push_str(&format!("Statements: {}.\n\n", s.join(", ")));
        }
    }
    let mut out = String::new();
    for (spec, heading) in [
        (&CHIP, "chip"),
        (&COMPUTE, "compute block (in a chip)"),
        (&MEMORY, "memory block (in a chip)"),
        (&EFFICIENCY, "efficiency block (in a chip)"),
        (&FRAMEWORK, "framework block (in a chip)"),
        (&LINK, "link"),
        (&MODEL, "model"),
        (&CLUSTER, "cluster"),
        (&WORKLOAD, "workload"),
        (&PLAN, "plan"),
        (&SLO, "slo block (in a plan)"),
        (&PINS, "pins block (after `place STAGE on POOL`)"),
        (&SPECULATE, "speculate block (in a plan)"),
        (&BUDGET, "budget block (in a plan)"),
        (&SWEEP, "sweep block (in a plan)"),
        (&COMPARE, "compare"),
    ] {
        table(&mut out, spec, heading);
    }
    out
}
