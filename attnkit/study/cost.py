"""Training cost against sequence length: time per step and peak memory of each study model.

Each model is measured in its own child process (``python -m attnkit.study.cost``) so one model's
freed memory never hides another's peak. The child runs with glibc's mmap threshold pinned low,
so large tensors go back to the system when freed and ``VmHWM`` (the peak resident set, reset
through ``/proc/self/clear_refs``) measures what one training step needs. Lengths grow until a
step would exceed the time or memory cap; the rest are reported as skipped, not guessed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from attnkit.config.base import from_dict, to_dict
from attnkit.study.long_range import StudyConfig, build
from attnkit.training.optim import param_groups

MAX_STEP_S = 30.0
"""Stop growing the length once one step of a model takes longer than this."""
MAX_SCORES_BYTES = 6 * 2**30
"""Skip lengths where the explicit (B, H, T, T) score tensors of a training step would pass this."""


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (needs Linux)")


def _step(model, opt, ids: torch.Tensor) -> None:
    loss = model(ids, ids).loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def measure(name: str, cfg: StudyConfig, lengths: list[int], emit: Callable[[dict], None]) -> None:
    """Time (median of 3 steps after a warm one) and peak extra memory of one step per length."""
    for t in lengths:
        b = cfg.profile_batch
        if name == "transformer+reference" and b * cfg.n_heads * t * t * 4 * 6 > MAX_SCORES_BYTES:
            emit({"model": name, "length": t, "skipped": "explicit T x T scores past the memory cap"})
            continue
        model = build(name, cfg, "recall", t, seed=0)
        opt = torch.optim.AdamW(param_groups(model, 0.0), lr=1e-4)
        ids = torch.randint(0, model.cfg.vocab_size, (b, t), generator=torch.Generator().manual_seed(0))
        _step(model, opt, ids)  # allocates optimizer state and warms kernels
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            _step(model, opt, ids)
            times.append(time.perf_counter() - t0)
        before = _kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        _step(model, opt, ids)
        peak = _kib("VmHWM")
        ms = 1000 * statistics.median(times)
        emit({"model": name, "length": t, "batch": b, "ms": ms, "extra_mib": (peak - before) / 1024})
        del model, opt
        if ms / 1000 > MAX_STEP_S:
            for rest in lengths[lengths.index(t) + 1 :]:
                emit({"model": name, "length": rest, "skipped": f"a step at T={t} took {ms / 1000:.0f}s"})
            return


def profile(
    cfg: StudyConfig, models: list[str], progress: Callable[[str], None] | None = print
) -> list[dict]:
    """Run :func:`measure` for each model in a fresh process; return all rows."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    if cfg.threads:
        env["OMP_NUM_THREADS"] = str(cfg.threads)
    rows: list[dict] = []
    for name in models:
        cmd = [sys.executable, "-m", "attnkit.study.cost", name, json.dumps(to_dict(cfg))]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode:
            raise RuntimeError(f"cost measurement of {name} failed:\n{proc.stderr[-2000:]}")
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            rows.append(row)
            if progress:
                what = row.get("skipped") or f"{row['ms']:.1f} ms/step, +{row['extra_mib']:.0f} MiB"
                progress(f"cost {name:<22} T={row['length']:<5} {what}")
    return rows


def main(argv: list[str]) -> None:
    name, cfg_json = argv
    cfg = from_dict(StudyConfig, json.loads(cfg_json))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    measure(name, cfg, sorted(cfg.profile_lengths), lambda row: print(json.dumps(row), flush=True))


if __name__ == "__main__":
    main(sys.argv[1:])
