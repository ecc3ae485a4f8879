"""The ``sdpa`` backend: ``torch.nn.functional.scaled_dot_product_attention``.

PyTorch picks a fused kernel (flash/memory-efficient/cuDNN on CUDA, a flash-style kernel on CPU),
so memory stays O(T) and no (T, S) score matrix is materialised. This wrapper only adapts
attnkit's conventions to it:

- ``is_causal`` in attnkit is aligned bottom-right (see :mod:`attnkit.data.masks`); SDPA's flag is
  top-left, so the flag is passed through only when ``T == S`` (training, prefill), dropped when
  ``T == 1`` (a cached decode step sees every key), and turned into a mask otherwise.
- Fully-masked query rows: fused kernels differ (some return NaN, also in the backward pass).
  Such rows are unmasked before the call and their output zeroed after, so every device returns 0.
- GQA goes through SDPA's ``enable_gqa`` instead of materialising repeated K/V heads.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from attnkit.attention.registry import Capabilities, register_backend
from attnkit.attention.shapes import check_qkv
from attnkit.data.masks import causal_mask, combine


def sdpa_attention(
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
    """Fused attention. Returns ``(out (B, H, T, D), None)``: fused kernels never form weights."""
    dims = check_qkv(q, k, v, mask)
    gqa = dims.h != dims.h_kv
    flag = False
    if is_causal and dims.t > 1:
        if mask is None and dims.t == dims.s:
            flag = True  # the fast path: no mask tensor at all
        else:
            mask = combine(mask, causal_mask(dims.t, dims.s, device=q.device))
    if mask is None:
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout_p, is_causal=flag, scale=scale, enable_gqa=gqa
        )
        return out, None
    has_any = mask.any(dim=-1, keepdim=True)  # (..., T, 1): rows with at least one visible key
    safe = mask | ~has_any
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=safe, dropout_p=dropout_p, scale=scale, enable_gqa=gqa
    )
    return out.masked_fill(~has_any, 0.0), None


# Registered by a call rather than a decorator, so that mutation testing (docs/testing.md), which
# skips decorated functions, reaches the body.
register_backend("sdpa", Capabilities(weights=False, dropout=True, gqa=True, exact=True))(sdpa_attention)
