//! The serving frameworks a plan may name, as data: how each sizes its KV cache and
//! schedules prompts (docs/cost-model.md §11). The arithmetic on them is the cost
//! phase's (`cost::admission`).

/// How one serving framework sizes its KV cache and schedules prompts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Engine {
    /// the share of memory the engine may use
    pub fraction: f64,
    /// `fraction` applies to the memory left after the weights and the runtime
    /// (TensorRT-LLM's `free_gpu_memory_fraction`), not to the whole GPU
    pub of_free: bool,
    /// bytes per GPU the runtime keeps besides weights and KV: CUDA context, CUDA graphs,
    /// activation and communication workspace for a chunk of prompt tokens
    pub runtime: f64,
    /// tokens per KV block: a sequence holds whole blocks
    pub block: u64,
    /// the share of a sequence's output the admission check reserves: 1 when the engine
    /// admits only what it can run to completion without eviction, less when it admits on
    /// the prompt and pre-empts if the cache fills
    pub reserve_output: f64,
    /// requests beyond what the cache admits wait for a slot (vLLM, SGLang); otherwise
    /// the engine takes them all and the batch is the client concurrency
    pub waits_for_slot: bool,
    /// waiting prompts are all prefilled before decoding resumes (SGLang's default), so
    /// clients that start together stay together; otherwise each step admits one chunk
    /// budget of prompt tokens beside the decode batch (vLLM, TensorRT-LLM)
    pub prefill_first: bool,
    /// `(β, γ)`: how many prompts arrive together in a closed-loop benchmark whose
    /// clients start at once and send alike requests, `g = β·b^γ` of the `b` clients
    /// per rank (`cost::admission::Engine::burst`); ignored when `prefill_first`, which
    /// keeps all `b` in step
    pub burst: (f64, f64),
    /// `(F, L)`: seconds a request's first token takes beyond the engine's steps, `F + L`
    /// per layer of the model (`cost::admission::Engine::first_token`); it delays that
    /// request only, not the steps of the others
    pub first_token: (f64, f64),
    /// `Some(s)`: the engine's MoE kernels read every expert's weights each step, as a
    /// dense layer would, at share `s` of the weight tier's peak bandwidth, however few
    /// experts the batch routes to (`cost::node_time`); `None`: only the routed experts
    /// are read. No framework sets it by default; a chip's `framework` block may
    /// (`moe_dense_reads`), as `h200_measured` does for vLLM (docs/cost-model.md §4e).
    pub moe_dense_reads: Option<f64>,
}

/// Prompt tokens one step may carry under chunked prefill (TensorRT-LLM's
/// `max_num_tokens`, vLLM's `max_num_batched_tokens` and SGLang's `chunked_prefill_size`
/// all default to 8192 in the versions measured): a longer prompt is prefilled over
/// several steps.
pub const CHUNK_TOKENS: u64 = 8192;

/// The runtime's own memory per GPU outside weights and KV cache, first fitted to
/// `docs/reference/measured/deployments.csv` (docs/cost-model.md §11): swept over
/// 1-6 GB with every row evaluated, 3 GB put the most rows' TTFT within ±25% (1 GB
/// 24.9%, 2 GB 25.1%, 3 GB 25.8%, 4 GB 25.3%), when the NVIDIA chips' capacities were
/// their datasheets' figures read as 10⁹ bytes. With the capacities their drivers
/// report (an "80GB" H100 is 85.5 GB) the data no longer pins it: 1-6 GB give 57.4-57.7%
/// (2026-12-05), and 3 GB stays as the physical estimate. It
/// stands for the CUDA context (~0.5 GB), CUDA graphs (~1 GB) and the activations of an
/// 8192-token prompt chunk (~1-2 GB for 32B-class models).
pub const RUNTIME_BYTES: f64 = 3.0e9;

/// Prompts that arrive together in a closed-loop benchmark under vLLM and TensorRT-LLM:
/// `g = β·b^γ` of the `b` clients per rank (`cost::admission::Engine::burst`), FITTED to
/// the measured TTFT of the aggregated rows of `deployments.csv` (docs/cost-model.md §11).
/// What it stands for: clients that start together and send alike requests come back
/// together, and an engine that takes one chunk budget of prompts per step beside decode
/// spreads them only partly (a prompt's TTFT there is about 4 of its own prefills at 8
/// clients and 9 at 128, for any prompt length and TP: far more than random arrivals
/// would queue, far less than all clients at once). Swept over β ∈ 1..4, γ ∈ 0.2..0.6
/// with every row evaluated (share of each framework's aggregated rows within ±25%):
/// vLLM (1.75, 0.45) 58.8% (1.5, 0.5) 58.2%, (2, 0.4) 55.8%, (1, 0.6) 48.5%;
/// TensorRT-LLM, with no first-token latency, (2.75, 0.35) 39.4%, (3, 0.3) 38.8%, (2, 0.4)
/// 37.4%, (1.5, 0.5) 37.2% (now refitted with it: [`BURST_TRTLLM`]); before, one chunk
/// budget of prompts together: 17.0% and 20.2%. A deployment whose requests arrive
/// independently sees less (the solver prices one prompt alone).
pub const BURST_VLLM: (f64, f64) = (1.75, 0.45);
/// TensorRT-LLM's, FITTED together with its [`FIRST_TOKEN_TRTLLM`]: swept over β ∈
/// {0.75, 1, 1.25, 1.5, 2, 2.75}, γ ∈ {0.3, 0.35, 0.4, 0.45, 0.5} with the first-token
/// latency beside them (below); alone, with no first-token latency, (2.75, 0.35) was best
/// (39.4%).
pub const BURST_TRTLLM: (f64, f64) = (1.0, 0.45);

