"""Checkpoint averaging: the arithmetic, and the trainer's ``train.average_last`` output."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from attnkit import api
from attnkit.training.checkpoint import average_states
from tests.conftest import tiny_run_config


def test_average_states_is_the_elementwise_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    out = average_states([a, b])
    assert out["w"].tolist() == [2.0, 4.0] and int(out["n"]) == 5
    with pytest.raises(ValueError, match="'w' is missing or differs in shape"):
        average_states([a, {"w": torch.zeros(3), "n": torch.tensor(1)}])
    # Three states; the keys of the last rule: one only it has is missing from the others.
    extra = {**b, "x": torch.ones(1)}
    with pytest.raises(ValueError, match="cannot average: parameter 'x' is missing or differs in shape"):
        average_states([a, b, extra])
    # float64 accumulation, cast back: the mean of three float32 values is the float32 nearest it.
    three = [{"w": torch.tensor([v], dtype=torch.float32)} for v in (0.1, 0.2, 0.4)]
    out = average_states(three)["w"]
    assert out.dtype == torch.float32 and out.item() == torch.tensor([0.7 / 3]).item()


def test_averaging_one_state_returns_it_and_none_is_refused():
    a = {"w": torch.tensor([1.5, -2.0]), "n": torch.tensor(7)}
    out = average_states([a])
    assert out["w"].tolist() == [1.5, -2.0] and int(out["n"]) == 7
    with pytest.raises(ValueError) as err:
        average_states([])
    assert str(err.value) == "no states to average"


def test_trainer_writes_the_average_of_the_last_evaluations(tmp_path, tiny_corpus):
    extra = ("train.max_steps=8", "train.eval_every=4", "train.average_last=2")
    api.train(tiny_run_config(tmp_path / "full", tiny_corpus, *extra))
    # The same run stopped at step 4 reproduces the weights of the first averaged evaluation.
    api.train(tiny_run_config(tmp_path / "half", tiny_corpus, *extra), until_step=4)
    s8 = load_file(str(tmp_path / "full" / "last" / "model.safetensors"))
    s4 = load_file(str(tmp_path / "half" / "last" / "model.safetensors"))
    avg = load_file(str(tmp_path / "full" / "averaged" / "model.safetensors"))
    assert set(avg) == set(s8)
    for k in avg:
        torch.testing.assert_close(avg[k], (s4[k] + s8[k]) / 2, atol=1e-6, rtol=1e-6)
    assert not torch.equal(s4["embed.tok.weight"], s8["embed.tok.weight"])
    assert api.load(tmp_path / "full" / "averaged").manifest["step"] == 8
    rows = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    averaged = [r for r in rows if r["kind"] == "eval_averaged"]
    assert len(averaged) == 1 and averaged[0]["step"] == 8 and averaged[0]["n"] == 2
    assert averaged[0]["loss"] == api.load(tmp_path / "full" / "averaged").manifest["metrics"]["loss"]
