"""The reference backend's small rules, by hand: causality for two queries, the defaults,
dropout's rate, and the exact fallback and capture messages (`make mutate`, docs/testing.md)."""

from __future__ import annotations

import logging

import pytest
import torch

from attnkit.attention import get_backend, registry
from attnkit.attention.capture import AttentionCapture
from attnkit.attention.reference import attention_weights, reference_attention


def test_two_causal_queries_by_hand():
    # T = S = 2, D = 1, q = k = 1: the first query sees only the first key; the second both.
    q = torch.ones(1, 1, 2, 1, dtype=torch.float64)
    v = torch.tensor([[[[1.0], [3.0]]]], dtype=torch.float64)
    out, w = reference_attention(q, q, v, is_causal=True, need_weights=True)
    assert w.tolist() == [[[[1.0, 0.0], [0.5, 0.5]]]]
    assert out.tolist() == [[[[1.0], [2.0]]]]
    assert torch.equal(attention_weights(q, q), torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64))


def test_attention_dropout_zeroes_about_p_of_the_probabilities():
    # q = 0 gives uniform weights 1/S; with V = identity the output is the dropped-out
    # probabilities themselves: a quarter are 0, the rest (1/S) / 0.75. 65,536 entries: the
    # standard error of the zero fraction is 0.002.
    torch.manual_seed(0)
    s = 64
    q = torch.zeros(4, 4, s, s)
    v = torch.eye(s).expand(4, 4, s, s)
    out, w = reference_attention(q, q, v, dropout_p=0.25, need_weights=True)
    assert torch.equal(w, torch.full_like(w, 1 / s))  # the returned weights are before dropout
    assert float((out == 0).double().mean()) == pytest.approx(0.25, abs=0.01)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / s / 0.75))


def test_the_fallback_warning_in_full(caplog, monkeypatch):
    monkeypatch.setattr(registry, "_warned", set())
    q = torch.randn(1, 2, 4, 8)
    with caplog.at_level(logging.WARNING, logger="attnkit.attention.registry"):
        get_backend("sdpa")(q, q, q, need_weights=True)
    assert [r.getMessage() for r in caplog.records] == [
        "attention backend 'sdpa' cannot serve need_weights=True; using 'reference' for it"
    ]


def test_stacking_layers_of_different_shapes_says_how_to_choose():
    cap = AttentionCapture.__new__(AttentionCapture)
    cap.records = {
        "dec.0.self_attn": [torch.zeros(1, 2, 3, 3)],
        "dec.0.cross_attn": [torch.zeros(1, 2, 3, 5)],
    }
    with pytest.raises(ValueError) as err:
        cap.stack("dec")
    assert str(err.value) == (
        "captured layers 'dec'...'' have different shapes: {(1, 2, 3, 3), (1, 2, 3, 5)}; "
        "select self- or cross-attention with suffix="
    ) or str(err.value) == (
        "captured layers 'dec'...'' have different shapes: {(1, 2, 3, 5), (1, 2, 3, 3)}; "
        "select self- or cross-attention with suffix="
    )
    assert cap.stack("dec", "cross_attn").shape == (1, 1, 2, 3, 5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_weights_are_normalised_in_float32(dtype):
    torch.manual_seed(1)
    q, k = torch.randn(2, 2, 16, 8, dtype=dtype), torch.randn(2, 2, 16, 8, dtype=dtype)
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1 / 8**0.5)
    want = torch.softmax(scores.float(), dim=-1).to(dtype)
    got = attention_weights(q, k)
    assert got.dtype == dtype and torch.equal(got, want)


