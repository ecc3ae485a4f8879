"""attnkit's CPU dropout: keep rate, scaling, independence and eval-mode identity."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.layers.dropout import LANES, Dropout, dropout, keep_mask, keep_probability


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_keep_rate_matches_the_documented_probability(p):
    torch.manual_seed(1234)
    n = 1 << 22
    q = keep_probability(p)
    assert abs(q - (1 - p)) <= 0.5 / LANES
    kept = keep_mask(torch.Size([n]), p, torch.device("cpu")).float().mean().item()
    # Binomial: 5 standard deviations (sd = sqrt(q(1-q)/n) < 2.5e-4) with a fixed seed.
    assert abs(kept - q) < 5 * math.sqrt(q * (1 - q) / n)


def test_kept_elements_are_scaled_by_one_over_q_and_the_rest_are_zero():
    torch.manual_seed(0)
    x = torch.randn(64, 33, 17)  # numel not a multiple of 4
    y = dropout(x, 0.25)
    q = keep_probability(0.25)
    kept = y != 0
    assert y.shape == x.shape
    torch.testing.assert_close(y[kept], x[kept] / q, rtol=1e-6, atol=0)
    # Unbiased: the mean over many draws of dropout(1) is 1.
    ones = torch.ones(1 << 20)
    assert dropout(ones, 0.25).mean().item() == pytest.approx(1.0, abs=5 * math.sqrt((1 - q) / q / (1 << 20)))


def test_the_four_lanes_of_one_random_word_are_independent():
    torch.manual_seed(7)
    m = keep_mask(torch.Size([1 << 22]), 0.5, torch.device("cpu")).float().view(-1, 4)  # (n/4, 4) lanes
    corr = torch.corrcoef(m.T)  # (4, 4)
    off = corr[~torch.eye(4, dtype=torch.bool)]
    assert off.abs().max().item() < 5 / math.sqrt(m.shape[0])  # 5 sd of a null correlation


def test_gradient_is_the_mask_over_q():
    torch.manual_seed(3)
    x = torch.randn(10, 20, requires_grad=True)
    y = dropout(x, 0.4)
    y.sum().backward()
    q = keep_probability(0.4)
    expected = (y != 0).float() / q
    torch.testing.assert_close(x.grad, expected)


def test_identity_in_eval_mode_and_at_p_zero_and_zeros_at_p_one():
    x = torch.randn(4, 8)
    m = Dropout(0.5)
    m.eval()
    assert m(x) is x
    m.train()
    assert Dropout(0.0)(x) is x
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    assert (m(x) == 0).any()
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Dropout(1.5)


def test_seeded_draws_repeat():
    x = torch.randn(1000)
    torch.manual_seed(5)
    a = dropout(x, 0.3)
    torch.manual_seed(5)
    b = dropout(x, 0.3)
    assert torch.equal(a, b) and not torch.equal(a, dropout(x, 0.3))


def test_bf16_input_keeps_its_dtype():
    x = torch.randn(16, 16, dtype=torch.bfloat16)
    y = dropout(x, 0.2)
    assert y.dtype == torch.bfloat16
    kept = y != 0
    torch.testing.assert_close(y[kept], (x[kept].float() / keep_probability(0.2)).bfloat16())
