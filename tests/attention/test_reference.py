"""The oracle itself: a hand-computed case and the annotated-transformer formula."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.attention import attention_weights, reference_attention


def test_two_by_two_by_hand():
    # q = k = I, D = 2: scores = I / sqrt(2); softmax([a, 0]) = [e^a, 1] / (e^a + 1).
    q = torch.eye(2, dtype=torch.float64)[None, None]  # (1, 1, 2, 2)
    v = torch.tensor([[1.0, 0.0], [0.0, 10.0]], dtype=torch.float64)[None, None]
    out, w = reference_attention(q, q, v, need_weights=True)
    a = math.exp(1 / math.sqrt(2))
    p = a / (a + 1)
    expected_w = torch.tensor([[p, 1 - p], [1 - p, p]], dtype=torch.float64)
    torch.testing.assert_close(w[0, 0], expected_w, atol=1e-12, rtol=0)
    torch.testing.assert_close(out[0, 0], expected_w @ v[0, 0], atol=1e-12, rtol=0)


def _annotated_transformer(query, key, value, mask=None):
    """The Annotated Transformer's ``attention`` (mask: 0 = blocked)."""
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    return torch.matmul(p_attn, value), p_attn


@pytest.mark.parametrize("causal", [False, True])
def test_matches_annotated_transformer(causal):
    q, k, v = (torch.randn(2, 3, 7, 8, dtype=torch.float64) for _ in range(3))
    mask = torch.ones(7, 7, dtype=torch.bool).tril() if causal else None
    out, w = reference_attention(q, k, v, is_causal=causal, need_weights=True)
    out2, w2 = _annotated_transformer(q, k, v, mask)
    torch.testing.assert_close(out, out2, atol=1e-12, rtol=0)
    torch.testing.assert_close(w, w2, atol=1e-12, rtol=0)


def test_weights_are_distributions_and_masked_keys_get_zero():
    q, k = torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    key_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    w = attention_weights(q, k, mask=key_mask, is_causal=True)
    assert w.shape == (2, 2, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 5))
    assert torch.equal(w[1, :, :, 3:], torch.zeros(2, 5, 2))
    assert torch.equal(w.triu(1), torch.zeros_like(w))


def test_need_weights_false_returns_none():
    q = torch.randn(1, 1, 3, 4)
    _, w = reference_attention(q, q, q)
    assert w is None


def test_bfloat16_weights_normalised_in_float32():
    q, k = torch.randn(1, 2, 64, 32), torch.randn(1, 2, 64, 32)
    w = attention_weights(q.bfloat16(), k.bfloat16())
    assert w.dtype == torch.bfloat16
    exact = attention_weights(q.double(), k.double())
    torch.testing.assert_close(w.double(), exact, atol=1e-2, rtol=2e-2)