/// The first-token latency `(F, L)` of a request, `F + L·layers` seconds beyond the
/// engine's GPU steps, FITTED to the measured TTFT of `deployments.csv`
/// (docs/cost-model.md §11). What the data shows: under TensorRT-LLM the TTFT of short
/// prompts has a floor that does not fall with the prompt or the concurrency, about
/// 100 ms for Llama-3.1-8B (32 layers, its 1k-token prefill 10 ms on TP8), 120-145 ms
/// for Qwen3-32B (64 layers) and 170-250 ms for Qwen3-235B-A22B (94 layers, 128-1024
/// token prompts at 4-64 clients alike); SGLang's Qwen3-235B rows show the same. The
/// measured TPOTs do not carry it (Qwen3-235B at 128 clients of 128-token prompts starts
/// about one request per step and its TPOT is the decode step's), so it delays only the
/// request itself: the request path outside the batch's steps (HTTP server, tokenisation,
/// hand-off to the executor, the streamed first token's detokenisation) and a first
/// pass over the layers that the data cannot tell apart. Swept with every row evaluated
/// (share of the framework's aggregated rows within ±25%): TensorRT-LLM F ∈ {0, 20, 30,
/// 40, 60, 80, 120, 160} ms, L ∈ {0, 0.5, 0.75, 1, 1.25, 1.5} ms with its burst:
/// (40 ms, 1 ms) 57.0%, (30, 1.25) 56.8%, (60, 0.75) 55.8%, (80, 0.5) 53.7%, (120, 0)
/// 51.9%, none 42.4%; SGLang (20 ms, 1 ms) 68.2%, (120, 0) 68.2%, (60, 0.75) 67.5%, none
/// 59.1%; vLLM none 55.2% (any F or L lowers it: (20 ms, 0) 49.1% with its burst refitted
/// 57.0% but Qwen3-32B's 75% → 67%), so vLLM has none.
pub const FIRST_TOKEN_TRTLLM: (f64, f64) = (40e-3, 1e-3);
pub const FIRST_TOKEN_SGLANG: (f64, f64) = (20e-3, 1e-3);

impl Engine {
    /// The documented defaults of each framework; unknown or absent: vLLM's.
    ///
    /// - TensorRT-LLM: `KvCacheConfig.free_gpu_memory_fraction = 0.9` of the memory free
    ///   after loading, 32-token blocks, the `GUARANTEED_NO_EVICT` capacity scheduler (a
    ///   request is admitted with room for its whole output); chunked prefill beside the
    ///   decode batch. It does not wait for a slot here: in the measured deployments its
    ///   rows whose concurrency cannot be resident (Qwen3-32B TP1 on H100 at 64-128
    ///   clients) show no slot wait in TTFT but a doubled TPOT, pre-emption churn that is
    ///   not modelled (docs/validation.md).
    /// - vLLM: `gpu_memory_utilization = 0.9` of the whole GPU, 16-token blocks,
    ///   admission on the prompt with pre-emption, chunked prefill beside decode (V1).
    /// - SGLang: `mem_fraction_static` (chosen at start-up, ~0.88 on 80-141 GB GPUs) of
    ///   the whole GPU for weights and KV, one-token pages, admission reserving part of
    ///   the output (`new_token_ratio`, which decays to 0.1..0.7 of it; 0.5 here); waiting
    ///   prompts are prefilled before the next decode step.
    pub fn of(framework: Option<&str>) -> Engine {
        let vllm = Engine {
            fraction: 0.9,
            of_free: false,
            runtime: RUNTIME_BYTES,
            block: 16,
            reserve_output: 0.5,
            waits_for_slot: true,
            prefill_first: false,
            burst: BURST_VLLM,
            first_token: (0.0, 0.0),
            moe_dense_reads: None,
        };
        match framework {
            Some("trtllm") => Engine {
                of_free: true,
                block: 32,
                reserve_output: 1.0,
                waits_for_slot: false,
                burst: BURST_TRTLLM,
                first_token: FIRST_TOKEN_TRTLLM,
                ..vllm
            },
            Some("sglang") => Engine { fraction: 0.88, block: 1, prefill_first: true, first_token: FIRST_TOKEN_SGLANG, ..vllm },
            _ => vllm,
        }
    }
}
