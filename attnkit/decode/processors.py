"""Logits processors: each maps next-token logits ``(B, V)`` to new logits ``(B, V)``.

They run in this order: repetition penalty, temperature, top-k, top-p. ``temperature == 0``
means greedy, handled by :func:`choose_next` (argmax), not by dividing by zero.
"""

from __future__ import annotations

import torch
from torch import Tensor


def repetition_penalty(logits: Tensor, history: Tensor, penalty: float) -> Tensor:
    """CTRL's penalty (Keskar et al. 2019): divide positive, multiply negative logits of seen ids.

    Args:
        history: ``(B, N)`` ids generated or prompted so far.
    """
    if penalty == 1.0 or history.numel() == 0:
        return logits
    seen = torch.gather(logits, 1, history)  # (B, V) at (B, N) -> (B, N)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, history, seen)


def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits per row; the rest become -inf."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]  # (B, k) -> (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p(logits: Tensor, p: float) -> Tensor:
    """Nucleus sampling (Holtzman et al. 2020): keep the smallest set with probability >= p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    drop = cum - torch.softmax(sorted_logits, dim=-1) >= p  # mass before this token already >= p
    drop[:, 0] = False  # always keep the most likely token
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)


def process(
    logits: Tensor,
    history: Tensor,
    *,
    temperature: float = 1.0,
    k: int | None = None,
    p: float | None = None,
    penalty: float = 1.0,
) -> Tensor:
    """Apply the configured processors in order (temperature > 0)."""
    logits = repetition_penalty(logits, history, penalty)
    logits = logits / temperature
    if k is not None:
        logits = top_k(logits, k)
    if p is not None:
        logits = top_p(logits, p)
    return logits


def choose_next(
    logits: Tensor,
    history: Tensor,
    *,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    penalty: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Next ids ``(B,)`` from last-position logits ``(B, V)``: the argmax at ``temperature == 0``,
    else a draw from the softmax of the processed logits (in float32)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = process(logits.float(), history, temperature=temperature, k=top_k, p=top_p, penalty=penalty)
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(1)
