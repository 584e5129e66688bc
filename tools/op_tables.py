#!/usr/bin/env python3
"""Derives hplanc's op tables (stdlib/tables/<system>.csv) from the measured kernel
tables of aiconfigurator-core 0.12.0's performance database (NVIDIA, Apache-2.0; see
stdlib/tables/NOTICE.md), a folder of <system>/*.csv.gz kept outside the repository
(28 MB; docs/reference/kernels/ keeps only the MoE all-to-all tables). Rows are copied, never altered; only a subset
of shapes is kept: the grid the cost model interpolates over (for MoE layers, one routing
distribution of the three measured: MOE_ROUTING, default power_law_1.01). Units: latency_us is the
source's ms x 1000; bytes is the source's message_size (elements) x 2 (bf16).

    python3 tools/op_tables.py [REFERENCE_DIR]

The format is documented in docs/op-tables.md.
"""
import csv, gzip, os, sys

REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "kernels")
OUT = os.path.join(os.path.dirname(__file__), "..", "stdlib", "tables")
SYSTEMS = ["h100_sxm", "h200_sxm", "b200_sxm", "gb200", "gb300"]
DTYPES = {"bfloat16": "bf16", "fp8": "fp8", "nvfp4": "fp4"}
# GEMM grid: tokens at powers of two, feature sizes that bracket the stdlib models'
# projections after tensor parallelism (plus 51200 and 65536 for wide FFNs).
GEMM_M = [2**i for i in range(15)]
GEMM_N = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 51200, 65536]
GEMM_K = GEMM_N[:-1]  # 65536 x 65536 was not measured
# Attention shapes (query heads, KV heads per GPU) of the stdlib GQA models
# (Llama-3.1 8B/70B/405B, Qwen3-32B/235B) at tensor parallelism 1, 2, 4 and 8; head_dim 128.
ATTN_HEADS = sorted({(h // tp, max(kv // tp, 1)) for h, kv in [(32, 8), (64, 8), (128, 8), (64, 4)] for tp in (1, 2, 4, 8)})
# MoE layers (hidden, expert intermediate, top-k, experts) of the stdlib MoE models the
# tables measured: Qwen3-235B-A22B. Op `moe`: experts spread over the GPUs (moe_tp = 1,
# gpus = moe_ep); op `moe_tp`: every expert split by width over the GPUs (moe_ep = 1,
# gpus = moe_tp). Routing skewed as measured with a power law of exponent 1.01 over the
# experts (MOE_ROUTING).
MOE_SHAPES = [(4096, 1536, 8, 128)]
MOE_ROUTING = os.environ.get("MOE_ROUTING", "power_law_1.01")
COLS = ["op", "dtype", "m", "n", "k", "batch", "context", "heads", "kv_heads", "head_dim", "gpus", "bytes", "experts", "topk", "latency_us"]


def rows(system, name):
    with gzip.open(os.path.join(REF, system, name + ".csv.gz"), "rt") as f:
        yield from csv.DictReader(f)


def us(ms):
    return f"{float(ms) * 1000:.6g}"


def main():
    os.makedirs(OUT, exist_ok=True)
    for system in SYSTEMS:
        out = []
        gemm = {}
        for r in rows(system, "gemm"):
            d = DTYPES.get(r["gemm_dtype"])
            m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
            if d and m in GEMM_M and n in GEMM_N and k in GEMM_K:
                gemm[(d, m, n, k)] = r["latency"]
        for d in sorted(set(DTYPES.values())):
            # a full grid only: the largest m whose every (n, k) was measured
            ms = [m for m in GEMM_M if all((d, m, n, k) in gemm for n in GEMM_N for k in GEMM_K)]
            for m in ms:
                for n in GEMM_N:
                    for k in GEMM_K:
                        out.append({"op": "gemm", "dtype": d, "m": m, "n": n, "k": k, "latency_us": us(gemm[(d, m, n, k)])})
        for op, src in [("attn_decode", "generation_attention"), ("attn_prefill", "context_attention")]:
            seen = {}
            for r in rows(system, src):
                if r["head_dim"] != "128" or r["window_size"] != "0" or r["attn_dtype"] != "bfloat16":
                    continue
                hk = (int(r["num_heads"]), int(r["num_key_value_heads"]))
                d = DTYPES.get(r["kv_cache_dtype"])
                if hk not in ATTN_HEADS or d is None:
                    continue
                b = int(r["batch_size"])
                if op == "attn_prefill" and b != 1:
                    continue
                ctx = int(r["step"]) if op == "attn_decode" else int(r["isl"])
                seen[(d, hk, b, ctx)] = r["latency"]
            for (d, (h, kv), b, ctx), lat in sorted(seen.items()):
                out.append({"op": op, "dtype": d, "batch": b, "context": ctx, "heads": h, "kv_heads": kv, "head_dim": 128, "latency_us": us(lat)})
        for r in rows(system, "custom_allreduce"):
            if r["allreduce_dtype"] == "bfloat16":
                out.append({"op": "allreduce", "dtype": "bf16", "gpus": r["num_gpus"], "bytes": int(r["message_size"]) * 2, "latency_us": us(r["latency"])})
        moe = {}
        for r in rows(system, "moe"):
            d = DTYPES.get(r["moe_dtype"])
            shape = (int(r["hidden_size"]), int(r["inter_size"]), int(r["topk"]), int(r["num_experts"]))
            if not d or shape not in MOE_SHAPES or r["distribution"] != MOE_ROUTING:
                continue
            tp, ep = int(r["moe_tp_size"]), int(r["moe_ep_size"])
            if tp == 1:
                moe[("moe", d, shape, ep, int(r["num_tokens"]))] = r["latency"]
            elif ep == 1:
                moe[("moe_tp", d, shape, tp, int(r["num_tokens"]))] = r["latency"]
        for (op, d, (h, i, k, e), gpus, tokens), lat in sorted(moe.items()):
            out.append({"op": op, "dtype": d, "m": tokens, "n": i, "k": h, "experts": e, "topk": k, "gpus": gpus, "latency_us": us(lat)})
        path = os.path.join(OUT, system + ".csv")
        with open(path, "w", newline="") as f:
            f.write(f"# Per-op latencies measured on {system} with TensorRT-LLM 1.3.0rc20 (aiconfigurator-core 0.12.0,\n")
            f.write("# NVIDIA, Apache-2.0: stdlib/tables/NOTICE.md). A subset of the measured rows, unchanged;\n")
            f.write("# written by tools/op_tables.py. Format: docs/op-tables.md.\n")
            w = csv.DictWriter(f, COLS, lineterminator="\n")
            w.writeheader()
            w.writerows(out)
        print(system, len(out), "rows", os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