def test_sdpa_defaults_scale_dropout_and_fully_masked_rows_match_the_reference():
    from attnkit.attention.sdpa import sdpa_attention

    torch.manual_seed(2)
    q, k, v = (torch.randn(1, 2, 5, 8, dtype=torch.float64) for _ in range(3))
    out, w = sdpa_attention(q, k, v)
    torch.testing.assert_close(out, reference_attention(q, k, v)[0])  # not causal, no dropout
    assert w is None
    mask = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    mask[..., 2, :] = False  # query 2 sees nothing
    for m in (None, mask):
        got = sdpa_attention(q, k, v, mask=m, scale=0.3)[0]
        torch.testing.assert_close(got, reference_attention(q, k, v, mask=m, scale=0.3)[0])
    masked = sdpa_attention(q, k, v, mask=mask)[0]
    assert torch.equal(masked[..., 2, :], torch.zeros(1, 2, 8, dtype=torch.float64))
    torch.manual_seed(3)
    dropped = sdpa_attention(q, k, v, mask=mask, dropout_p=0.5)[0]
    assert not torch.allclose(dropped, masked)


def test_mask_checks_in_full():
    from attnkit.attention.shapes import check_mask

    with pytest.raises(ValueError) as err:
        check_mask(torch.ones(1, 1, 2, 2), 1, 1, 2, 2)
    assert str(err.value) == (
        "attention masks are bool with True = may attend, got dtype torch.float32; "
        "build them with attnkit.data.masks"
    )
    with pytest.raises(ValueError) as err:  # broadcastable values, but five dimensions
        check_mask(torch.ones(1, 1, 1, 2, 2, dtype=torch.bool), 1, 1, 2, 2)
    assert str(err.value) == "mask of shape (1, 1, 1, 2, 2) does not broadcast to (B, H, T, S) = (1, 1, 2, 2)"
    check_mask(torch.ones(2, 2, dtype=torch.bool), 3, 4, 2, 2)  # (T, S) broadcasts


def test_qkv_checks_in_full_and_per_head_masks_pass():
    from attnkit.attention.shapes import check_qkv, value_range

    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(ValueError) as err:
        check_qkv(q[0], q, q, None)
    assert str(err.value).startswith("attention expects 4-D q (B, H, T, D), k and v (B, Hkv, S, D); got ")
    with pytest.raises(ValueError) as err:
        check_qkv(q, q.double(), q, None)
    assert str(err.value) == "q, k, v dtypes differ: torch.float32, torch.float64, torch.float32"
    per_head = torch.tensor([[True, True, False], [True, False, False]]).view(1, 2, 1, 3).expand(1, 2, 3, 3)
    assert check_qkv(q, q, q, per_head).h == 2  # a mask with its own row per head broadcasts
    assert value_range(torch.empty(0, dtype=torch.long)) is None
    assert value_range(torch.tensor([[3, -2], [7, 0]])) == (-2, 7)


def test_rope_rotates_low_precision_inputs_in_float32_and_rounds_once():
    from attnkit.attention.positional import RotaryEmbedding

    torch.manual_seed(4)
    rope = RotaryEmbedding(16)
    x = torch.randn(2, 2, 50, 16).to(torch.bfloat16)
    pos = torch.arange(1000, 1050)  # long positions: bf16 angles would lose whole radians
    got = rope(x, pos)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, rope(x.float(), pos).to(torch.bfloat16))


def test_capture_selects_attention_layers_by_index_or_name_and_keeps_the_scale():
    from attnkit.attention.capture import capture_attention
    from attnkit.models import Decoder, model_config

    model = Decoder(model_config("tiny", vocab_size=20)).eval()
    attn = [n for n, m in model.named_modules() if getattr(m, "is_attention_layer", False)]
    with capture_attention(model) as cap:
        pass
    assert sorted(cap.names.values()) == sorted(attn)  # every attention layer, nothing else
    with capture_attention(model, layers=["layers.1"]) as by_name:
        model(torch.tensor([[1, 2, 3]]))
    assert list(by_name.records) == ["layers.1.self_attn"]
    q = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    module = model.get_submodule("layers.1.self_attn")
    by_name.record(module, q, q, None, False, 0.3)
    torch.testing.assert_close(by_name.records["layers.1.self_attn"][-1], attention_weights(q, q, scale=0.3))
