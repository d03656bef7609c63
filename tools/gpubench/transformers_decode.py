#!/usr/bin/env python3
"""Decode speed of Hugging Face transformers on the Qwen2.5-0.5B shape.

The peer measurement for `paritycheck bench --backend cuda` (docs/PERFORMANCE.md):
a Qwen2 model of synth's qwen2.5-0.5b shape (d 896, 24 layers, 14/2 heads,
ff 4864, vocab 151936, tied embeddings) with random F16 weights, batch 1,
a 64-token prompt, greedy decoding of 128 tokens. Modes: eager (dynamic
cache), static (static cache, compiled by transformers itself) and compile
(static cache + torch.compile of the forward, reduce-overhead). Prints one
JSON object per mode; run each mode in its own process when one may crash
(torch.compile with CUDA graphs has segfaulted at exit with transformers 5).

    python3 tools/gpubench/transformers_decode.py [--modes eager,compile] [-n 128]
"""
import argparse
import json
import time

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM


def model():
    cfg = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                      max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    m = Qwen2ForCausalLM(cfg).to(dtype=torch.float16, device="cuda").eval()
    return m


def timed_generate(m, ids, n, **kw):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = m.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, **kw)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--prompt-len", type=int, default=64)
    a = ap.parse_args()
    m = model()
    ids = torch.randint(0, 151936, (1, a.prompt_len), device="cuda")
    for mode in a.modes.split(","):
        kw = {}
        if mode == "static":
            # Static cache; transformers compiles the decode step itself
            # (generation_config.compile_config) when the model allows it.
            kw = {"cache_implementation": "static"}
        elif mode == "compile":
            kw = {"cache_implementation": "static", "disable_compile": True}
            m.forward = torch.compile(m.forward, mode="reduce-overhead", fullgraph=True)
        elif mode != "eager":
            raise SystemExit(f"unknown mode {mode!r} (eager, static, compile)")
        try:
            for _ in range(2):  # warm-up (and compilation)
                timed_generate(m, ids, a.n, **kw)
            t1, _ = timed_generate(m, ids, 1, **kw)
            tn, _ = timed_generate(m, ids, a.n, **kw)
            dec = (a.n - 1) / max(tn - t1, 1e-9)
            print(json.dumps({"peer": "transformers", "mode": mode, "transformers": transformers.__version__,
                              "torch": torch.__version__, "device": torch.cuda.get_device_name(0),
                              "prompt_len": a.prompt_len, "n": a.n, "prefill_plus_first_s": round(t1, 5),
                              "decode_tok_s": round(dec, 1)}), flush=True)
        except Exception as e:  # report and go on to the next mode
            print(json.dumps({"peer": "transformers", "mode": mode, "error": repr(e)[:400]}), flush=True)


if __name__ == "__main__":
    main()
