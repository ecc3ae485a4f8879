"""attnkit's CPU dropout against ``torch.nn.functional.dropout``: forward and forward + backward.

    .venv/bin/python benchmarks/dropout_speed.py

Shape (16, 256, 384), p = 0.1, fp32 and bf16, 2 threads. The two take turns (the order rotates
each round); each sample times 5 calls; the figure is the median over rounds, the ratio the
median of the per-round ratios. Results go to RESULTS.md ("Learning per CPU minute").
"""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from results_md import update_section  # noqa: E402

from attnkit.layers.dropout import dropout  # noqa: E402

SHAPE, P, REPS, ROUNDS = (16, 256, 384), 0.1, 5, 15


def sample(fn, x, g, backward: bool) -> float:
    t = time.perf_counter()
    for _ in range(REPS):
        y = fn(x, P)
        if backward:
            y.backward(g)
    return (time.perf_counter() - t) / REPS * 1e3


def main() -> None:
    torch.set_num_threads(2)
    fns = {"torch": lambda x, p: F.dropout(x, p, True), "attnkit": lambda x, p: dropout(x, p)}
    lines = ["| dtype | pass | torch ms | attnkit ms | speed-up (min–max) |", "|---|---|---|---|---|"]
    for dtype in (torch.float32, torch.bfloat16):
        for backward in (False, True):
            x = torch.randn(SHAPE, dtype=dtype, requires_grad=backward)
            g = torch.randn(SHAPE, dtype=dtype)
            times = {k: [] for k in fns}
            for r in range(ROUNDS + 2):
                for name in (list(fns) if r % 2 else list(fns)[::-1]):
                    t = sample(fns[name], x, g, backward)
                    if r >= 2:  # two warm-up rounds
                        times[name].append(t)
            ratios = [a / b for a, b in zip(times["torch"], times["attnkit"], strict=True)]
            row = (f"| {str(dtype).removeprefix('torch.')} | {'fwd+bwd' if backward else 'fwd'} | "
                   f"{statistics.median(times['torch']):.1f} | {statistics.median(times['attnkit']):.1f} | "
                   f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")  # fmt: skip
            print(row, flush=True)
            lines.append(row)
    body = (
        "Command: `python benchmarks/dropout_speed.py`  \n"
        f"Machine: 2-core AMD EPYC, 2 threads, torch {torch.__version__}, {datetime.date.today()}. "
        f"Shape {SHAPE}, p={P}; median of {ROUNDS} interleaved rounds of {REPS} calls.\n\n" + "\n".join(lines)
    )
    update_section("dropout-speed", "Dropout on the CPU", body)


if __name__ == "__main__":
    main()
