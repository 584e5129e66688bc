//! Serving engines as they admit and schedule requests (docs/cost-model.md §11): the KV
//! cache an engine allocates after the weights and its own runtime memory, in blocks, the
//! largest number of sequences it then runs at once, what happens to the requests beyond
//! that, and whether waiting prompts are prefilled before decoding resumes. A planner that
//! counts all of HBM as KV cache over-predicts the batch, and so the throughput,
//! several-fold.

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
}

/// The runtime's own memory per GPU outside weights and KV cache, fitted to
/// `../shared/reference/measured/deployments.csv` (docs/cost-model.md §11): swept over
/// 1-6 GB with every row evaluated, 3 GB puts the most rows' TTFT within ±25% (1 GB
/// 24.9%, 2 GB 25.1%, 3 GB 25.8%, 4 GB 25.3%; at 5 GB and more some rows' weights leave
/// no cache at all). The rows that pin it are those whose engine cannot admit the whole
/// client concurrency (Qwen3-32B TP1 on H100 under SGLang waits 7-89 s for a slot). It
/// stands for the CUDA context (~0.5 GB), CUDA graphs (~1 GB) and the activations of an
/// 8192-token prompt chunk (~1-2 GB for 32B-class models).
pub const RUNTIME_BYTES: f64 = 3.0e9;

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
        };
        match framework {
            Some("trtllm") => Engine { of_free: true, block: 32, reserve_output: 1.0, waits_for_slot: false, ..vllm },
            Some("sglang") => Engine { fraction: 0.88, block: 1, prefill_first: true, ..vllm },
            _ => vllm,
        }
    }

    /// KV-cache bytes per GPU the engine allocates on a GPU of `capacity` bytes holding
    /// `weights` bytes of weights: `f·(C − W − R)` when the fraction is of free memory,
    /// `f·C − W − R` otherwise; never negative.
    pub fn kv_capacity(&self, capacity: f64, weights: f64) -> f64 {
        let kv = if self.of_free {
            self.fraction * (capacity - weights - self.runtime)
        } else {
            self.fraction * capacity - weights - self.runtime
        };
        kv.max(0.0)
    }

    /// Tokens a sequence of `input` prompt and `output` answer tokens holds at admission,
    /// in whole blocks: `⌈(S + ρ·O) / blk⌉·blk`.
    pub fn tokens_per_sequence(&self, input: u64, output: u64) -> u64 {
        let t = input as f64 + self.reserve_output * output as f64;
        let blk = self.block.max(1);
        (t.ceil() as u64).div_ceil(blk) * blk
    }

    /// The most sequences one GPU's share admits: `⌊KV / (tokens · kv_bytes_per_token)⌋`,
    /// with `kv_per_token` the bytes one token's cache takes on this GPU.
    pub fn admitted(&self, capacity: f64, weights: f64, kv_per_token: f64, input: u64, output: u64) -> u64 {
        let per_seq = self.tokens_per_sequence(input, output) as f64 * kv_per_token;
        if per_seq <= 0.0 {
            return u64::MAX;
        }
        let n = (self.kv_capacity(capacity, weights) / per_seq).floor();
        if n >= u64::MAX as f64 {
            u64::MAX
        } else {
            n as u64
        }
    }
}

/// Mean wait for a slot in a closed loop of `clients` that each send their next request
/// when the previous one ends, served `slots` at a time, each request holding its slot
/// for `service` seconds: the loop completes `slots/service` requests per second
/// (Little's law), so a request's cycle is `clients·service/slots` and its wait
/// `service·(clients/slots − 1)`; zero when every client has a slot.
pub fn closed_loop_wait(clients: u64, slots: u64, service: f64) -> f64 {
    if slots == 0 || clients <= slots {
        return 0.0;
    }
    service * (clients as f64 / slots as f64 - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_capacity_of_whole_and_of_free_memory() {
        let v = Engine {
            fraction: 0.9,
            of_free: false,
            runtime: 3e9,
            block: 16,
            reserve_output: 0.5,
            waits_for_slot: true,
            prefill_first: false,
        };
        // 0.9·80 − 16 − 3 = 53 GB
        assert!((v.kv_capacity(80e9, 16e9) - 53e9).abs() < 1.0);
        let t = Engine { of_free: true, ..v };
        // 0.9·(80 − 16 − 3) = 54.9 GB
        assert!((t.kv_capacity(80e9, 16e9) - 54.9e9).abs() < 1.0);
        // weights that leave nothing give no cache, not a negative one
        assert_eq!(v.kv_capacity(80e9, 79e9), 0.0);
    }

    #[test]
    fn sequences_hold_whole_blocks() {
        let t = Engine::of(Some("trtllm"));
        // 1000 + 100 = 1100 tokens -> 35 blocks of 32 = 1120
        assert_eq!(t.tokens_per_sequence(1000, 100), 1120);
        let v = Engine::of(Some("vllm"));
        // 1000 + 50 = 1050 -> 66 blocks of 16 = 1056
        assert_eq!(v.tokens_per_sequence(1000, 100), 1056);
        let s = Engine::of(Some("sglang"));
        assert_eq!(s.tokens_per_sequence(1000, 101), 1051);
    }

    #[test]
    fn admitted_sequences_by_hand() {
        // Qwen3-32B BF16 on one 80 GB GPU under SGLang: 0.88·80 − 65.5 − 3 = 1.9 GB of
        // cache at 262,144 B per token (64 layers · 8 kv heads · 128 · 2 · 2 B): 7,248
        // tokens, so 6 sequences of 1024 + 64.
        let s = Engine::of(Some("sglang"));
        assert_eq!(s.admitted(80e9, 65.5e9, 262_144.0, 1024, 128), 6);
        // Llama-3.1-8B on the same GPU: 0.88·80 − 16.06 − 3 = 51.34 GB over 1088 tokens of
        // 131,072 B = 142.6 MB per sequence: 360.01, so 360
        assert_eq!(s.admitted(80e9, 16.06e9, 131_072.0, 1024, 128), 360);
        // TensorRT-LLM: 0.9 of what is free, room for the whole output, 32-token blocks:
        // 0.9·(80 − 16.06 − 3) = 54.85 GB over 1152 tokens · 131,072 B = 151.0 MB: 363.2
        let t = Engine::of(Some("trtllm"));
        assert_eq!(t.admitted(80e9, 16.06e9, 131_072.0, 1024, 128), 363);
    }

    #[test]
    fn closed_loop_wait_is_littles_law() {
        assert_eq!(closed_loop_wait(16, 16, 2.0), 0.0);
        assert_eq!(closed_loop_wait(8, 16, 2.0), 0.0);
        // 16 clients on 6 slots of 2 s each: one cycle is 16·2/6 s, the wait 2·(16/6 − 1)
        assert!((closed_loop_wait(16, 6, 2.0) - 2.0 * (16.0 / 6.0 - 1.0)).abs() < 1e-12);
    }
}
