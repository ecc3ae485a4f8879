"""Efficient attention backends: error against the float64 reference, time and memory against T.

    .venv/bin/python benchmarks/efficient_attention.py            # full run, updates RESULTS.md + PNG
    .venv/bin/python benchmarks/efficient_attention.py --quick    # T <= 1024, prints only

- error: float32 outputs of each backend against the float64 reference on the same inputs
  (``local:W`` against the reference restricted to its band; ``linear`` against full softmax
  attention, which it does not compute: that number is how far the function is from softmax,
  for random q, k at two scales);
- time: causal self-attention, B=1, H=4, D=64, one thread, the backends interleaved round-robin
  (median of the per-call times over rounds; ratios to ``sdpa`` per round);
- memory: peak extra RSS of one call, each (backend, T) in a fresh process.
Helpers (timing loop, RSS probes) are shared with ``benchmarks/attention.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from attention import _sample, _status_kib, cpu_name  # noqa: E402
from results_md import update_section  # noqa: E402

from attnkit.attention import get_backend  # noqa: E402
from attnkit.attention.reference import reference_attention  # noqa: E402
from attnkit.data.masks import sliding_window_mask  # noqa: E402

WINDOW = 128
BACKENDS = ("sdpa", "tiled", f"local:{WINDOW}", "linear", "reference")
SHAPE = (1, 4, 64)  # B, H, D


def _inputs(t: int, scale: float = 1.0, dtype=torch.float32):
    b, h, d = SHAPE
    g = torch.Generator().manual_seed(0)
    return tuple(
        (torch.randn(b, h, t, d, generator=g) * (scale if i < 2 else 1.0)).to(dtype) for i in range(3)
    )


def errors(t: int = 512) -> list[dict]:
    rows = []
    for scale in (1.0, 0.25):
        q, k, v = _inputs(t, scale, torch.float64)
        full, _ = reference_attention(q, k, v, is_causal=True)
        band, _ = reference_attention(q, k, v, mask=sliding_window_mask(t, WINDOW), is_causal=True)
        for name in BACKENDS[:-1]:
            want = band if name.startswith("local") else full
            got, _ = get_backend(name)(q.float(), k.float(), v.float(), is_causal=True)
            diff = got.double() - want
            rows.append(
                {
                    "backend": name,
                    "qk_scale": scale,
                    "against": "band reference" if name.startswith("local") else "softmax reference",
                    "max_abs": float(diff.abs().max()),
                    "rel_fro": float(diff.norm() / want.norm()),
                }
            )
    return rows


def _causal(be):
    return lambda q, k, v: be(q, k, v, is_causal=True)


def timings(ts: list[int], rounds: int) -> dict:
    torch.set_num_threads(1)
    out = {}
    for t in ts:
        args = _inputs(t)
        fns = {n: _causal(get_backend(n)) for n in BACKENDS}
        if t > 4096:
            fns.pop("reference")  # its (T, T) matrix alone would be 1 GiB per head group
        names = list(fns)
        per: dict[str, list[float]] = {n: [] for n in names}
        with torch.no_grad():
            for fn in fns.values():
                fn(*args)
            for r in range(rounds):
                for n in names[r % len(names) :] + names[: r % len(names)]:
                    per[n].append(_sample(fns[n], args))
        out[t] = {
            "ms": {n: 1e3 * statistics.median(v) for n, v in per.items()},
            "over_sdpa": {
                n: statistics.median(a / s for a, s in zip(v, per["sdpa"], strict=True))
                for n, v in per.items()
            },
        }
        print(t, {n: round(x, 2) for n, x in out[t]["ms"].items()}, flush=True)
    return out


def memory_child(name: str, t: int) -> None:
    args = _inputs(t)
    be = get_backend(name)
    with torch.no_grad():
        before = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")
        out = be(*args, is_causal=True)
        peak = _status_kib("VmHWM")
    del out
    print(json.dumps({"extra_mib": (peak - before) / 1024}))


def memory(ts: list[int]) -> dict:
    out = {}
    for t in ts:
        out[t] = {}
        for name in BACKENDS:
            if name == "reference" and t > 4096:
                continue
            cmd = [sys.executable, __file__, "--_child", name, str(t)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            out[t][name] = json.loads(res.strip().splitlines()[-1])["extra_mib"]
    return out


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, ylabel in (
        (axes[0], "time", "ms per call (1 thread)"),
        (axes[1], "memory", "peak extra MiB"),
    ):
        table = res[key]
        ts = sorted(int(t) for t in table)
        for name in BACKENDS:
            pts = [
                (t, table[str(t)]["ms"][name] if key == "time" else table[str(t)][name])
                for t in ts
                if name in (table[str(t)]["ms"] if key == "time" else table[str(t)])
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, "o-", ms=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T (causal self-attention, B=1, H=4, D=64)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(res: dict) -> str:
    lines = [
        "Command: `python benchmarks/efficient_attention.py`  ",
        f"Machine: {res['machine']}, 1 thread, torch {torch.__version__}, {res['date']}; "
        f"{res['rounds']} interleaved rounds, medians.",
        "",
        "Error of float32 outputs (causal, T=512, B=1, H=4, D=64, random q/k/v; q and k scaled "
        "by `qk_scale`):",
        "",
        "| backend | qk scale | against | max abs error | relative (Frobenius) |",
        "|---|---|---|---|---|",
    ]
    for r in res["errors"]:
        lines.append(
            f"| {r['backend']} | {r['qk_scale']} | {r['against']} | {r['max_abs']:.2e} | {r['rel_fro']:.2e} |"
        )
    ts = sorted(int(t) for t in res["time"])
    lines += ["", "Time per call, ms (ratio to `sdpa`):", "", "| T | " + " | ".join(BACKENDS) + " |"]
    lines.append("|---" * (len(BACKENDS) + 1) + "|")
    for t in ts:
        row = res["time"][str(t)]
        cells = [
            f"{row['ms'][n]:.2f} ({row['over_sdpa'][n]:.1f}×)" if n in row["ms"] else "–" for n in BACKENDS
        ]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "Peak extra memory of one call, MiB:", "", "| T | " + " | ".join(BACKENDS) + " |"]
    lines.append("|---" * (len(BACKENDS) + 1) + "|")
    for t in sorted(int(t) for t in res["memory"]):
        row = res["memory"][str(t)]
        lines.append(f"| {t} | " + " | ".join(f"{row[n]:.1f}" if n in row else "–" for n in BACKENDS) + " |")
    lines += ["", "![time and memory against T](efficient_attention.png)"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--_child", nargs=2)
    a = p.parse_args()
    if a._child:
        torch.set_num_threads(1)
        return memory_child(a._child[0], int(a._child[1]))
    ts = [256, 1024] if a.quick else [256, 1024, 2048, 4096, 8192]
    res = {
        "machine": cpu_name(),
        "date": datetime.date.today().isoformat(),
        "rounds": 2 if a.quick else a.rounds,
        "errors": errors(),
    }
    res["time"] = {str(t): v for t, v in timings(ts, res["rounds"]).items()}
    res["memory"] = {str(t): v for t, v in memory(ts).items()}
    text = markdown(res)
    print(text)
    if not a.quick:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "efficient_attention.json").write_text(json.dumps(res, indent=1))
        plot(res, HERE / "efficient_attention.png")
        update_section("efficient-attention", "Efficient attention backends (CPU)", text)


if __name__ == "__main__":
    main()
