"""The reference backend: the seed article's formula, written out op by op.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V          (Vaswani et al. 2017, eq. 1)

Shapes: q (B, H, T, D); k, v (B, Hkv, S, D); mask broadcastable to (B, H, T, S), bool with
True = may attend. It runs in any dtype, float64 included, and is the oracle every other backend
is tested against. It is also what :mod:`attnkit.attention.capture` uses to recover exact weights
while a model runs a fused backend.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from attnkit.attention.registry import Capabilities, register_backend
from attnkit.attention.shapes import check_qkv
from attnkit.data.masks import causal_mask, combine


def resolve_mask(mask: Tensor | None, is_causal: bool, t: int, s: int, device) -> Tensor | None:
    """Fold ``is_causal`` into ``mask``: one bool mask (or None when nothing is masked)."""
    if not is_causal:
        return mask
    if t == 1:
        # A single (newest) query sees every key: bottom-right causality masks nothing.
        return mask
    return combine(mask, causal_mask(t, s, device=device))


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """Share each key/value head among ``n_rep`` query heads (GQA/MQA)."""
    if n_rep == 1:
        return x
    return x.repeat_interleave(n_rep, dim=1)  # (B, Hkv, S, D) -> (B, Hkv * n_rep, S, D)


def attention_weights(
    q: Tensor,
    k: Tensor,
    *,
    mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(Q K^T * scale) with masking: the (B, H, T, S) attention probabilities.

    Masked positions get exactly 0. A query whose row is fully masked gets all zeros rather than
    NaN: the scores use the dtype's most negative finite value instead of -inf (so softmax stays
    finite, also in backward), and the mask is applied again after the softmax.
    """
    _, h, t, d = q.shape
    h_kv, s = k.shape[1], k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    k = repeat_kv(k, h // h_kv)
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale  # (B, H, T, D) @ (B, H, D, S) -> (B, H, T, S)
    allowed = resolve_mask(mask, is_causal, t, s, q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    # Low-precision scores are normalised in float32, as every fused kernel does internally.
    acc = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    weights = torch.softmax(scores, dim=-1, dtype=acc).to(q.dtype)
    if allowed is not None:
        weights = weights.masked_fill(~allowed, 0.0)
    return weights


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Explicit softmax(QK^T * scale)V. Returns ``(out (B, H, T, D), weights (B, H, T, S) | None)``.

    The weights returned are before dropout, i.e. the model's attention distribution.
    """
    dims = check_qkv(q, k, v, mask)
    weights = attention_weights(q, k, mask=mask, is_causal=is_causal, scale=scale)
    probs = F.dropout(weights, p=dropout_p) if dropout_p > 0.0 else weights
    v = repeat_kv(v, dims.h // dims.h_kv)
    out = torch.matmul(probs, v)  # (B, H, T, S) @ (B, H, S, D) -> (B, H, T, D)
    return out, (weights if need_weights else None)


# Registered by a call rather than a decorator, so that mutation testing (docs/testing.md), which
# skips decorated functions, reaches the body.
REFERENCE_CAPS = Capabilities(weights=True, dropout=True, gqa=True, exact=True)
register_backend("reference", REFERENCE_CAPS)(reference_attention)
