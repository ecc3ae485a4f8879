"""``train.loss_impl: chunked`` through the tasks: the same loss and gradients as ``plain`` for the
LM, seq2seq and classification tasks, and a clear refusal for models without an output head."""

from __future__ import annotations

import copy

import pytest
import torch

from attnkit.config import RunConfig, apply_overrides
from attnkit.models.factory import build_model
from attnkit.tasks.registry import get_task_kind


def _task(tmp_path, task: str):
    if task == "lm":
        text = "To be, or not to be, that is the question.\n" * 40
        files = {s: tmp_path / f"{s}.txt" for s in ("train", "valid", "test")}
        for p in files.values():
            p.write_text(text)
        extra = ["data.tokenizer=char", "data.seq_len=24", *(f"data.{s}_file={p}" for s, p in files.items())]
    elif task == "translation":
        rows = "\n".join(f"a{i} b{i % 5} c\tc b{i % 5} a{i}" for i in range(60)) + "\n"
        files = {s: tmp_path / f"{s}.tsv" for s in ("train", "valid", "test")}
        for p in files.values():
            p.write_text(rows)
        extra = ["data.tokenizer=word", *(f"data.{s}_file={p}" for s, p in files.items())]
    else:
        extra = ["data.dataset=trec", "data.tokenizer=word", "data.seq_len=24"]
    dataset = [] if task == "classification" else ["data.dataset=null"]
    base = [f"task={task}", *dataset, *extra, "model.d_model=32", "model.n_layers=1", "model.n_heads=2",
            "train.label_smoothing=0.1", f"out_dir={tmp_path}"]  # fmt: skip
    cfg = apply_overrides(RunConfig(), base)
    kind = get_task_kind(task)
    t = kind.task_class()(cfg)
    return t, build_model(t.model_config(cfg.model), kind.family)


@pytest.mark.parametrize("task", ["lm", "translation", "classification"])
def test_chunked_equals_plain_through_the_task(task, tmp_path):
    t, model = _task(tmp_path, task)
    model.train()
    batch = t.train_batch(torch.Generator().manual_seed(0), 6)
    results = {}
    for impl in ("plain", "chunked"):
        t.cfg = apply_overrides(t.cfg, [f"train.loss_impl={impl}"])
        m = copy.deepcopy(model)
        torch.manual_seed(1)  # the same dropout masks
        loss, n = t.loss(m, batch, label_smoothing=0.1)
        loss.backward()
        results[impl] = (loss.detach(), n, {k: p.grad for k, p in m.named_parameters() if p.grad is not None})
    (a, na, ga), (b, nb, gb) = results["plain"], results["chunked"]
    assert na == nb and torch.allclose(a, b, atol=1e-5)
    assert ga.keys() == gb.keys() and len(ga) > 4
    for k in ga:
        assert torch.allclose(ga[k], gb[k], atol=1e-5, rtol=1e-4), k


def test_chunked_needs_an_output_head(tmp_path):
    t, _ = _task(tmp_path, "lm")
    lstm = build_model(apply_overrides(t.cfg, ["model.arch=lstm"]).model, "decoder")
    t.cfg = apply_overrides(t.cfg, ["train.loss_impl=chunked"])
    batch = t.train_batch(torch.Generator().manual_seed(0), 2)
    with pytest.raises(
        ValueError, match=r"train.loss_impl=chunked needs a Transformer .*set train.loss_impl=plain"
    ):
        t.loss(lstm, batch)
    with pytest.raises(ValueError, match="loss_impl"):
        apply_overrides(t.cfg, ["train.loss_impl=fused"])
