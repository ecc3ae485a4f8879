"""Position information: sinusoidal and learned (added to embeddings) and RoPE (rotates q, k).

Notation: T positions, C model dim, D head dim. Positions are integer tensors ``(T,)`` or
``(B, T)`` so that a cached decoder can continue at ``cache.length``.

- Sinusoidal: Vaswani et al. 2017, section 3.5: PE(p, 2i) = sin(p / 10000^(2i/C)),
  PE(p, 2i+1) = cos(p / 10000^(2i/C)).
- Learned: one trained vector per position (GPT-2, BERT).
- RoPE: Su et al. 2021, "RoFormer". The rotate-half layout (first half of D paired with second
  half) is the one LLaMA-family checkpoints use, so they load without permuting weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnkit.attention.shapes import value_range


def _check_positions(positions: Tensor, max_len: int, what: str) -> None:
    span = value_range(positions)
    if span is not None and span[1] >= max_len:
        raise ValueError(
            f"{what} position {span[1]} is out of range: max_seq_len={max_len}; "
            "shorten the input or build the model with a larger max_seq_len"
        )


class SinusoidalPositions(nn.Module):
    """Fixed sin/cos table ``(max_len, C)``; returns the rows for the given positions."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (P, 1)
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * div)
        table[:, 1::2] = torch.cos(pos * div[: d_model // 2])
        # Not a parameter and not saved: it is a pure function of the config.
        self.register_buffer("table", table.float(), persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        _check_positions(positions, self.table.shape[0], "sinusoidal")
        return self.table[positions]  # (..., T) -> (..., T, C)


class LearnedPositions(nn.Module):
    """A trained embedding per position, ``(max_len, C)``."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, positions: Tensor) -> Tensor:
        _check_positions(positions, self.weight.shape[0], "learned")
        return self.weight[positions]  # (..., T) -> (..., T, C)


def position_table(kind: str, d_model: int, max_len: int) -> nn.Module | None:
    """The additive position module for ``kind`` (None for ``rope``, which rotates q and k inside
    attention, and for ``none``)."""
    if kind == "sinusoidal":
        return SinusoidalPositions(d_model, max_len)
    if kind == "learned":
        return LearnedPositions(d_model, max_len)
    if kind in ("rope", "none"):
        return None
    raise ValueError(f"unknown positions {kind!r}; choose sinusoidal, learned, rope, none")


class RotaryEmbedding(nn.Module):
    """Rotary position embedding applied to queries and keys inside attention."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head_dim, got {head_dim}")
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @classmethod
    def for_positions(cls, kind: str, head_dim: int, theta: float = 10000.0) -> RotaryEmbedding | None:
        """RoPE when the position scheme ``kind`` is ``"rope"``, else None (a table or nothing)."""
        return cls(head_dim, theta) if kind == "rope" else None

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """Rotate ``x`` ``(B, H, T, D)`` by the angles of ``positions`` ``(T,)`` or ``(B, T)``."""
        angles = positions.to(self.inv_freq.dtype)[..., None] * self.inv_freq  # (..., T) -> (..., T, D/2)
        angles = torch.cat([angles, angles], dim=-1)  # (..., T, D/2) -> (..., T, D)
        if angles.dim() == 3:
            angles = angles[:, None]  # (B, T, D) -> (B, 1, T, D): shared by all heads
        # Rotation in float32 at least: bf16 angles lose whole radians at long positions.
        cos, sin = angles.cos(), angles.sin()
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        half = xf.shape[-1] // 2
        rotated = torch.cat([-xf[..., half:], xf[..., :half]], dim=-1)  # rotate_half
        return (xf * cos.to(xf.dtype) + rotated * sin.to(xf.dtype)).to(x.dtype)
