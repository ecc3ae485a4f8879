"""Positions: the sinusoidal table, learned positions and RoPE."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.attention import LearnedPositions, RotaryEmbedding, SinusoidalPositions


def test_sinusoidal_values_follow_the_paper():
    pe = SinusoidalPositions(d_model=8, max_len=50)
    out = pe(torch.tensor([0, 1, 7]))
    assert out.shape == (3, 8)
    assert out[0].tolist() == [0.0, 1.0] * 4
    for i in range(4):  # PE(p, 2i) = sin(p / 10000^(2i/C)), PE(p, 2i+1) = cos(...)
        angle = 7 / 10000 ** (2 * i / 8)
        assert out[2, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert out[2, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


@pytest.mark.parametrize("cls", [SinusoidalPositions, LearnedPositions])
def test_out_of_range_position_is_a_clear_error(cls):
    pe = cls(8, 16)
    assert pe(torch.arange(16)).shape == (16, 8)
    with pytest.raises(ValueError, match="position 16 is out of range: max_seq_len=16"):
        pe(torch.arange(17))


def test_rope_scores_depend_only_on_relative_offset():
    rope = RotaryEmbedding(16)
    q, k = torch.randn(1, 1, 1, 16, dtype=torch.float64), torch.randn(1, 1, 1, 16, dtype=torch.float64)
    rope = rope.double()

    def score(pq: int, pk: int) -> float:
        qr = rope(q, torch.tensor([pq]))
        kr = rope(k, torch.tensor([pk]))
        return (qr * kr).sum().item()

    assert score(5, 2) == pytest.approx(score(105, 102), abs=1e-9)
    assert score(5, 2) != pytest.approx(score(5, 3), abs=1e-3)


def test_rope_preserves_norm_and_is_identity_at_zero():
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 3, 5, 8)
    pos = torch.arange(5)
    out = rope(x, pos)
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(out[:, :, 0], x[:, :, 0])
    per_batch = rope(x, pos[None].expand(2, 5))  # (B, T) positions give the same result
    torch.testing.assert_close(per_batch, out)


def test_rope_matches_rotate_half_formula():
    # The LLaMA rotate-half convention, written independently.
    d, theta = 8, 10000.0
    x = torch.randn(1, 2, 4, d, dtype=torch.float64)
    pos = torch.arange(4, dtype=torch.float64)
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    freqs = torch.outer(pos, inv)
    emb = torch.cat([freqs, freqs], -1)
    rot = torch.cat([-x[..., d // 2 :], x[..., : d // 2]], -1)
    expected = x * emb.cos() + rot * emb.sin()
    got = RotaryEmbedding(d, theta).double()(x, torch.arange(4))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_rope_needs_even_head_dim():
    with pytest.raises(ValueError, match="even head_dim"):
        RotaryEmbedding(7)
