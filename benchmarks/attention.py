"""Attention cost against sequence length: naive formula vs raw SDPA vs attnkit's default path.

    .venv/bin/python benchmarks/attention.py            # full run, updates RESULTS.md + PNG
    .venv/bin/python benchmarks/attention.py --quick    # T <= 1024, fewer rounds, prints only

Method (see ../shared/docs/benchmarking.md):
- time: the three implementations run in one process, interleaved round-robin with the order
  rotated each round; each sample repeats the call until it lasts >= 50 ms; we report the median
  per-call time and the median of the per-round ratios. One thread by default, because 2-thread
  timings on a shared 2-core machine are distorted by any other load.
- memory: each (implementation, T) runs in a fresh process; the peak RSS of one call minus the RSS
  just before it (Linux VmHWM, reset through /proc/self/clear_refs).

"attnkit default path" is what every attnkit model calls: ``get_backend("sdpa")`` through the
registry, with attnkit's shape checks and mask conventions.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from results_md import update_section

HERE = Path(__file__).resolve().parent
METHODS = ("naive", "sdpa_raw", "attnkit")


def naive(q, k, v, causal: bool):
    """softmax(QK^T / sqrt(d)) V exactly as written, materialising the (T, T) matrix."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, D) @ (B, H, D, T) -> (B, H, T, T)
    if causal:
        t = q.shape[-2]
        scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def make_fn(method: str, causal: bool):
    if method == "naive":
        return lambda q, k, v: naive(q, k, v, causal)
    if method == "sdpa_raw":
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    from attnkit.attention import get_backend

    attend = get_backend("sdpa")
    return lambda q, k, v: attend(q, k, v, is_causal=causal)[0]


def inputs(t: int, b: int, h: int, d: int):
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(b, h, t, d, generator=g) for _ in range(3))


def _sample(fn, args, min_s: float = 0.05) -> float:
    """Seconds per call, repeating the call until the sample lasts at least ``min_s``."""
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_s:
            return elapsed / n
        n = max(n * 2, int(n * min_s / max(elapsed, 1e-6)) + 1)


def time_all(t: int, causal: bool, rounds: int, shape) -> dict:
    args = inputs(t, *shape)
    fns = {m: make_fn(m, causal) for m in METHODS}
    with torch.no_grad():
        for fn in fns.values():  # warm-up: allocation, kernel selection
            fn(*args)
        per: dict[str, list[float]] = {m: [] for m in METHODS}
        for r in range(rounds):
            order = METHODS[r % 3 :] + METHODS[: r % 3]
            for m in order:
                per[m].append(_sample(fns[m], args))
    ratio_raw = [a / s for a, s in zip(per["attnkit"], per["sdpa_raw"], strict=True)]
    ratio_naive = [n / a for n, a in zip(per["naive"], per["attnkit"], strict=True)]
    return {
        "time_ms": {m: 1e3 * statistics.median(v) for m, v in per.items()},
        "attnkit_over_raw": statistics.median(ratio_raw),
        "attnkit_over_raw_range": [min(ratio_raw), max(ratio_raw)],
        "naive_over_attnkit": statistics.median(ratio_naive),
        "naive_over_attnkit_range": [min(ratio_naive), max(ratio_naive)],
    }


