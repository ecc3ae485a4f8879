"""The trainer: exact resume, NaN stops, checkpoints, early stopping, logs and plots."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import attnkit
from attnkit.tasks.lm import LanguageModelingTask
from attnkit.training import TrainingError
from attnkit.training.checkpoint import resolve_checkpoint
from tests.conftest import tiny_run_config


def _train_losses(out_dir) -> dict[int, float]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["kind"] == "train"}


def test_resume_reproduces_uninterrupted_losses_exactly(tmp_path, tiny_corpus):
    extra = ("model.dropout=0.1", "model.attn_dropout=0.1")  # RNG-dependent training on purpose
    full = tiny_run_config(tmp_path / "full", tiny_corpus, *extra)
    attnkit.train(full)
    part = tiny_run_config(tmp_path / "part", tiny_corpus, *extra)
    attnkit.train(part, until_step=4)  # stops right after the step-4 checkpoint, like a kill
    assert resolve_checkpoint(tmp_path / "part" / "last").name == "last"
    attnkit.train(part, resume=True)
    a, b = _train_losses(tmp_path / "full"), _train_losses(tmp_path / "part")
    assert sorted(a) == list(range(1, 9)) and sorted(b) == list(range(1, 9))
    assert [a[s] for s in range(5, 9)] == [b[s] for s in range(5, 9)]  # bitwise, not approximately
    wa = attnkit.load(tmp_path / "full" / "last").model.state_dict()
    wb = attnkit.load(tmp_path / "part" / "last").model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_corpus, monkeypatch):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.max_steps=12")
    real = LanguageModelingTask.loss
    calls = {"n": 0}

    def poisoned(self, model, batch, label_smoothing=0.0):
        calls["n"] += 1
        loss, n = real(self, model, batch, label_smoothing)
        return (loss * float("nan") if calls["n"] == 6 else loss), n

    monkeypatch.setattr(LanguageModelingTask, "loss", poisoned)
    with pytest.raises(TrainingError, match=r"loss is nan at step 6; training stopped .* keeps step 4, the"):
        attnkit.train(cfg)
    lm = attnkit.load(tmp_path / "run" / "last")
    assert lm.manifest["step"] == 4
    assert all(torch.isfinite(p).all() for p in lm.model.parameters())


def test_run_directory_contents_and_best_checkpoint(tmp_path, tiny_corpus):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus)
    metrics = attnkit.train(cfg)
    run = tmp_path / "run"
    for f in ("config.yaml", "metrics.jsonl", "loss.png"):
        assert (run / f).is_file()
    for f in (
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
        "tokenizer.json",
        "manifest.json",
    ):
        assert (run / "last" / f).is_file()
    assert not list(run.glob(".*tmp*")) and not list(run.glob("*.old"))
    best = json.loads((run / "best" / "manifest.json").read_text())
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert best["metrics"]["loss"] == min(e["loss"] for e in evals)
    assert metrics["loss"] == evals[-1]["loss"] and metrics["unit"] == "character"
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_loss_goes_down_and_eval_matches_reload(tmp_path, tiny_corpus):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.max_steps=40", "train.eval_every=20")
    metrics = attnkit.train(cfg)
    losses = _train_losses(tmp_path / "run")
    assert losses[40] < losses[1] - 1.0
    lm = attnkit.load(tmp_path / "run" / "last")
    again = lm.evaluate("valid", max_batches=2)
    assert again["loss"] == pytest.approx(metrics["loss"], rel=1e-6)


def test_early_stopping(tmp_path, tiny_corpus):
    # lr 0 cannot improve after the first evaluation: 2 bad evaluations stop the run.
    cfg = tiny_run_config(
        tmp_path / "run",
        tiny_corpus,
        "train.lr=0.0",
        "train.min_lr=0.0",
        "train.max_steps=40",
        "train.eval_every=2",
        "train.early_stopping=2",
    )
    attnkit.train(cfg)
    assert max(_train_losses(tmp_path / "run")) == 6


def test_checkpoint_refuses_mismatched_tokenizer_and_corrupt_weights(tmp_path, tiny_corpus):
    attnkit.train(tiny_run_config(tmp_path / "run", tiny_corpus, "train.max_steps=4"))
    ck = tmp_path / "run" / "last"
    other = tmp_path / "other"
    shutil.copytree(ck, other)
    tok = json.loads((other / "tokenizer.json").read_text())
    tok["vocab"][10], tok["vocab"][11] = tok["vocab"][11], tok["vocab"][10]
    (other / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ValueError, match=r"tokenizer\.json does not match this checkpoint"):
        attnkit.load(other)
    (other / "tokenizer.json").write_text((ck / "tokenizer.json").read_text())
    (other / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupt"):
        attnkit.load(other)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        attnkit.load(tmp_path / "nowhere")


def test_label_smoothing_is_applied(tiny_corpus, tmp_path):
    cfg = tiny_run_config(tmp_path / "run", tiny_corpus)
    task = LanguageModelingTask(cfg)
    model = attnkit.models.Decoder(task.model_config(cfg.model))
    batch = task.train_batch(torch.Generator().manual_seed(0), 2)
    plain, n = task.loss(model, batch)
    smooth, _ = task.loss(model, batch, label_smoothing=0.1)
    logits = model(batch["x"]).logits.flatten(0, 1)
    want = torch.nn.functional.cross_entropy(logits, batch["y"].flatten(), label_smoothing=0.1)
    torch.testing.assert_close(smooth, want)
    assert n == batch["y"].numel() and not torch.equal(plain, smooth)


def test_select_by_picks_best_by_a_higher_is_better_metric(tmp_path, tiny_corpus):
    from attnkit import api
    from attnkit.training import checkpoint as ckpt

    # bits_per_token rises when the loss does, so "higher is better" here picks the *worst* loss:
    # the opposite choice from the default, which shows the switch is honoured.
    cfg = tiny_run_config(tmp_path / "r", tiny_corpus, "train.max_steps=12", "train.select_by=bits_per_token")
    api.train(cfg)
    evals = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["kind"] == "eval"]
    want = max(evals, key=lambda r: r["bits_per_token"])["step"]
    assert ckpt.read_manifest(tmp_path / "r" / "best")["step"] == want
    assert want != min(evals, key=lambda r: r["loss"])["step"]
    bad = tiny_run_config(tmp_path / "b", tiny_corpus, "train.select_by=accuracy")
    with pytest.raises(ValueError, match=r"train\.select_by='accuracy' is not a validation metric"):
        api.train(bad)
