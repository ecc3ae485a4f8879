"""Capture: exact reference weights of chosen layers while the model runs a fused backend."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import capture_attention
from attnkit.models import Decoder, Encoder, EncoderDecoder, model_config


def test_capture_on_sdpa_equals_reference_backend_weights(spy_backend):
    cfg = model_config("tiny", vocab_size=30, pad_id=0, n_kv_heads=2, positions="rope")
    model = EncoderDecoder(cfg).eval()
    src = torch.randint(1, 30, (2, 9))
    src[1, 6:] = 0
    tgt = torch.randint(1, 30, (2, 5))
    with torch.no_grad(), capture_attention(model) as cap:
        model(src, tgt)
    model.set_attn_backend("spy")
    with torch.no_grad():
        model(src, tgt)
    captured = [w for ws in cap.records.values() for w in ws]
    # Module order equals call order here: encoder layers, then decoder self/cross per layer.
    assert len(captured) == len(spy_backend) == 6
    for got, ref in zip(captured, spy_backend, strict=True):
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-5)
    assert cap.stack("decoder", "cross_attn").shape == (2, 2, 4, 5, 9)  # (L, B, H, T, S)


def test_capture_is_exact_in_float64():
    model = Encoder(model_config("tiny", vocab_size=20)).double().eval()
    ids = torch.randint(0, 20, (2, 7))
    with torch.no_grad(), capture_attention(model) as fast:
        model(ids)
    model.set_attn_backend("reference")
    with torch.no_grad(), capture_attention(model) as slow:
        model(ids)
    torch.testing.assert_close(fast.stack(), slow.stack(), atol=1e-12, rtol=0)


def test_layer_and_head_selection():
    model = Decoder(model_config("tiny", vocab_size=20, n_layers=3)).eval()
    ids = torch.randint(0, 20, (1, 6))
    with torch.no_grad(), capture_attention(model, layers=[0, 2], heads=[1, 3]) as cap:
        model(ids)
    assert list(cap.records) == ["layers.0.self_attn", "layers.2.self_attn"]
    w = cap.stack()
    assert w.shape == (2, 1, 2, 6, 6)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 1, 2, 6))
    assert torch.equal(w.triu(1), torch.zeros_like(w))  # causal


def test_cached_decoding_records_one_map_per_step():
    model = Decoder(model_config("tiny", vocab_size=20)).eval()
    cache = model.new_cache(1, 8)
    with torch.no_grad(), capture_attention(model, layers=[1]) as cap:
        model(torch.tensor([[1, 2, 3]]), cache=cache)
        model(torch.tensor([[4]]), cache=cache)
    shapes = [tuple(w.shape) for w in cap.records["layers.1.self_attn"]]
    assert shapes == [(1, 4, 3, 3), (1, 4, 1, 4)]


def test_capture_outside_block_records_nothing_and_bad_selection_errors():
    model = Decoder(model_config("tiny", vocab_size=20)).eval()
    with capture_attention(model) as cap:
        pass
    model(torch.tensor([[1, 2]]))
    assert cap.records == {}
    with pytest.raises(ValueError, match="selects no attention layer"), capture_attention(model, layers=[7]):
        pass
    with pytest.raises(ValueError, match="no captured layer matches"):
        cap.stack("encoder")
