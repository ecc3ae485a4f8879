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


def test_layer_lr_decay_scales_each_depth_and_covers_every_parameter_once():
    from attnkit.models.classifier import TransformerClassifier
    from attnkit.training.optim import layer_depths

    cfg = model_config("tiny", vocab_size=30, n_layers=3, labels=["a", "b"], pad_id=0)
    model = TransformerClassifier(cfg)
    depths = layer_depths(model)
    for name, d in depths.items():
        if ".layers." in name:
            assert d == int(name.split(".layers.")[1].split(".")[0]) + 1
        elif name.startswith("head."):
            assert d == 4
        elif "embed" in name:
            assert d == 0
    groups = param_groups(model, 0.1, layer_lr_decay=0.5)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert by_param[id(named["head.weight"])]["lr_scale"] == 1.0
    assert by_param[id(named["head.weight"])]["weight_decay"] == 0.1
    assert by_param[id(named["head.bias"])]["weight_decay"] == 0.0
    embed = next(n for n in named if "embed" in n)
    assert by_param[id(named[embed])]["lr_scale"] == 0.5**4
    block2 = next(n for n in named if ".layers.2." in n)
    assert by_param[id(named[block2])]["lr_scale"] == 0.5
    flat = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 2))  # no blocks
    assert {g["lr_scale"] for g in param_groups(flat, 0.1, layer_lr_decay=0.5) if g["params"]} == {1.0}
    # decay 1 keeps the two plain groups
    plain = param_groups(model, 0.1)
    assert len(plain) == 2 and all(g["lr_scale"] == 1.0 for g in plain)


def test_set_lr_applies_each_groups_lr_scale():
    from attnkit.training.optim import set_lr

    cfg = TrainConfig(lr=1e-3, warmup_steps=0, layer_lr_decay=0.5)
    model = Decoder(model_config("tiny", vocab_size=30, n_layers=2))
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    scales = sorted({g["lr_scale"] for g in opt.param_groups})
    assert scales == [0.125, 0.25, 0.5, 1.0]
    lr = lr_at(0, cfg)
    set_lr(opt, lr)
    assert sorted({round(g["lr"] / lr, 6) for g in opt.param_groups}) == scales
    named = dict(model.named_parameters())
    by_param = {id(p): g for g in opt.param_groups for p in g["params"]}
    assert by_param[id(named["norm.weight"])]["lr"] == lr
    assert by_param[id(named["layers.0.ffn.up_proj.weight"])]["lr"] == pytest.approx(lr * 0.25)
