"""Memory-bounded exact attention in pure PyTorch: ``tiled`` and ``local:<W>``.

``tiled`` is FlashAttention's algorithm (Dao et al. 2022) written with tensor ops instead of a
fused kernel: queries are processed in blocks of ``BLOCK_Q`` and, for each, keys in blocks of
``BLOCK_K`` with an *online softmax* (Milakov & Gimelshein 2018). Per query row it keeps the
running maximum ``m``, the running normaliser ``l = sum exp(s - m)`` and the running weighted sum
``acc = sum exp(s - m) v``; a new key block with a larger maximum rescales both by
``exp(m_old - m_new)``. The result, ``acc / l``, is exactly softmax(QK^T * scale)V, but no
``(T, S)`` score matrix ever exists: peak extra memory is ``O(BLOCK_Q * BLOCK_K)`` per head
instead of ``O(T * S)``. Causal blocks entirely above the diagonal are skipped, which halves the
work for decoders.

``local:<W>`` is the same loop restricted to a band: each query sees the keys within ``W``
positions (causal: itself and the ``W - 1`` before it; otherwise ``W`` on each side, as
:func:`attnkit.data.masks.sliding_window_mask`). Only key blocks that intersect the band are
visited, so time and memory are ``O(T * W)``. It is exact *for its mask*: it equals the reference
with ``mask & sliding_window_mask(T, S, W)``. It changes what the model computes (tokens further
apart than ``W`` in one layer cannot see each other), so pick it when training, not after.

Both are slower than ``sdpa`` on CPU (which has its own fused flash kernel); they exist to show
and test the algorithm, to give O(T) memory on devices without a fused kernel, and for the
long-range study. Dropout is applied to the normalised probabilities, as in the reference.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from attnkit.attention.reference import repeat_kv
from attnkit.attention.registry import Backend, Capabilities, register_backend, register_family
from attnkit.attention.shapes import check_qkv
from attnkit.data.masks import sliding_window_mask

BLOCK_Q = 128
BLOCK_K = 128


def tiled_attention_core(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None,
    is_causal: bool,
    scale: float | None,
    dropout_p: float,
    window: int | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> Tensor:
    """Online-softmax attention over ``(block_q, block_k)`` tiles; see the module docstring."""
    dims = check_qkv(q, k, v, mask)
    b, h, t, d = q.shape
    s = dims.s
    if window is not None and s < t:
        raise ValueError(f"local attention needs S >= T (self-attention), got T={t}, S={s}")
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    k, v = repeat_kv(k, h // dims.h_kv), repeat_kv(v, h // dims.h_kv)  # (B, Hkv, S, D) -> (B, H, S, D)
    if mask is not None:
        mask = mask.expand(b, h, t, s)  # broadcast once; blocks slice it without copying
    acc_dtype = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    out = torch.empty(b, h, t, d, dtype=q.dtype, device=q.device)
    offset = s - t  # bottom-right alignment: query i sits at absolute position i + offset
    for q0 in range(0, t, block_q):
        q1 = min(q0 + block_q, t)
        qb = q[:, :, q0:q1].to(acc_dtype) * scale  # (B, H, bq, D)
        m = torch.full((b, h, q1 - q0, 1), float("-inf"), dtype=acc_dtype, device=q.device)
        l = torch.zeros((b, h, q1 - q0, 1), dtype=acc_dtype, device=q.device)  # noqa: E741
        acc = torch.zeros((b, h, q1 - q0, d), dtype=acc_dtype, device=q.device)
        qpos = torch.arange(q0 + offset, q1 + offset, device=q.device)[:, None]  # (bq, 1)
        # Key range this query block can see at all: skip the rest without computing it.
        if is_causal:  # the last query of the block sits at q1 - 1 + offset
            hi = min(s, q1 + offset)
        elif window is not None:
            hi = min(s, q1 + offset + window)
        else:
            hi = s
        lo = 0 if window is None else max(0, q0 + offset - (window - 1 if is_causal else window))
        for k0 in range(lo - lo % block_k, hi, block_k):
            k1 = min(k0 + block_k, s)
            scores = qb @ k[:, :, k0:k1].to(acc_dtype).transpose(-2, -1)  # (B, H, bq, D) @ (B, H, D, bk)
            kpos = torch.arange(k0, k1, device=q.device)[None, :]  # (1, bk)
            allowed = torch.ones(q1 - q0, k1 - k0, dtype=torch.bool, device=q.device)
            if is_causal and t > 1:
                allowed &= kpos <= qpos
            if window is not None:
                dist = qpos - kpos
                allowed &= (dist >= 0) & (dist < window) if is_causal else dist.abs() <= window
            allowed = allowed.expand(b, h, -1, -1)
            if mask is not None:
                allowed = allowed & mask[:, :, q0:q1, k0:k1]
            scores = scores.masked_fill(~allowed, float("-inf"))
            m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))
            # Rows that have seen no visible key yet keep m = -inf; use 0 there so exp() is 0, not NaN.
            m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)
            p = torch.exp(scores - m_safe)  # masked entries: exp(-inf) = 0
            correction = torch.exp(torch.where(torch.isinf(m), m, m - m_safe))
            l = l * correction + p.sum(dim=-1, keepdim=True)  # noqa: E741
            if dropout_p > 0.0:
                p = torch.nn.functional.dropout(p, p=dropout_p)
            acc = acc * correction + p @ v[:, :, k0:k1].to(acc_dtype)  # (B, H, bq, bk) @ (B, H, bk, D)
            m = m_new
        # Fully-masked rows have l = 0 and acc = 0: their output is 0, as in the reference.
        out[:, :, q0:q1] = (acc / l.clamp(min=torch.finfo(acc_dtype).tiny)).to(q.dtype)
    return out


def _tiled_backend(window: int | None):
    """The registry-signature function over :func:`tiled_attention_core` (``window`` None = full)."""

    def attend(
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
        out = tiled_attention_core(
            q, k, v, mask=mask, is_causal=is_causal, scale=scale, dropout_p=dropout_p, window=window
        )
        return out, None

    return attend


tiled_attention = register_backend("tiled", Capabilities(weights=False, dropout=True, gqa=True, exact=True))(
    _tiled_backend(None)
)


def _local_family(arg: str) -> Backend:
    try:
        window = int(arg)
    except ValueError:
        window = 0
    if window < 1:
        raise ValueError(f"local attention needs a positive window, as in 'local:64'; got 'local:{arg}'")

    def band(t: int, s: int, is_causal: bool, device) -> Tensor:
        return sliding_window_mask(t, window, s, causal=is_causal, device=device)

    caps = Capabilities(weights=False, exact=True, any_mask=False)  # the band is aligned to the last key
    return Backend(f"local:{window}", _tiled_backend(window), caps, extra_mask=band)


register_family("local", _local_family, "sliding-window attention, e.g. local:64 (window of 64 keys)")
