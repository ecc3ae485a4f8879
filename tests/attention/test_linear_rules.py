"""Linear attention's own rules by hand: the feature map, its weights for two positions, its
defaults and refusals, and low precision computed in float32. The backend tests compare its
chunked form with its quadratic form; these pin what both compute (docs/testing.md)."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.attention.linear import feature_map, linear_attention, linear_weights


def test_feature_map_is_elu_plus_one():
    got = feature_map(torch.tensor([-1.0, 0.0, 2.0]))
    assert got.tolist() == pytest.approx([math.exp(-1), 1.0, 3.0])


def test_weights_for_two_positions_by_hand():
    # D = 1: phi(q) = phi(k) entries elu(x) + 1. q = [0, 2] -> [1, 3]; k = [-1, 0] -> [e^-1, 1].
    q = torch.tensor([0.0, 2.0], dtype=torch.float64).view(1, 1, 2, 1)
    k = torch.tensor([-1.0, 0.0], dtype=torch.float64).view(1, 1, 2, 1)
    e = math.exp(-1)
    full = linear_weights(q, k)
    row = [e / (e + 1), 1 / (e + 1)]
    eps = dict(atol=1e-5, rtol=0)  # the normaliser adds 1e-6 to each row's sum
    torch.testing.assert_close(full[0, 0], torch.tensor([row, row], dtype=torch.float64), **eps)
    causal = linear_weights(q, k, is_causal=True)
    torch.testing.assert_close(causal[0, 0], torch.tensor([[1.0, 0.0], row], dtype=torch.float64), **eps)
    out, w = linear_attention(q, k, k.exp())  # defaults: not causal, no weights
    assert w is None
    torch.testing.assert_close(out, full @ k.exp())


def test_padding_masks_drop_keys_and_dropout_is_refused():
    q = torch.randn(2, 1, 3, 4, dtype=torch.float64)
    keep = torch.tensor([[True, True, False], [True, False, False]]).view(2, 1, 1, 3)
    out, _ = linear_attention(q, q, q, mask=keep)
    for b, n in ((0, 2), (1, 1)):
        alone, _ = linear_attention(q[b : b + 1], q[b : b + 1, :, :n], q[b : b + 1, :, :n])
        torch.testing.assert_close(out[b : b + 1], alone)
    with pytest.raises(ValueError) as err:
        linear_attention(q, q, q, dropout_p=0.1)
    assert str(err.value) == "the linear attention backend has no attention dropout; set attn_dropout=0"


def test_low_precision_is_computed_in_float32_and_rounded_once():
    torch.manual_seed(5)
    q, k, v = (torch.randn(1, 2, 40, 8).bfloat16() for _ in range(3))
    for causal in (False, True):
        want = linear_attention(q.float(), k.float(), v.float(), is_causal=causal)[0].bfloat16()
        got = linear_attention(q, k, v, is_causal=causal)[0]
        assert got.dtype == torch.bfloat16 and torch.equal(got, want)


@pytest.mark.parametrize("shape", [(1, 2, 1, 3), (1, 1, 3, 3)])
def test_masks_other_than_key_padding_are_refused(shape):
    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(ValueError) as err:
        linear_attention(q, q, q, mask=torch.ones(shape, dtype=torch.bool))
    assert str(err.value) == (
        f"linear attention supports only key-padding masks broadcastable to (B, 1, 1, S); got {shape}. "
        "Use the 'tiled' or 'local:<W>' backend for general masks"
    )


def test_two_causal_queries_use_the_causal_form_and_float_masks_are_refused():
    q = torch.tensor([0.0, 2.0], dtype=torch.float64).view(1, 1, 2, 1)
    k = torch.tensor([-1.0, 0.0], dtype=torch.float64).view(1, 1, 2, 1)
    v = torch.tensor([1.0, 5.0], dtype=torch.float64).view(1, 1, 2, 1)
    out, _ = linear_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, linear_weights(q, k, is_causal=True) @ v)
    assert float(out[0, 0, 0, 0]) == pytest.approx(1.0, abs=1e-5)  # the first query sees only key 0
    with pytest.raises(ValueError, match="attention masks are bool"):
        linear_attention(q, k, v, mask=torch.ones(1, 1, 1, 2))
