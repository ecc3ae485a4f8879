"""The one mask convention of attnkit: bool tensors, True = may attend.

Every mask in the project is built here and is broadcastable to ``(B, H, T, S)``:

    B batch, H heads (or 1), T query length, S key length.

Backends may turn a mask into an additive bias or an ``is_causal`` flag internally; nothing else
converts masks. Positions that must be ignored are False. A row that is False everywhere (a query
that may attend to nothing, e.g. a padding query) is legal: every backend returns zeros for it.

Causal masks are aligned bottom-right: when ``T < S`` (a decoder continuing from ``S - T`` cached
positions) query ``i`` sees keys ``j <= i + (S - T)``. That is what incremental decoding needs,
and it equals the usual lower-triangular mask when ``T == S``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "causal_mask",
    "combine",
    "expand_padding",
    "lengths_to_padding_mask",
    "padding_mask",
    "sliding_window_mask",
]


def padding_mask(ids: Tensor, pad_id: int) -> Tensor:
    """Key mask from token ids: True where the token is not padding.

    Args:
        ids: ``(B, S)`` integer token ids.
        pad_id: the padding id.

    Returns:
        ``(B, S)`` bool, True = a real token that may be attended to.
    """
    if ids.dim() != 2:
        raise ValueError(f"padding_mask expects ids of shape (B, S), got {tuple(ids.shape)}")
    return ids != pad_id


def lengths_to_padding_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """``(B,)`` lengths -> ``(B, S)`` bool, True for the first ``lengths[b]`` positions."""
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    s = int(lengths.max().item()) if max_len is None else max_len
    return torch.arange(s, device=lengths.device)[None, :] < lengths[:, None]


def expand_padding(key_mask: Tensor) -> Tensor:
    """``(B, S)`` key mask -> ``(B, 1, 1, S)``, broadcastable over heads and queries."""
    if key_mask.dim() != 2 or key_mask.dtype != torch.bool:
        raise ValueError(
            f"a key padding mask must be bool of shape (B, S), got {key_mask.dtype} {tuple(key_mask.shape)}"
        )
    return key_mask[:, None, None, :]  # (B, S) -> (B, 1, 1, S)


def causal_mask(t: int, s: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """``(T, S)`` bool lower-triangular mask, aligned bottom-right (see module docstring)."""
    s = t if s is None else s
    if s < t:
        raise ValueError(f"causal_mask needs S >= T (keys include the queries), got T={t}, S={s}")
    return torch.ones(t, s, dtype=torch.bool, device=device).tril(diagonal=s - t)


def sliding_window_mask(
    t: int,
    window: int,
    s: int | None = None,
    causal: bool = True,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(T, S)`` bool local mask: query ``i`` sees keys within ``window`` positions of itself.

    Positions are aligned bottom-right like :func:`causal_mask`. With ``causal=True`` a query
    sees itself and the ``window - 1`` keys before it; otherwise ``window`` keys on each side.
    """
    s = t if s is None else s
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if s < t:
        raise ValueError(f"sliding_window_mask needs S >= T, got T={t}, S={s}")
    qpos = torch.arange(s - t, s, device=device)[:, None]  # (T, 1) absolute query positions
    kpos = torch.arange(s, device=device)[None, :]  # (1, S)
    dist = qpos - kpos  # (T, S) how far back each key is
    if causal:
        return (dist >= 0) & (dist < window)
    return dist.abs() <= window


def combine(*masks: Tensor | None) -> Tensor | None:
    """AND of any number of masks (None = no constraint); the result broadcasts to all inputs."""
    out: Tensor | None = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise ValueError(f"masks must be bool (True = may attend), got {m.dtype}")
        out = m if out is None else out & m
    return out
