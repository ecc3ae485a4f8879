"""The LSTM baseline: same interface as the Decoder, cache = recurrent state."""

from __future__ import annotations

import pytest
import torch

from attnkit.config import ModelConfig
from attnkit.decode import greedy_generate
from attnkit.models import Decoder
from attnkit.models.factory import build_model
from attnkit.models.lstm import LSTMLanguageModel


def _cfg(**kw) -> ModelConfig:
    return ModelConfig(arch="lstm", vocab_size=30, d_model=32, n_layers=2, n_heads=4, **kw)


def test_interface_loss_and_parameter_count():
    model = build_model(_cfg())
    assert isinstance(model, LSTMLanguageModel)
    ids = torch.randint(0, 30, (2, 9))
    out = model(ids, ids)
    assert out.logits.shape == (2, 9, 30) and out.loss.item() > 0
    c, v, n = 32, 30, 2
    assert model.num_parameters() == v * c + n * (4 * c * (c + c) + 8 * c)  # tied head
    assert model.lm_head.weight is model.tok.weight


def test_state_cache_continuation_equals_full_pass():
    model = build_model(_cfg()).eval()
    ids = torch.randint(0, 30, (3, 10))
    with torch.no_grad():
        full = model(ids).logits
        cache = model.new_cache(3)
        parts = [model(ids[:, :4], cache=cache).logits] + [
            model(ids[:, i : i + 1], cache=cache).logits for i in range(4, 10)
        ]
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-6, rtol=1e-5)
    assert torch.equal(
        greedy_generate(model, ids[:, :3], 8), greedy_generate(model, ids[:, :3], 8, use_cache=False)
    )


def test_no_lstm_encoder_and_bad_ids():
    with pytest.raises(ValueError, match="no 'lstm' model for the 'encoder' family; available:"):
        build_model(_cfg(), "encoder")
    with pytest.raises(ValueError, match=r"token id out of range \[0, 30\): min \d+, max 30"):
        build_model(_cfg())(torch.tensor([[30]]))
    assert isinstance(build_model(ModelConfig(vocab_size=30)), Decoder)
