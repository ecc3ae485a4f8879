"""quantize_model on every Transformer family: which layers change, how close the logits stay,
greedy tokens, and the refusals."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from attnkit.config import ModelConfig
from attnkit.decode import greedy_generate
from attnkit.layers.quant import BF16Linear, Int8Linear
from attnkit.models.factory import build_model
from attnkit.models.quantize import quantize_model

BASE = dict(vocab_size=40, d_model=64, n_heads=4, n_layers=2, max_seq_len=64, pad_id=0)
LAYER = {"int8": Int8Linear, "bf16": BF16Linear}
# Relative to the largest fp32 logit: int8 rounds weights and activations (about 1/254 each per
# product), bf16 rounds weights and activations to 8 bits of mantissa.
TOLERANCE = {"int8": 0.03, "bf16": 0.03}


def _families():
    ids = torch.randint(3, 40, (2, 9))
    frames = torch.randn(2, 20, 8)
    tgt = torch.randint(3, 40, (2, 5))
    rope = {"positions": "rope", "norm": "rmsnorm", "mlp": "swiglu", "n_kv_heads": 2, "bias": False}
    return {
        "decoder": (ModelConfig(**BASE), lambda m: m(ids).logits),
        "decoder-llama": (ModelConfig(**BASE, **rope), lambda m: m(ids).logits),
        "encoder": (ModelConfig(**BASE), lambda m: m(ids).hidden),
        "seq2seq": (ModelConfig(**BASE), lambda m: m(ids, tgt).logits),
        "classifier": (ModelConfig(**BASE, labels=["a", "b", "c"]), lambda m: m(ids).logits),
        "speech": (
            ModelConfig(**{**BASE, "positions": "sinusoidal"}, input_dim=8, n_encoder_layers=2),
            lambda m: m(frames, tgt).logits,
        ),
    }


@pytest.mark.parametrize("mode", ["int8", "bf16"])
@pytest.mark.parametrize("name", list(_families()))
def test_every_linear_is_replaced_and_outputs_stay_close(name, mode):
    cfg, run = _families()[name]
    family = name.split("-")[0]
    model = build_model(cfg, family).eval()
    n_linear = sum(type(m) is nn.Linear for m in model.modules())
    with torch.no_grad():
        want = run(model)
        q = quantize_model(copy.deepcopy(model), mode)
        got = run(q)
    assert sum(type(m) is nn.Linear for m in q.modules()) == 0
    assert sum(isinstance(m, LAYER[mode]) for m in q.modules()) == n_linear > 0
    assert q.quantized == mode and got.shape == want.shape and got.dtype == want.dtype
    err = ((got - want).abs().max() / want.abs().max()).item()
    assert 0 < err < TOLERANCE[mode], err


def test_tied_head_gets_its_own_copy_and_the_embedding_stays_fp32():
    model = build_model(ModelConfig(**BASE), "decoder").eval()
    assert model.lm_head.weight is model.embed.tok.weight
    emb = model.embed.tok.weight.detach().clone()
    quantize_model(model, "int8")
    assert isinstance(model.lm_head, Int8Linear)
    assert model.embed.tok.weight.dtype == torch.float32 and torch.equal(model.embed.tok.weight, emb)
    assert model.new_cache(1, 8).layers[0].k.dtype == torch.float32


def test_int8_greedy_tokens_mostly_match_fp32():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**{**BASE, "d_model": 128}), "decoder").eval()
    q = quantize_model(copy.deepcopy(model), "int8")
    prompts = torch.randint(3, 40, (10, 4))
    same = 0
    for p in prompts:
        a = greedy_generate(model, p[None], max_new_tokens=8)
        b = greedy_generate(q, p[None], max_new_tokens=8)
        assert a.shape == b.shape == (1, 12)
        same += int(torch.equal(a, b))
    assert same >= 8  # near-ties of a random model may flip a token; most rows must not


@pytest.mark.parametrize(
    ("cfg", "family"),
    [
        (ModelConfig(**{**BASE, "arch": "lstm"}), "decoder"),
        (ModelConfig(**{**BASE, "arch": "cnn"}), "decoder"),
        (ModelConfig(**{**BASE, "arch": "rnn"}), "seq2seq"),
        (ModelConfig(**{**BASE, "arch": "cnn", "labels": ["a", "b"]}), "classifier"),
    ],
)
def test_baselines_without_a_quantized_path_are_refused(cfg, family):
    model = build_model(cfg, family)
    with pytest.raises(ValueError, match=rf"^{type(model).__name__} has no quantized path .*--quantize none"):
        quantize_model(model, "int8")
    assert quantize_model(model, "none") is model  # none is always allowed
    assert not hasattr(model, "quantized")


def test_unknown_mode_names_the_choices():
    model = build_model(ModelConfig(**BASE), "decoder")
    with pytest.raises(ValueError, match=r"unknown quantize mode 'int4'; choose one of none, int8, bf16"):
        quantize_model(model, "int4")
