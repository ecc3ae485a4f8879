"""train.fit_schedule_to_budget: the cosine schedule ends where the time budget does.

A fake clock (0.05 s per perf_counter call) makes the runs deterministic: the steps that fit
the budget depend only on how often the trainer reads the clock, not on this machine's speed.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

import attnkit
from attnkit.training.checkpoint import read_manifest, resolve_checkpoint
from tests.conftest import tiny_run_config


@pytest.fixture
def fake_clock(monkeypatch):
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks) * 0.05)


def _run(tmp_path, corpus, name, *extra):
    budget = ["train.max_steps=1000", "train.max_minutes=0.1", "train.eval_every=10"]
    cfg = tiny_run_config(
        tmp_path / name, corpus, *budget, "train.warmup_steps=2", "train.min_lr=1e-4", *extra
    )
    attnkit.train(cfg)
    return _train_rows(tmp_path / name), cfg


def _train_rows(run):
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "train"]


def test_fitted_schedule_anneals_inside_the_budget(tmp_path, tiny_corpus, fake_clock):
    cut, _ = _run(tmp_path, tiny_corpus, "cut")
    fitted, cfg = _run(tmp_path, tiny_corpus, "fitted", "train.fit_schedule_to_budget=true")
    steps = read_manifest(resolve_checkpoint(tmp_path / "fitted" / "last"))["schedule_steps"]
    assert 10 < steps < 1000
    assert fitted[-1]["step"] == steps  # the run ends where its schedule does
    assert fitted[-1]["lr"] == pytest.approx(1e-4, rel=0.05)  # annealed to min_lr
    assert fitted[-1]["elapsed_s"] <= 6.0  # inside the 0.1 min budget
    # Without fitting, the budget cuts the 1,000-step cosine early, at a high rate.
    assert cut[-1]["elapsed_s"] >= 6.0 and cut[-1]["step"] < 1000
    assert cut[-1]["lr"] > 0.9 * 3e-3
    # The first evaluation is where the fit happens: the same schedule up to it.
    assert [r["lr"] for r in fitted[:10]] == [r["lr"] for r in cut[:10]]

    # A resumed run keeps the fitted length: it is already at its end, so it takes no steps.
    attnkit.train(cfg, resume=True)
    assert _train_rows(tmp_path / "fitted") == fitted
