"""Speed on one CUDA GPU: GPT-2-small training and decoding against HF, and attention at long T.

    python benchmarks/lm_speed_gpu.py --json out.json           # on the GPU machine
    python benchmarks/lm_speed_gpu.py --render out.json         # here: writes RESULTS.md's section

Training: tokens/s of one optimizer step (forward, backward, clip, fused AdamW) at the GPT-2-small
shape, B=16 x T=1024, bf16 autocast: attnkit's ``Trainer.train_step`` against HF
``GPT2LMHeadModel`` and a nanoGPT-style model in plain loops (eager, then ``torch.compile`` for
attnkit and HF). Decoding: new tokens/s of greedy decoding with a KV cache in bf16 weights,
``generate_ids`` against HF ``generate``. Attention: forward+backward time and peak memory of each
backend at growing T (the O(n^2) question of the seed's FAQ). Implementations are interleaved
round-robin in one process, the GPU synchronised around every timed call; figures are medians,
ratios medians of per-round ratios. Each section is saved as it finishes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from lm_speed import NanoGPT, attnkit_cfg, hf_gpt2, hf_greedy, speed_trainer, summarise  # noqa: E402
from results_md import update_section  # noqa: E402

from attnkit.config import DecodeConfig  # noqa: E402
from attnkit.decode import generate_ids  # noqa: E402
from attnkit.models import Decoder  # noqa: E402

GPT2S = (50257, 768, 12, 12, 1024)


def interleave_cuda(fns: dict, rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each fn, synchronised, round-robin with the order rotated per round."""
    names = list(fns)
    per = {n: [] for n in names}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    torch.cuda.synchronize()
    for r in range(rounds):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            fns[n]()
            torch.cuda.synchronize()
            per[n].append(time.perf_counter() - t0)
    return per


