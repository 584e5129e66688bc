//! Serving engines as they admit and schedule requests (docs/cost-model.md §11): the KV
//! cache an engine allocates after the weights and its own runtime memory, in blocks, the
//! largest number of sequences it then runs at once, what happens to the requests beyond
//! that, and whether waiting prompts are prefilled before decoding resumes. A planner that
//! counts all of HBM as KV cache over-predicts the batch, and so the throughput,
//! several-fold.

pub use crate::ir::engine::{Engine, RUNTIME_BYTES};

impl Engine {
    /// Bytes per GPU the engine lets weights and KV cache use together on a GPU of
    /// `capacity` bytes holding `weights` bytes of weights: `W + f·(C − W − R)` when the
    /// fraction is of free memory (`C − R` when the weights do not even fit that),
    /// `f·C − R` otherwise.
    pub fn usable(&self, capacity: f64, weights: f64) -> f64 {
        if !self.of_free {
            self.fraction * capacity - self.runtime
        } else if weights + self.runtime > capacity {
            capacity - self.runtime
        } else {
            weights + self.fraction * (capacity - weights - self.runtime)
        }
    }

    /// KV-cache bytes per GPU the engine allocates: what [`Engine::usable`] leaves after
    /// the weights, `f·(C − W − R)` or `f·C − W − R`; never negative.
    pub fn kv_capacity(&self, capacity: f64, weights: f64) -> f64 {
        (self.usable(capacity, weights) - weights).max(0.0)
    }

    /// Tokens a sequence of `input` prompt and `output` answer tokens holds at admission,
    /// in whole blocks: `⌈(S + ρ·O) / blk⌉·blk`.
    pub fn tokens_per_sequence(&self, input: u64, output: u64) -> u64 {
        let t = input as f64 + self.reserve_output * output as f64;
        let blk = self.block.max(1);
        (t.ceil() as u64).div_ceil(blk) * blk
    }

    /// Prompts that arrive together when `b` clients per rank of a closed-loop benchmark
    /// send alike requests: all `b` under an engine that prefills every waiting prompt
    /// first (it keeps the clients in step), else `β·b^γ` rounded, within `1..=b`.
    pub fn burst(&self, b: u64) -> u64 {
        if self.prefill_first {
            return b.max(1);
        }
        let (beta, gamma) = self.burst;
        ((beta * (b.max(1) as f64).powf(gamma)).round() as u64).clamp(1, b.max(1))
    }

    /// Seconds a request's first token takes beyond the engine's steps for a model of
    /// `layers` layers: `F + L·layers` ([`crate::ir::engine::FIRST_TOKEN_TRTLLM`]).
    pub fn first_token(&self, layers: u64) -> f64 {
        let (fixed, per_layer) = self.first_token;
        fixed + per_layer * layers as f64
    }

    /// The first-token latency of `model` on `chip` as a plan runs it: its engine's, or
    /// none when the plan names no framework.
    pub fn first_token_on(chip: &crate::ir::Chip, model: &crate::ir::Model) -> f64 {
        chip.engine.map_or(0.0, |e| e.first_token(model.layers))
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
    fn prompts_arrive_in_bursts_that_grow_slower_than_the_clients() {
        let e = Engine { burst: (1.75, 0.45), ..Engine::of(Some("vllm")) };
        // 1.75·8^0.45 = 4.46 → 4; 1.75·128^0.45 = 15.5 → 16 (rounded half away)
        assert_eq!(e.burst(8), 4);
        assert_eq!(e.burst(128), 16);
        // never more than the clients, never none
        assert_eq!(e.burst(1), 1);
        assert_eq!(e.burst(2), 2);
        assert_eq!(e.burst(0), 1);
        // an engine that prefills every waiting prompt first keeps them all in step
        let s = Engine::of(Some("sglang"));
        assert!(s.prefill_first);
        assert_eq!(s.burst(128), 128);
    }

    #[test]
    fn first_token_latency_is_fixed_plus_per_layer() {
        // TensorRT-LLM: 40 ms + 1 ms per layer; 94 layers (Qwen3-235B-A22B): 134 ms
        assert!((Engine::of(Some("trtllm")).first_token(94) - 0.134).abs() < 1e-12);
        // SGLang: 20 ms + 1 ms per layer; 32 layers (Llama-3.1-8B): 52 ms
        assert!((Engine::of(Some("sglang")).first_token(32) - 0.052).abs() < 1e-12);
        assert_eq!(Engine::of(Some("vllm")).first_token(94), 0.0);
        assert_eq!(Engine::of(None).first_token(64), 0.0);
    }

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
            burst: (1.0, 0.5),
            first_token: (0.0, 0.0),
            moe_dense_reads: None,
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
