"""torchrun with 2 CPU processes (gloo) against 1 process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from attnkit.config import save_yaml
from tests.conftest import tiny_run_config

# Both runs sum the same per-row gradients, but in a different order (all-reduce of two
# half-batch means vs one mean), so float32 losses agree to rounding, not bitwise.
DDP_LOSS_RTOL = 1e-5


def _losses(run) -> list[float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


def test_two_process_ddp_matches_single_process(tmp_path, tiny_corpus):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for nproc in (1, 2):
        out = tmp_path / f"np{nproc}"
        cfg = tiny_run_config(
            out,
            tiny_corpus,
            "train.max_steps=6",
            "train.eval_every=6",
            "train.batch_size=4",
            "train.threads=1",
        )
        save_yaml(cfg, tmp_path / f"np{nproc}.yaml")
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "attnkit",
            "train",
            "--config",
            str(tmp_path / f"np{nproc}.yaml"),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
        # The head holds what a failing rank printed; the tail, torchrun's summary.
        assert res.returncode == 0, res.stderr[:6000] + "\n...\n" + res.stderr[-1500:]
        runs[nproc] = _losses(out)
    assert len(runs[1]) == len(runs[2]) == 6
    for a, b in zip(runs[1], runs[2], strict=True):
        assert b == pytest.approx(a, rel=DDP_LOSS_RTOL)
    assert runs[1][-1] < runs[1][0]