def bench_training(b: int, steps: int, rounds: int, compile_: bool) -> dict:
    v, c, n_layer, h, t = GPT2S
    dev = torch.device("cuda")
    trainer = speed_trainer(GPT2S, b, "bf16", "cuda")
    models = {"hf": hf_gpt2(v, c, n_layer, h, t).to(dev)}
    if not compile_:
        models["nanogpt"] = NanoGPT(v, c, n_layer, h, t).to(dev)
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4, fused=True) for k, m in models.items()}
    runners = {k: (torch.compile(m) if compile_ else m) for k, m in models.items()}
    ours = torch.compile(trainer.model) if compile_ else trainer.model
    gen = torch.Generator().manual_seed(0)

    def plain(name):
        def step():
            for _ in range(steps):
                x = torch.randint(0, v, (b, t + 1), generator=gen).to(dev, non_blocking=True)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    if name == "hf":
                        loss = runners[name](x[:, :-1], labels=x[:, :-1]).loss
                    else:
                        loss = runners[name](x[:, :-1], x[:, 1:])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(models[name].parameters(), 1.0)
                opts[name].step()
                opts[name].zero_grad(set_to_none=True)

        return step

    def attnkit_step():
        for _ in range(steps):
            trainer.train_step(ours)

    fns = {"attnkit": attnkit_step, **{k: plain(k) for k in models}}
    t0 = time.perf_counter()
    for fn in fns.values():  # compilation (or the first CUDA kernels) happens here
        fn()
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    per = interleave_cuda(fns, rounds, warmup=0)
    res = summarise(per, steps * b * t, "hf")
    if "nanogpt" in per:
        res["attnkit"]["vs_nanogpt"] = statistics.median(
            [per["nanogpt"][i] / per["attnkit"][i] for i in range(rounds)]
        )
    res["params"] = {
        "attnkit": trainer.model.num_parameters(),
        **{k: sum(p.numel() for p in m.parameters()) for k, m in models.items()},
    }
    res["first_calls_s"] = warm_s
    res["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return res


def bench_generation(b: int, prompt_len: int, new: int, rounds: int) -> dict:
    v, c, n_layer, h, t = GPT2S
    dev = torch.device("cuda")
    torch.manual_seed(0)
    ours = Decoder(attnkit_cfg(v, c, n_layer, h, t)).to(dev, torch.bfloat16).eval()
    hf = hf_gpt2(v, c, n_layer, h, t).to(dev, torch.bfloat16).eval()
    prompt = torch.randint(0, v, (b, prompt_len), device=dev)
    dcfg = DecodeConfig(max_new_tokens=new, temperature=0)

    eager_cfg = dataclasses.replace(dcfg, cuda_graphs=False)

    @torch.no_grad()
    def run_ours():
        ids = list(generate_ids(ours, prompt, dcfg))
        assert len(ids) == new

    @torch.no_grad()
    def run_ours_eager():
        ids = list(generate_ids(ours, prompt, eager_cfg))
        assert len(ids) == new

    with torch.no_grad():  # the same greedy tokens with and without graphs
        same = torch.equal(
            torch.stack(list(generate_ids(ours, prompt, dcfg))),
            torch.stack(list(generate_ids(ours, prompt, eager_cfg))),
        )
    per = interleave_cuda(
        {"attnkit": run_ours, "attnkit_eager": run_ours_eager, "hf": lambda: hf_greedy(hf, prompt, new)},
        rounds,
    )
    return summarise(per, b * new, "hf") | {"graph_tokens_equal_eager": same}


def bench_attention(lengths: list[int], rounds: int) -> list[dict]:
    """One causal (B=1, H=12, T, D=64) self-attention call in bf16: forward alone (no_grad), and
    forward + backward. ``tiled`` runs forward only: autograd keeps every tile's probabilities
    for its backward, which brings the O(T^2) memory back."""
    from attnkit.attention import get_backend

    rows = []
    for t in lengths:
        q, k, v = (
            torch.randn(1, 12, t, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            for _ in range(3)
        )
        for name in ("reference", "sdpa", "tiled", "linear", "triton"):
            if name in ("reference", "tiled") and t > 16384:
                continue  # fp32 (T, T) scores at 32k are 48 GiB; tiled's Python loop takes seconds
            fn = get_backend(name)
            for mode in ("fwd", "fwd+bwd"):
                if name == "tiled" and mode == "fwd+bwd":
                    continue

                def call(fn=fn, mode=mode, q=q, k=k, v=v):
                    if mode == "fwd":
                        with torch.no_grad():
                            fn(q, k, v, is_causal=True)
                    else:
                        out, _ = fn(q, k, v, is_causal=True)
                        out.sum().backward()

                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                row = {"backend": name, "T": t, "mode": mode}
                try:
                    per = interleave_cuda({name: call}, rounds)[name]
                    row |= {
                        "ms": 1e3 * statistics.median(per),
                        "peak_mib": (torch.cuda.max_memory_allocated() - base) / 2**20,
                    }
                except torch.OutOfMemoryError:
                    row["oom"] = True
                q.grad = k.grad = v.grad = None
                rows.append(row)
        print("attention", t, json.dumps([r for r in rows if r["T"] == t]), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--json", type=Path, help="where to save the results (saved after each section)")
    p.add_argument("--render", type=Path, help="write RESULTS.md's section from a saved JSON")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--sections",
        default="train_eager,gen,attention,train_compiled",
        help="comma-separated: which parts to run; with --json, earlier results there are kept",
    )
    a = p.parse_args()
    if a.render:
        update_section(
            "lm-speed-gpu", "Language-model speed (GPU)", markdown(json.loads(a.render.read_text()))
        )
        return
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; the CPU figures come from benchmarks/lm_speed.py")
    import transformers

    transformers.logging.set_verbosity_error()
    torch.backends.cuda.matmul.allow_tf32 = True
    want = set(a.sections.split(","))
    unknown = want - {"train_eager", "gen", "attention", "train_compiled"}
    if unknown:
        raise SystemExit(
            f"unknown --sections {sorted(unknown)}; choose from train_eager, gen, attention, train_compiled"
        )
    res = json.loads(a.json.read_text()) if a.json and a.json.exists() else {}
    res |= {
        "date": datetime.date.today().isoformat(),
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "rounds": a.rounds,
    }

    def save(key, value):
        res[key] = value
        print(key, json.dumps(value), flush=True)
        if a.json:
            a.json.write_text(json.dumps(res, indent=1))

    if "train_eager" in want:
        save("train_eager", bench_training(16, 3, a.rounds, compile_=False))
        torch.cuda.empty_cache()
    if "gen" in want:
        for b in (1, 8):
            save(f"gen_b{b}", bench_generation(b, 16, 128, a.rounds))
    if "attention" in want:
        save("attention", bench_attention([1024, 4096, 16384, 32768], 3))
        torch.cuda.empty_cache()
    if "train_compiled" in want:
        save("train_compiled", bench_training(16, 3, a.rounds, compile_=True))


def _ratio(d: dict, key: str) -> str:
    lo, hi = d[key + "_range"]
    return f"{d[key]:.2f}× [{lo:.2f}–{hi:.2f}]"


def markdown(res: dict) -> str:
    lines = [
        "Command: `python benchmarks/lm_speed_gpu.py --json out.json` on the GPU machine, then "
        "`--render out.json` here.  ",
        f"Machine: one {res['gpu']}, torch {res['torch']}, transformers {res['transformers']}, "
        f"{res['date']}. Medians of {res['rounds']} interleaved rounds, GPU synchronised around each "
        "timed call; ratios are medians of per-round ratios [min–max].",
        "",
        "Training at the GPT-2-small shape (12 layers, 768, 12 heads, 50,257 vocab), B=16 × T=1024, "
        "bf16 autocast, fused AdamW, clipping:",
        "",
        "| mode | attnkit tok/s | HF GPT2LMHeadModel tok/s | nanoGPT-style tok/s | attnkit / HF "
        "| peak GiB (all models) |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (("train_eager", "eager"), ("train_compiled", "torch.compile")):
        if key not in res:
            continue
        r = res[key]
        nano = f"{r['nanogpt']['per_s']:,.0f}" if "nanogpt" in r else "–"
        lines.append(
            f"| {label} | {r['attnkit']['per_s']:,.0f} | {r['hf']['per_s']:,.0f} | {nano} "
            f"| {_ratio(r['attnkit'], 'vs_hf')} | {r['peak_gib']:.1f} |"
        )
    lines += [
        "",
        "Greedy decoding with a KV cache, bf16 weights, 16-token prompt, exactly 128 new tokens:",
        "",
        "| batch | attnkit tok/s (CUDA graphs) | attnkit tok/s (eager loop) | HF generate tok/s "
        "| attnkit / HF | graph tokens = eager |",
        "|---|---|---|---|---|---|",
    ]
    for b in (1, 8):
        if f"gen_b{b}" in res:
            r = res[f"gen_b{b}"]
            eager = f"{r['attnkit_eager']['per_s']:,.0f}" if "attnkit_eager" in r else "–"
            lines.append(
                f"| {b} | {r['attnkit']['per_s']:,.0f} | {eager} | {r['hf']['per_s']:,.0f} "
                f"| {_ratio(r['attnkit'], 'vs_hf')} | {r.get('graph_tokens_equal_eager', '–')} |"
            )
    if "attention" in res:
        ts = sorted({r["T"] for r in res["attention"]})
        lines += [
            "",
            "One causal self-attention call, B=1, 12 heads, D=64, bf16: milliseconds / peak extra MiB "
            "(– not run: see the benchmark's docstring).",
            "",
            "| backend | pass | " + " | ".join(f"T={t:,}" for t in ts) + " |",
            "|---|---|" + "---|" * len(ts),
        ]
        for name in ("reference", "sdpa", "tiled", "linear", "triton"):
            for mode in ("fwd", "fwd+bwd"):
                cells = []
                for t in ts:
                    row = next(
                        (r for r in res["attention"] if (r["backend"], r["T"], r["mode"]) == (name, t, mode)),
                        None,
                    )
                    if row is None:
                        cells.append("–")
                    elif row.get("oom"):
                        cells.append("out of memory")
                    else:
                        cells.append(f"{row['ms']:.2f} / {row['peak_mib']:,.0f}")
                if any(c != "–" for c in cells):
                    lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
