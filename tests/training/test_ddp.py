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
            "train.precision=fp32",  # the in-process comparison run trains in fp32 (conftest)
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


def _agree_worker(rank: int, port: int, out) -> None:
    import torch.distributed as dist

    from attnkit.training.distributed import DistInfo, agree_min

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    # Each rank's own clock says something different; all must act on the same (smallest) value.
    out.put((rank, agree_min(10.0 - 7.5 * rank, DistInfo(rank=rank, world=2))))
    dist.barrier()
    dist.destroy_process_group()


def test_time_decisions_agree_across_processes():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_agree_worker, args=(r, port, out)) for r in range(2)]
    for p in procs:
        p.start()
    got = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert got == {0: 2.5, 1: 2.5}
    assert all(p.exitcode == 0 for p in procs)
