"""The trainer's loop on the least-squares task: when it logs, evaluates, saves, stops early or
on time, what it records, and the small helpers around it. Each run takes a fraction of a
second, so these checks are cheap enough for every mutant of the loop
(`make mutate MODULE=attnkit/train`, docs/testing.md).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import warnings
from types import SimpleNamespace

import pytest
import torch

from attnkit.config import TrainConfig
from attnkit.training import trainer as trainer_mod
from attnkit.training.checkpoint import read_manifest
from attnkit.training.trainer import autocast_for
from tests.training.test_train_step import _trainer

TRAIN_KEYS = {"kind", "step", "loss", "lr", "tokens_per_s", "elapsed_s"}


def _rows(tmp_path):
    return [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]


def test_logs_evaluations_and_checkpoints_follow_their_intervals(tmp_path):
    trainer, task, _ = _trainer(tmp_path, max_steps=5, log_every=2, eval_every=2, grad_clip=None)
    last = trainer.fit()
    rows = _rows(tmp_path)
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in train] == [2, 4, 5]  # every 2 steps, and the last one
    assert [r["step"] for r in evals] == [2, 4, 5]
    assert all(set(r) == TRAIN_KEYS for r in train) and all(r["tokens_per_s"] > 0 for r in train)
    assert rows == trainer.history
    for tr, ev in zip(train, evals, strict=True):  # each evaluation comes right after its step's log
        assert set(ev) == {"kind", "step", "elapsed_s", "loss", "ppl"}
        assert 0 <= ev["elapsed_s"] - tr["elapsed_s"] < 5.0
    assert last == {k: v for k, v in evals[-1].items() if k not in ("kind", "step", "elapsed_s")}
    assert read_manifest(tmp_path / "run" / "last")["step"] == 5
    best = min(evals, key=lambda r: r["loss"])
    assert read_manifest(tmp_path / "run" / "best")["step"] == best["step"]
    assert read_manifest(tmp_path / "run" / "best")["metrics"]["loss"] == best["loss"]
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert len(task.drawn) == 5  # one batch a step


def test_the_logged_loss_is_the_step_loss(tmp_path):
    trainer, task, seen = _trainer(tmp_path, max_steps=2, log_every=1, eval_every=100, grad_clip=None)
    trainer.fit()
    train = [r for r in _rows(tmp_path) if r["kind"] == "train"]
    for row, batch, rec in zip(train, task.drawn, seen, strict=True):
        want = float(((batch["x"] @ rec["w"] - batch["y"]) ** 2).mean())
        assert row["loss"] == pytest.approx(want, rel=1e-5)
        assert row["lr"] == rec["lr"][0]


def test_early_stopping_counts_evaluations_without_improvement(tmp_path):
    # lr 0: the first evaluation is the best and no later one beats it (equal is not better).
    trainer, _, _ = _trainer(
        tmp_path, lr=0.0, min_lr=0.0, max_steps=10, eval_every=1, early_stopping=2, log_every=1
    )
    trainer.fit()
    assert trainer.step == 3 and trainer.bad_evals == 2
    assert read_manifest(tmp_path / "run" / "best")["step"] == 1


def test_until_step_stops_early_and_a_spent_budget_stops_at_once(tmp_path, monkeypatch):
    trainer, _, _ = _trainer(tmp_path, max_steps=6, eval_every=100)
    trainer.fit(until_step=2)
    assert trainer.step == 2 and read_manifest(tmp_path / "run" / "last")["step"] == 2
    ticks = itertools.count()
    # A minute per reading of the trainer's clock (only the trainer's: plotting reads it too).
    monkeypatch.setattr(trainer_mod, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * 60.0))
    late, _, _ = _trainer(tmp_path / "late", max_steps=6, eval_every=100, max_minutes=0.5)
    late.fit()
    assert late.step == 1 and [r["step"] for r in late.history if r["kind"] == "eval"] == [1]


def test_select_by_names_the_metrics_there_are(tmp_path):
    trainer, _, _ = _trainer(tmp_path, select_by="accuracy")
    with pytest.raises(ValueError) as err:
        trainer._score({"loss": 1.0, "ppl": 2.7, "unit": "token"})
    assert str(err.value) == (
        "train.select_by='accuracy' is not a validation metric of this task; it has loss, ppl"
    )
    assert trainer._score({"loss": 1.0, "accuracy": 0.25}) == -0.25
    plain, _, _ = _trainer(tmp_path / "plain")
    assert plain._score({"loss": 0.75, "accuracy": 0.25}) == 0.75


def test_evaluate_asks_the_task_with_the_configured_sizes(tmp_path, monkeypatch):
    trainer, task, _ = _trainer(tmp_path, batch_size=6, eval_batches=3)
    calls = []
    monkeypatch.setattr(task, "evaluate", lambda model, split, bs, n: calls.append((split, bs, n)) or {})
    trainer.evaluate("test")
    assert calls == [("test", 6, 3)]


def test_a_new_trainer_starts_clean_and_seeded(tmp_path):
    before = torch.get_num_threads()
    want = 1 if before > 1 else 2
    try:
        a, _, _ = _trainer(tmp_path, seed=5, threads=want)
        assert torch.get_num_threads() == want
    finally:
        torch.set_num_threads(before)
    b, _, _ = _trainer(tmp_path / "b", seed=5)
    assert (a.step, a.best, a.bad_evals, a.schedule_steps) == (0, math.inf, 0, None)
    assert torch.equal(torch.rand(3, generator=a.gen), torch.rand(3, generator=b.gen))
    assert set(a._rng_state()) == {"torch", "data"}
    assert torch.equal(a._rng_state()["data"], a.gen.get_state())


def test_train_step_puts_the_model_in_training_mode(tmp_path, monkeypatch):
    trainer, task, _ = _trainer(tmp_path)
    modes = []
    real = task.loss
    monkeypatch.setattr(task, "loss", lambda m, b, ls=0.0: modes.append(m.training) or real(m, b, ls))
    trainer.model.eval()
    trainer.train_step(trainer.model)
    assert modes == [True]


def test_autocast_is_bf16_when_asked_and_auto_follows_the_cpu(monkeypatch):
    from attnkit.training import precision as prec

    cpu = torch.device("cpu")
    ctx = autocast_for(TrainConfig(precision="bf16"), cpu)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cpu"
    assert isinstance(autocast_for(TrainConfig(precision="fp32"), cpu), contextlib.nullcontext)
    for flags, want in ((set(), "fp32"), ({"avx2", "avx512f"}, "fp32"), ({"avx512_bf16"}, "bf16"),
                        ({"amx_bf16", "amx_tile"}, "bf16")):  # fmt: skip
        monkeypatch.setattr(prec, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert prec.resolve_precision("auto", cpu) == want
        ctx = autocast_for(TrainConfig(precision="auto"), cpu)
        assert isinstance(ctx, torch.autocast) == (want == "bf16")
        assert prec.resolve_precision("fp32", cpu) == "fp32" and prec.resolve_precision("bf16", cpu) == "bf16"
    assert prec.resolve_precision("auto", torch.device("mps")) == "fp32"
    with warnings.catch_warnings():  # no CUDA here: torch warns that the context is disabled
        warnings.simplefilter("ignore")
        cuda = autocast_for(TrainConfig(precision="auto"), torch.device("cuda"))
    assert isinstance(cuda, torch.autocast) and cuda.fast_dtype == torch.bfloat16


def test_fit_creates_nested_run_directories_and_compiles_when_asked(tmp_path, monkeypatch):
    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    trainer, _, _ = _trainer(tmp_path / "a" / "b", max_steps=2, eval_every=100, compile=True)
    trainer.fit()
    assert compiled == [trainer.model]
    assert read_manifest(tmp_path / "a" / "b" / "run" / "last")["step"] == 2


def test_evaluate_defaults_to_valid_and_at_least_one_row(tmp_path, monkeypatch):
    trainer, task, _ = _trainer(tmp_path, batch_size=1, eval_batches=None)
    calls = []
    monkeypatch.setattr(task, "evaluate", lambda model, split, bs, n: calls.append((split, bs, n)) or {})
    trainer.evaluate()
    assert calls == [("valid", 1, None)]


def test_the_reported_rate_is_tokens_over_the_time_since_the_last_report(tmp_path):
    trainer, _, _ = _trainer(tmp_path, batch_size=4, max_steps=5, log_every=2, eval_every=100)
    trainer.fit()
    train = [r for r in trainer.history if r["kind"] == "train"]
    steps_before = [0] + [r["step"] for r in train[:-1]]
    times_before = [0.0] + [r["elapsed_s"] for r in train[:-1]]
    for row, s0, t0 in zip(train, steps_before, times_before, strict=True):
        tokens = 4 * (row["step"] - s0)  # 4 rows a step
        assert row["tokens_per_s"] * (row["elapsed_s"] - t0) == pytest.approx(tokens, rel=1e-6)


def test_a_budget_spent_exactly_stops_and_a_finished_run_returns_no_evaluation(tmp_path, monkeypatch):
    ticks = itertools.count()
    monkeypatch.setattr(trainer_mod, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * 60.0))
    trainer, _, _ = _trainer(tmp_path, max_steps=6, eval_every=100, max_minutes=1.0)
    trainer.fit()
    assert trainer.step == 1  # one step took the clock's one minute: nothing is left
    done, _, _ = _trainer(tmp_path / "done", max_steps=2, eval_every=100)
    done.fit(until_step=9)  # until_step past max_steps: max_steps wins
    assert done.step == 2
    assert done.fit() == {}  # nothing left to train: no evaluation to return


def test_the_progress_bar_counts_steps(tmp_path, capsys):
    trainer, _, _ = _trainer(tmp_path, max_steps=3, eval_every=100, progress=True)
    trainer.fit()
    captured = capsys.readouterr()
    err = captured.err
    assert "3/3" in err and ("step/s" in err or "s/step" in err)
    assert re.search(r"loss=\d+\.\d{4}, lr=\d\.\d\de-\d\d, tok_s=[\d,]+\]", err)
    loss = trainer.history[-1]["loss"]
    assert f"step 3: valid loss {loss:.4f} (ppl {math.exp(loss):.2f} per token)" in captured.out
    # A task that states its unit is quoted with it.
    worded, task, _ = _trainer(tmp_path / "worded", max_steps=1, eval_every=100)
    real = task.evaluate
    task.evaluate = lambda *a: {**real(*a), "unit": "word"}
    worded.fit()
    assert "per word)" in capsys.readouterr().out
    assert "4/3" not in err and "6/3" not in err
    quiet, _, _ = _trainer(tmp_path / "quiet", max_steps=3, eval_every=100, progress=False)
    quiet.fit()
    assert "3/3" not in capsys.readouterr().err


def test_stopping_early_or_on_time_still_returns_the_last_evaluation(tmp_path, monkeypatch):
    early, _, _ = _trainer(tmp_path, lr=0.0, min_lr=0.0, max_steps=10, eval_every=1, early_stopping=1)
    out = early.fit()
    last = {k: v for k, v in early.history[-1].items() if k not in ("kind", "step", "elapsed_s")}
    assert early.step == 2 and out == last
    ticks = itertools.count()
    monkeypatch.setattr(trainer_mod, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * 60.0))
    late, _, _ = _trainer(tmp_path / "late", max_steps=6, eval_every=100, max_minutes=1.0)
    assert "loss" in late.fit()


def test_one_evaluation_is_not_averaged(tmp_path):
    trainer, _, _ = _trainer(tmp_path, max_steps=2, eval_every=100, average_last=2)
    trainer.fit()
    assert len(trainer.recent_states) == 1 and not (tmp_path / "run" / "averaged").exists()
    three, _, _ = _trainer(tmp_path / "three", max_steps=3, eval_every=1, average_last=2)
    three.fit()
    assert len(three.recent_states) == 2  # the last two of three evaluations
    assert torch.equal(three.recent_states[-1]["weight"], three.model.weight.detach())
    assert (tmp_path / "three" / "run" / "averaged" / "manifest.json").is_file()


def test_fit_schedule_by_hand(tmp_path):
    # 20 s for the first step, evaluation included, of a 1-minute budget: 40 s left, 20 s a
    # step, 2% kept back: int(0.98 * 40 / 20) = 1 more step, so the schedule ends at step 2.
    trainer, _, _ = _trainer(tmp_path, max_steps=100, max_minutes=1.0, fit_schedule_to_budget=True)
    trainer.step = 1
    assert trainer._fit_schedule(20.0, 1) is True and trainer.schedule_steps == 2
    assert trainer._fit_schedule(1.0, 1) is False and trainer.schedule_steps == 2  # fitted once
    # Two steps in 20 s: 10 s a step, int(0.98 * 40 / 10) = 3 more.
    again, _, _ = _trainer(tmp_path / "b", max_steps=100, max_minutes=1.0, fit_schedule_to_budget=True)
    again.step = 2
    assert again._fit_schedule(20.0, 2) is True and again.schedule_steps == 5
    # A budget that holds every step fits nothing shorter.
    # A budget already spent still allows the step after this one.
    spent, _, _ = _trainer(tmp_path / "d", max_steps=100, max_minutes=1.0, fit_schedule_to_budget=True)
    spent.step = 1
    assert spent._fit_schedule(59.9, 1) is True and spent.schedule_steps == 2
    roomy, _, _ = _trainer(tmp_path / "c", max_steps=3, max_minutes=1.0, fit_schedule_to_budget=True)
    roomy.step = 1
    assert roomy._fit_schedule(1.0, 1) is False and roomy.schedule_steps == 3
    for off in ({"fit_schedule_to_budget": False, "max_minutes": 1.0}, {"fit_schedule_to_budget": True}):
        t, _, _ = _trainer(tmp_path / str(len(off)), max_steps=100, **off)
        assert t._fit_schedule(20.0, 1) is False and t.schedule_steps is None


def test_label_smoothing_reaches_the_loss_and_a_non_finite_loss_stops_in_full(tmp_path, monkeypatch):
    trainer, task, _ = _trainer(tmp_path, label_smoothing=0.1, max_steps=4, eval_every=1)
    seen = []
    real = task.loss

    def spy(model, batch, label_smoothing=0.0):
        seen.append(label_smoothing)
        loss, n = real(model, batch, label_smoothing)
        return (loss * float("inf") if len(seen) == 3 else loss), n

    monkeypatch.setattr(task, "loss", spy)
    with pytest.raises(trainer_mod.TrainingError) as err:
        trainer.fit()
    assert seen == [0.1, 0.1, 0.1]
    assert str(err.value) == (
        "the training loss is inf at step 3; training stopped and nothing non-finite was saved: "
        f"{tmp_path / 'run' / 'last'} keeps step 2, the last finite state. "
        "Lower train.lr, keep train.grad_clip on, or use precision=fp32"
    )
    assert read_manifest(tmp_path / "run" / "last")["step"] == 2


def test_a_resumed_run_measures_its_pace_from_the_steps_it_ran(tmp_path, monkeypatch):
    first, _, _ = _trainer(tmp_path, max_steps=10, eval_every=2)
    first.fit(until_step=2)
    budget = dict(max_minutes=100.0, fit_schedule_to_budget=True)
    again, _, _ = _trainer(tmp_path, max_steps=10, eval_every=3, **budget)
    again.resume()
    calls = []
    monkeypatch.setattr(again, "_fit_schedule", lambda elapsed, steps: calls.append(steps) or False)
    again.fit(until_step=4)
    assert calls[0] == 1  # resumed at step 2, first evaluation at step 3: one step ran
