"""Decay groups and learning-rate schedules."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.config import TrainConfig
from attnkit.models import Decoder, model_config
from attnkit.training.optim import build_optimizer, lr_at, param_groups


def test_only_matrices_decay_and_tied_weights_appear_once():
    model = Decoder(model_config("tiny", vocab_size=40))
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    ids = [id(p) for g in (decay, no_decay) for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert sum(p.numel() for p in decay["params"] + no_decay["params"]) == model.num_parameters()
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    opt = build_optimizer(model, TrainConfig(), torch.device("cpu"))
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]


def test_warmup_then_cosine_to_min_lr():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=110, schedule="cosine")
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    assert lr_at(500, cfg) == pytest.approx(1e-4)


def test_inverse_sqrt_and_constant():
    cfg = TrainConfig(lr=1e-3, warmup_steps=100, schedule="inverse_sqrt")
    assert lr_at(99, cfg) == pytest.approx(1e-3)
    assert lr_at(399, cfg) == pytest.approx(1e-3 * math.sqrt(100 / 400))
    const = TrainConfig(lr=5e-4, warmup_steps=0, schedule="constant")
    assert lr_at(0, const) == lr_at(10_000, const) == 5e-4
