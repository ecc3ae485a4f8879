"""No run loses data: a non-finite run keeps finite weights in last/, a kill in the middle of a
checkpoint swap never loses the previous best, and what a killed write left behind is cleaned."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file

from attnkit.api import train
from attnkit.models.factory import build_model
from attnkit.tasks import get_task_kind
from attnkit.training import TrainingError
from attnkit.training import checkpoint as ckpt
from attnkit.training.checkpoint import read_manifest, recover_run_dir
from attnkit.training.trainer import Trainer
from tests.conftest import tiny_run_config


def _strict(line: str) -> dict:
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(line, parse_constant=refuse)


def test_weights_that_turn_non_finite_are_never_saved(tmp_path, tiny_corpus, monkeypatch):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.eval_every=2", "train.max_steps=8")
    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def poisoned(self, *a, **k):  # the fourth update blows the weights up, just before an eval
        out = real_step(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == 4:
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("nan"))
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned)
    with pytest.raises(TrainingError) as err:
        train(cfg)
    last = tmp_path / "run" / "last"
    assert str(err.value).startswith(
        f"the weights are not finite at step 4; training stopped and nothing non-finite was saved: {last} "
        "keeps step 2, the last finite state"
    )
    assert read_manifest(last)["step"] == 2
    assert all(bool(t.isfinite().all()) for t in load_file(last / "model.safetensors").values())
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    records = [_strict(line) for line in lines]  # strict JSON, nulls where the numbers were not finite
    assert records[-1]["kind"] == "eval" and records[-1]["step"] == 4 and records[-1]["loss"] is None


def test_a_kill_between_the_two_halves_of_a_swap_keeps_the_old_best(tmp_path, tiny_corpus, monkeypatch):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.eval_every=4", "train.max_steps=8")
    train(cfg, until_step=4)
    run = tmp_path / "run"
    best_loss = read_manifest(run / "best")["metrics"]["loss"]
    real_replace = os.replace

    def killed(src, dst):  # die after best/ went aside, before the new one moved in
        if str(dst).endswith("best") and ".tmp-" in str(src):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):  # step 8 improves on step 4, so best/ is rewritten
        train(cfg, resume=True)
    assert not (run / "best").exists() and (run / "best.old" / "manifest.json").is_file()
    assert read_manifest(run / "best.old")["metrics"]["loss"] == best_loss
    (run / ".last.tmp-424242").mkdir()  # what a killed write of last/ leaves
    monkeypatch.undo()
    done = recover_run_dir(run)
    assert done == [
        f"restored {run / 'best'} from the interrupted swap (best.old)",
        f"removed .best.tmp-{os.getpid()}, left by an interrupted checkpoint write",  # the killed write
        "removed .last.tmp-424242, left by an interrupted checkpoint write",
    ]
    assert read_manifest(run / "best")["metrics"]["loss"] == best_loss and not (run / "best.old").exists()
    assert recover_run_dir(run) == []  # nothing left to do


def test_resume_reads_the_recovered_best_before_comparing(tmp_path, tiny_corpus):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.eval_every=4", "train.max_steps=8")
    train(cfg, until_step=4)
    run = tmp_path / "run"
    first = read_manifest(run / "best")["metrics"]["loss"]
    (run / "best").rename(run / "best.old")  # as a kill mid-swap leaves it
    (run / ".best.tmp-1").mkdir()
    task = get_task_kind(cfg.task).task_class()(cfg)
    cfg2 = dataclasses.replace(cfg, model=task.model_config(cfg.model))
    trainer = Trainer(cfg2, task, build_model(cfg2.model, task.family))
    trainer.resume()
    assert trainer.best == pytest.approx(first) and math.isfinite(trainer.best)
    assert (run / "best" / "manifest.json").is_file() and not (run / ".best.tmp-1").exists()


def test_only_the_main_process_prints_progress_lines(tmp_path, tiny_corpus, capsys):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.eval_every=4", "train.max_steps=4")
    task = get_task_kind(cfg.task).task_class()(cfg)
    cfg2 = dataclasses.replace(cfg, model=task.model_config(cfg.model))
    trainer = Trainer(cfg2, task, build_model(cfg2.model, task.family))
    trainer.dist = dataclasses.replace(trainer.dist, rank=1)  # as rank 1 of a torchrun job sees it
    assert not trainer.dist.is_main
    trainer._say(type("Bar", (), {"write": staticmethod(print)})(), "step 4: valid loss 1.0")
    assert capsys.readouterr().out == ""


def _trainer(tmp_path, tiny_corpus, *extra):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, *extra)
    task = get_task_kind(cfg.task).task_class()(cfg)
    cfg = dataclasses.replace(cfg, model=task.model_config(cfg.model))
    return Trainer(cfg, task, build_model(cfg.model, task.family))


class _Bar:
    def __init__(self):
        self.lines, self.total = [], 100

    def write(self, line):
        self.lines.append(line)


def test_what_recovery_did_is_logged(tmp_path, tiny_corpus, caplog):
    trainer = _trainer(tmp_path, tiny_corpus)
    (tmp_path / "run" / ".last.tmp-7").mkdir(parents=True)
    with caplog.at_level("WARNING", logger="attnkit.training.trainer"):
        trainer._recover()
    assert [r.getMessage() for r in caplog.records] == [
        "removed .last.tmp-7, left by an interrupted checkpoint write"
    ]


def test_non_finite_stops_say_what_is_kept_even_when_nothing_is(tmp_path, tiny_corpus, monkeypatch):
    trainer = _trainer(tmp_path, tiny_corpus)
    err = trainer._stop_non_finite("the training loss is nan", 3)
    assert str(err) == (
        "the training loss is nan at step 3; training stopped and nothing non-finite was saved: "
        "no checkpoint was written. Lower train.lr, keep train.grad_clip on, or use precision=fp32"
    )
    trainer._t_start = 0.0
    (tmp_path / "run").mkdir()
    monkeypatch.setattr(trainer, "evaluate", lambda split="valid": {"loss": float("nan")})
    with pytest.raises(TrainingError) as e:  # finite weights, a NaN validation loss
        trainer._eval_and_save()
    assert str(e.value).startswith("the validation loss is nan at step 0; training stopped")
    assert not (tmp_path / "run" / "last").exists()


def test_evaluation_lines_and_the_fitted_schedule(tmp_path, tiny_corpus, monkeypatch):
    trainer = _trainer(tmp_path, tiny_corpus)
    bar = _Bar()
    assert trainer._after_eval(bar, {"loss": 1.5}, 8, 1.0, 0) == 8
    assert trainer._after_eval(bar, {"loss": 1.25, "ppl": 3.49, "unit": "character"}, 8, 1.0, 0) == 8
    assert bar.lines == ["step 0: valid loss 1.5000", "step 0: valid loss 1.2500 (ppl 3.49 per character)"]
    monkeypatch.setattr(trainer, "_fit_schedule", lambda elapsed, steps: True)
    trainer.schedule_steps = 5
    assert trainer._after_eval(bar, {"loss": 1.0}, 8, 1.0, 0) == 5 and bar.total == 5
    assert bar.lines[-1].startswith("schedule fitted to the None min budget: 5 steps (max_steps 8)")


def test_compile_wraps_the_model_without_compiling_yet(tmp_path, tiny_corpus):
    trainer = _trainer(tmp_path, tiny_corpus, "train.compile=true")
    wrapped = trainer._wrapped_model()  # torch.compile is lazy: nothing is traced until a call
    assert wrapped is not trainer.model and wrapped._orig_mod is trainer.model
    plain = _trainer(tmp_path, tiny_corpus)
    assert plain._wrapped_model() is plain.model  # no compile, one process: the model itself


def test_until_step_beyond_max_steps_still_stops_at_max_steps(tmp_path, tiny_corpus):
    trainer = _trainer(tmp_path, tiny_corpus, "train.max_steps=4", "train.eval_every=4")
    trainer.fit(until_step=9)
    assert trainer.step == 4


@pytest.mark.parametrize(("warmup", "warns"), [(9, True), (8, False), (2, False)])
def test_warmup_longer_than_the_run_warns_once(tmp_path, tiny_corpus, caplog, warmup, warns):
    with caplog.at_level("WARNING", logger="attnkit.training.trainer"):
        _trainer(tmp_path, tiny_corpus, "train.max_steps=8", f"train.warmup_steps={warmup}")
    says = f"train.warmup_steps={warmup} is more than train.max_steps=8: "
    want = [says + "the learning rate never reaches train.lr"]
    assert [r.getMessage() for r in caplog.records] == (want if warns else [])
