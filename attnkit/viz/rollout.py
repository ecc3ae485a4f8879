"""Attention rollout (Abnar & Zuidema, 2020): how much each input token flows into each position.

A residual block computes ``x + attn(x)``, so the token mixing of layer l is modelled as
``Â_l = 0.5 * A_l + 0.5 * I`` with ``A_l`` the head-averaged attention; rows are renormalised
and the layers are multiplied from the bottom up: ``R = Â_L · … · Â_1``. Row t of ``R`` says how
much of position t's representation at the top traces back to each input token.

Rollout needs every layer from 0 up: a gap would drop a layer's mixing from the product. It
applies to self-attention (square maps) of encoders and decoders; a causal decoder's rollout
stays lower-triangular.
"""

from __future__ import annotations

import torch
from torch import Tensor


def attention_rollout(weights: Tensor, *, residual: float = 0.5, head_fusion: str = "mean") -> Tensor:
    """Roll out ``(L, H, T, T)`` or ``(L, B, H, T, T)`` self-attention weights.

    Args:
        weights: every layer's weights, layer 0 first.
        residual: the weight of the identity (0.5 in the paper; 0 multiplies raw attention).
        head_fusion: ``mean``, ``max`` or ``min`` over heads.

    Returns:
        ``(T, T)`` or ``(B, T, T)`` in float32; every row sums to 1.
    """
    if weights.dim() == 4:
        weights = weights.unsqueeze(1)  # (L, H, T, T) -> (L, 1, H, T, T)
        squeeze = True
    elif weights.dim() == 5:
        squeeze = False
    else:
        raise ValueError(
            f"rollout expects (L, H, T, T) or (L, B, H, T, T) weights, got {tuple(weights.shape)}"
        )
    t, s = weights.shape[-2:]
    if t != s:
        raise ValueError(f"rollout needs square self-attention maps, got T={t}, S={s} (cross-attention?)")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must be in [0, 1], got {residual}")
    fuse = {"mean": lambda w: w.mean(1), "max": lambda w: w.amax(1), "min": lambda w: w.amin(1)}
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion must be one of {sorted(fuse)}, got {head_fusion!r}")
    eye = torch.eye(t, dtype=torch.float32, device=weights.device)
    out = eye.expand(weights.shape[1], t, t)
    for layer in weights.float():  # (B, H, T, T)
        a = (1.0 - residual) * fuse[head_fusion](layer) + residual * eye  # (B, H, T, T) -> (B, T, T)
        a = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
        out = a @ out
    return out[0] if squeeze else out
