"""Dropout that costs little on the CPU.

``torch.nn.Dropout`` on the CPU draws one float32 random number per element (Bernoulli), and
that draw, not the multiply, is most of its cost: p=0.1 on a (16, 256, 384) fp32 tensor takes
10.6 ms forward and 11.1 ms forward + backward on this project's 2-core CPU, where the
multiply alone takes under 2 ms.

:class:`Dropout` draws 64 random bits per 4 elements instead (one ``int64`` draw read as four
``int16`` lanes) and keeps an element when its 16-bit lane is at or above a threshold. The same
tensor then takes 3.6 ms forward (2.8× faster) and 5.4 ms forward + backward (2.1×); in bf16
2.8 and 4.3 ms (benchmarks/RESULTS.md, "Dropout on the CPU"). Semantics, exactly:

- an element is zeroed with probability ``p16 = round(p * 65536) / 65536`` (``p`` to within
  7.7e-6) and kept with ``q = 1 - p16``, independently of every other element;
- a kept element is scaled by ``1 / q``, so the expected output equals the input;
- in eval mode, or with p = 0, it is the identity (the same tensor object is returned);
- the draw comes from torch's default generator, so ``torch.manual_seed`` makes it repeatable.

On CUDA (and other devices) it calls ``F.dropout``, whose fused kernel is already cheap.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LANES = 65536
"""Resolution of the drop probability: 16 random bits per element."""


def drop_threshold(p: float) -> int:
    """The 16-bit threshold (in ``int16``'s signed range) under which an element is dropped."""
    return round(p * LANES) - LANES // 2


def keep_probability(p: float) -> float:
    """The exact keep rate ``q`` that :func:`dropout` uses for a requested ``p``."""
    return 1.0 - round(p * LANES) / LANES


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    """A bool tensor of ``shape``: True with probability :func:`keep_probability` per element."""
    n = shape.numel()
    # One int64 draw over its full range = 4 independent uniform int16 lanes.
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    lanes = words.view(torch.int16)[:n].view(shape)  # (ceil(n/4),) int64 -> (n,) int16 -> shape
    return lanes >= drop_threshold(p)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout with the semantics in the module docstring."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    return torch.where(keep_mask(x.shape, p, x.device), x * (1.0 / keep_probability(p)), 0.0)


class Dropout(nn.Module):
    """Drop-in for ``nn.Dropout`` (same ``p``, same eval-mode identity), cheap on the CPU."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