def overhead(rounds: int, shape) -> dict:
    """Wrapper cost in isolation: tiny T (where it is largest relative to the kernel) and a
    padding-masked T=1024 call (attnkit adds the fully-masked-row guard there)."""
    out = {}
    from attnkit.attention import get_backend
    from attnkit.data import masks

    attend = get_backend("sdpa")
    for t, masked in ((16, False), (1024, True)):
        q, k, v = inputs(t, *shape)
        keep = None
        if masked:
            lengths = torch.tensor([t - t // 4] * shape[0])
            keep = masks.expand_padding(masks.lengths_to_padding_mask(lengths, t))  # (B, 1, 1, S)
        fns = {
            "sdpa_raw": lambda q=q, k=k, v=v, m=keep: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
            "attnkit": lambda q=q, k=k, v=v, m=keep: attend(q, k, v, mask=m)[0],
        }
        with torch.no_grad():
            for fn in fns.values():
                fn()
            per: dict[str, list[float]] = {m: [] for m in fns}
            for r in range(rounds):
                for m in list(fns) if r % 2 == 0 else list(fns)[::-1]:
                    per[m].append(_sample(fns[m], ()))
        ratios = [a / b for a, b in zip(per["attnkit"], per["sdpa_raw"], strict=True)]
        out[f"T={t}{' padding mask' if masked else ''}"] = {
            "raw_us": 1e6 * statistics.median(per["sdpa_raw"]),
            "attnkit_us": 1e6 * statistics.median(per["attnkit"]),
            "ratio": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
        }
    return out


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(method: str, t: int, causal: bool, shape) -> None:
    """Run in a fresh process: print the peak extra RSS (MiB) of one call."""
    args = inputs(t, *shape)
    fn = make_fn(method, causal)
    with torch.no_grad():
        before = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        out = fn(*args)
        peak = _status_kib("VmHWM")
    del out
    print(json.dumps({"extra_mib": (peak - before) / 1024}))


def memory_all(t: int, causal: bool, shape, threads: int) -> dict:
    res = {}
    for m in METHODS:
        cmd = [
            sys.executable,
            __file__,
            "--_child",
            m,
            str(t),
            str(int(causal)),
            "--threads",
            str(threads),
            "--shape",
            *map(str, shape),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        res[m] = json.loads(out.strip().splitlines()[-1])["extra_mib"]
    return res


def slope(ts: list[int], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(T): 1 = linear, 2 = quadratic."""
    xs = [math.log(t) for t in ts]
    ls = [math.log(max(y, 1e-3)) for y in ys]
    mx, my = statistics.fmean(xs), statistics.fmean(ls)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ls, strict=True)) / sum((x - mx) ** 2 for x in xs)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        "naive": ("tab:red", "naive softmax(QKᵀ)V"),
        "sdpa_raw": ("tab:gray", "raw F.sdpa"),
        "attnkit": ("tab:blue", "attnkit default (sdpa backend)"),
    }
    for causal, ls in ((False, "-"), (True, "--")):
        rows = [r for r in results["rows"] if r["causal"] == causal]
        ts = [r["T"] for r in rows]
        for m, (color, label) in styles.items():
            lab = f"{label}{' causal' if causal else ''}"
            kw = {"lw": 5, "alpha": 0.35} if m == "sdpa_raw" else {"lw": 1.5}  # raw under attnkit
            axes[0].plot(
                ts, [r["time_ms"][m] for r in rows], ls, color=color, marker="o", ms=3, label=lab, **kw
            )
            axes[1].plot(
                ts,
                [max(r["mem_mib"][m], 0.01) for r in rows],
                ls,
                color=color,
                marker="o",
                ms=3,
                label=lab,
                **kw,
            )
    for ax, title, unit in ((axes[0], "time per forward", "ms"), (axes[1], "peak extra memory", "MiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    b, h, d = results["shape"]
    fig.suptitle(
        f"attention forward, B={b} H={h} D={d}, fp32, {results['threads']} thread(s), "
        f"torch {results['torch']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(results: dict) -> str:
    b, h, d = results["shape"]
    lines = [
        f"Command: `{results['command']}`  ",
        f"Machine: {results['cpu']}, {results['threads']} thread(s), torch {results['torch']}, "
        f"{results['date']}. Shape B={b}, H={h}, D={d}, fp32, forward only. Times are medians of "
        f"{results['rounds']} interleaved rounds; ratios are medians of per-round ratios [min–max].",
        "",
        "| causal | T | naive ms | raw SDPA ms | attnkit ms | attnkit / raw | naive / attnkit "
        "| naive MiB | raw MiB | attnkit MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        tm, mm = r["time_ms"], r["mem_mib"]
        lo, hi = r["attnkit_over_raw_range"]
        nlo, nhi = r["naive_over_attnkit_range"]
        lines.append(
            f"| {'yes' if r['causal'] else 'no'} | {r['T']} | {tm['naive']:.2f} | {tm['sdpa_raw']:.2f} | "
            f"{tm['attnkit']:.2f} | {r['attnkit_over_raw']:.3f} [{lo:.2f}–{hi:.2f}] | "
            f"{r['naive_over_attnkit']:.2f} [{nlo:.1f}–{nhi:.1f}] | {mm['naive']:.1f} | "
            f"{mm['sdpa_raw']:.1f} | {mm['attnkit']:.1f} |"
        )
    if results.get("overhead"):
        lines += [
            "",
            "Wrapper overhead (same process, interleaved; raw SDPA given the same bool mask):",
            "",
            "| case | raw SDPA µs | attnkit µs | attnkit / raw |",
            "|---|---|---|---|",
        ]
        for case, o in results["overhead"].items():
            lo, hi = o["ratio_range"]
            lines.append(
                f"| {case} | {o['raw_us']:.1f} | {o['attnkit_us']:.1f} | "
                f"{o['ratio']:.3f} [{lo:.2f}–{hi:.2f}] |"
            )
    lines += ["", "Targets:", ""]
    for t in results["targets"]:
        lines.append(f"- {t['what']}: **{t['value']}** ({'meets' if t['ok'] else 'MISSES'} {t['target']})")
    lines += ["", "![attention time and memory](attention.png)"]
    return "\n".join(lines)


def targets(results: dict) -> list[dict]:
    rows = {(r["T"], r["causal"]): r for r in results["rows"]}
    out = []
    if (1024, False) in rows:
        v = rows[(1024, False)]["attnkit_over_raw"]
        out.append(
            {
                "what": "attnkit / raw SDPA time at T=1024 (non-causal)",
                "value": f"{v:.3f}x",
                "target": "≤ 1.05x",
                "ok": v <= 1.05,
            }
        )
    if (1024, True) in rows:
        v = rows[(1024, True)]["attnkit_over_raw"]
        out.append(
            {
                "what": "attnkit / raw SDPA time at T=1024 (causal)",
                "value": f"{v:.3f}x",
                "target": "≤ 1.05x",
                "ok": v <= 1.05,
            }
        )
    if (2048, False) in rows:
        v = rows[(2048, False)]["naive_over_attnkit"]
        out.append(
            {
                "what": "naive / attnkit time at T=2048 (non-causal)",
                "value": f"{v:.2f}x",
                "target": "≥ 3x",
                "ok": v >= 3,
            }
        )
    for causal in (False, True):
        big = sorted(t for (t, c) in rows if c == causal and t >= 1024)
        if len(big) >= 2:
            for m in ("attnkit", "naive"):
                s = slope(big, [rows[(t, causal)]["mem_mib"][m] for t in big])
                want_linear = m == "attnkit"
                out.append(
                    {
                        "what": f"{m} memory growth exponent, T≥1024{' causal' if causal else ''} "
                        "(log-log slope; 1 = O(T), 2 = O(T²))",
                        "value": f"{s:.2f}",
                        "target": "≈ 1 (O(T))" if want_linear else "≈ 2 expected for the naive formula",
                        "ok": s < 1.3 if want_linear else True,
                    }
                )
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096, 8192])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--shape", type=int, nargs=3, default=[1, 8, 64], metavar=("B", "H", "D"))
    p.add_argument("--quick", action="store_true", help="T <= 1024, 3 rounds, no files written")
    p.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a._child:
        m, t, c = a._child
        memory_child(m, int(t), bool(int(c)), a.shape)
        return
    if a.quick:
        a.lengths, a.rounds = [t for t in a.lengths if t <= 1024], 3
    results = {
        "command": "python " + " ".join(["benchmarks/attention.py", *sys.argv[1:]]),
        "cpu": cpu_name(),
        "threads": a.threads,
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "rounds": a.rounds,
        "shape": a.shape,
        "rows": [],
    }
    for t in a.lengths:
        for causal in (False, True):
            # Fewer rounds where one naive call takes seconds; the ratios are stable there.
            rounds = a.rounds if t <= 2048 else max(3, a.rounds // 2)
            row = {
                "T": t,
                "causal": causal,
                **time_all(t, causal, rounds, a.shape),
                "mem_mib": memory_all(t, causal, a.shape, a.threads),
            }
            results["rows"].append(row)
            tm = row["time_ms"]
            print(
                f"T={t:5d} causal={causal!s:5} naive {tm['naive']:9.2f} ms  raw {tm['sdpa_raw']:8.2f} ms  "
                f"attnkit {tm['attnkit']:8.2f} ms  attnkit/raw {row['attnkit_over_raw']:.3f}  "
                f"naive/attnkit {row['naive_over_attnkit']:.2f}  mem MiB {row['mem_mib']}",
                flush=True,
            )
    results["overhead"] = overhead(a.rounds, a.shape)
    for case, o in results["overhead"].items():
        print(
            f"overhead {case}: raw {o['raw_us']:.1f} us, attnkit {o['attnkit_us']:.1f} us, "
            f"ratio {o['ratio']:.3f}",
            flush=True,
        )
    results["targets"] = targets(results)
    for tg in results["targets"]:
        print(f"{'OK  ' if tg['ok'] else 'MISS'} {tg['what']}: {tg['value']} (target {tg['target']})")
    if a.quick:
        return
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "attention.json").write_text(json.dumps(results, indent=1))
    plot(results, HERE / "attention.png")
    update_section("attention", "Attention: naive vs raw SDPA vs attnkit (CPU)", markdown(results))
    print(f"wrote {HERE / 'RESULTS.md'} and {HERE / 'attention.png'}")


if __name__ == "__main__":
    main()
