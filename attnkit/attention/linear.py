"""Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): the ``linear`` backend.

Softmax attention weighs key ``j`` for query ``i`` by ``exp(q_i . k_j)``. Replacing that kernel by
a product of feature maps, ``phi(q_i) . phi(k_j)`` with ``phi(x) = elu(x) + 1 > 0``, lets the
sums be regrouped::

    out_i = sum_j (phi(q_i) . phi(k_j)) v_j / sum_j phi(q_i) . phi(k_j)
          = phi(q_i) (sum_j phi(k_j)^T v_j) / phi(q_i) . (sum_j phi(k_j))

so the ``(T, S)`` matrix is never formed: cost is O(T * D^2) instead of O(T * S * D). Causal
attention needs prefix sums over keys; they are taken over chunks of ``CHUNK`` positions: inside
a chunk the small quadratic form with a causal mask, across chunks each chunk's ``(D, D)`` state,
summed over the chunks before it by a prefix sum: ``BLOCK`` chunks at a time on a CPU (memory
O(T * D + BLOCK * (D^2 + CHUNK^2)) outside autograd), all at once on a GPU.

It is **not exact**: it is a different attention function, not an approximation that converges
to softmax. Its weights are still a distribution over keys (non-negative, summing to 1), and
``capture_attention`` records exactly those. The difference from softmax attention on the same
q, k, v is measured in ``benchmarks/attention.py`` and ``tests/attention/test_efficient.py``.

Masks: only key-padding masks (broadcastable to ``(B, 1, 1, S)``) are supported, applied by
zeroing the masked keys' features; any other mask is an error (use ``tiled`` or ``local:<W>``).
``scale`` is ignored (the feature map has no temperature); dropout is not supported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from attnkit.attention.reference import repeat_kv
from attnkit.attention.registry import BACKENDS, Backend, Capabilities
from attnkit.attention.shapes import check_qkv

CHUNK = 128
BLOCK = 16  # chunks computed at once on a CPU: 2,048 positions, whose (C, C) blocks stay in cache
_EPS = 1e-6


def feature_map(x: Tensor) -> Tensor:
    """``elu(x) + 1``: positive, so every weight is positive and rows normalise."""
    return F.elu(x) + 1.0


def _key_mask(mask: Tensor | None, b: int, s: int) -> Tensor | None:
    """The ``(B, 1, S, 1)`` key mask a padding mask stands for; other masks are errors."""
    if mask is None:
        return None
    while mask.dim() < 4:
        mask = mask.unsqueeze(0)
    if mask.shape[1] != 1 or mask.shape[2] != 1:
        raise ValueError(
            f"linear attention supports only key-padding masks broadcastable to (B, 1, 1, S); got "
            f"{tuple(mask.shape)}. Use the 'tiled' or 'local:<W>' backend for general masks"
        )
    return mask.expand(b, 1, 1, s).transpose(-2, -1)  # (B, 1, 1, S) -> (B, 1, S, 1)


def linear_weights(q: Tensor, k: Tensor, *, mask=None, is_causal=False, scale=None) -> Tensor:
    """The ``(B, H, T, S)`` weights linear attention uses (for capture and tests; O(T*S))."""
    b, h, t, _ = q.shape
    s = k.shape[2]
    fk = feature_map(repeat_kv(k, h // k.shape[1]))
    km = _key_mask(mask, b, s)
    if km is not None:
        fk = fk * km
    w = feature_map(q) @ fk.transpose(-2, -1)  # (B, H, T, D) @ (B, H, D, S) -> (B, H, T, S)
    if is_causal and t > 1:
        w = w * torch.ones(t, s, dtype=torch.bool, device=q.device).tril(diagonal=s - t)
    return w / (w.sum(-1, keepdim=True) + _EPS)


def _causal_chunks(fq: Tensor, fk: Tensor, vv: Tensor, off: int) -> Tensor:
    """Causal linear attention for ``T`` queries over ``S = off + T`` keys, in chunks.

    Within a chunk: the small ``(C, C)`` quadratic form with a causal mask. Across chunks: each
    chunk's ``phi(K)^T V`` state, summed over the chunks before it by an exclusive prefix sum.
    On a CPU, ``BLOCK`` chunks are computed at once and a running state carries over between
    blocks; on a GPU, all chunks at once. One chunk at a time is a few kernel launches per 128
    positions (on an H200: 81 ms at T=32k, against 1.95 ms all at once, and 9.1 ms in blocks of
    16), and its autograd graph made the backward pass 11x slower on a CPU. All chunks at once on a
    CPU streams every ``(C, C)`` block through memory instead of cache (2x slower forward at 8k).
    Keys before the first query (a cached prefix, ``off`` of them) are visible to every query.
    """
    b, h, t, d = fq.shape
    state = fk[:, :, :off].transpose(-2, -1) @ vv[:, :, :off]  # (B, H, D, D)
    z = fk[:, :, :off].sum(dim=2)  # (B, H, D)
    n = -(-t // CHUNK)
    pad = n * CHUNK - t  # zero features add nothing to any state; padded queries are dropped

    def chunks(x: Tensor) -> Tensor:
        return F.pad(x, (0, 0, 0, pad)).view(b, h, n, CHUNK, d)  # (B, H, T, D) -> (B, H, N, C, D)

    qs, ks, vs = chunks(fq), chunks(fk[:, :, off:]), chunks(vv[:, :, off:])
    causal = torch.ones(CHUNK, CHUNK, dtype=torch.bool, device=fq.device).tril()
    g = n if fq.is_cuda else BLOCK
    outs = []
    for c0 in range(0, n, g):
        qc, kc, vc = qs[:, :, c0 : c0 + g], ks[:, :, c0 : c0 + g], vs[:, :, c0 : c0 + g]
        kv = kc.transpose(-2, -1) @ vc  # (B, H, G, D, C) @ (B, H, G, C, D) -> (B, H, G, D, D)
        zc = kc.sum(dim=3)  # (B, H, G, D)
        # Exclusive prefix sums: what the keys before each chunk hold (shifted, not cumsum - kv,
        # which would cancel digits once the sums grow).
        kv_sum, z_sum = kv.cumsum(dim=2), zc.cumsum(dim=2)
        before = state[:, :, None] + F.pad(kv_sum, (0, 0, 0, 0, 1, 0))[:, :, :-1]  # (B, H, G, D, D)
        z_before = z[:, :, None] + F.pad(z_sum, (0, 0, 1, 0))[:, :, :-1]  # (B, H, G, D)
        local = (qc @ kc.transpose(-2, -1)) * causal  # (B, H, G, C, C)
        num = qc @ before + local @ vc  # (B, H, G, C, D)
        den = (qc * z_before[:, :, :, None]).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
        outs.append(num / (den + _EPS))
        state, z = state + kv_sum[:, :, -1], z + z_sum[:, :, -1]
    out = torch.cat(outs, dim=2)  # (B, H, N, C, D)
    return out.reshape(b, h, n * CHUNK, d)[:, :, :t]  # (B, H, N, C, D) -> (B, H, T, D)


def linear_attention(
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
    """Kernelised attention in O(T * D^2). Returns ``(out (B, H, T, D), weights | None)``."""
    dims = check_qkv(q, k, v, mask)
    if dropout_p > 0.0:
        raise ValueError("the linear attention backend has no attention dropout; set attn_dropout=0")
    b, h, t, s = dims.b, dims.h, dims.t, dims.s
    acc = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    fq = feature_map(q.to(acc))
    fk = feature_map(repeat_kv(k, h // dims.h_kv).to(acc))  # (B, H, S, D)
    vv = repeat_kv(v, h // dims.h_kv).to(acc)
    km = _key_mask(mask, b, s)
    if km is not None:
        fk = fk * km
    if not is_causal or t == 1:
        kv = fk.transpose(-2, -1) @ vv  # (B, H, D, S) @ (B, H, S, D) -> (B, H, D, D)
        z = fk.sum(dim=2, keepdim=True)  # (B, H, 1, D)
        num = fq @ kv  # (B, H, T, D)
        den = (fq * z).sum(-1, keepdim=True)
        out = num / (den + _EPS)
    else:
        out = _causal_chunks(fq, fk, vv, s - t)
    weights = linear_weights(q, k, mask=mask, is_causal=is_causal) if need_weights else None
    return out.to(q.dtype), weights


BACKENDS["linear"] = Backend(
    "linear",
    linear_attention,
    Capabilities(weights=True, dropout=False, gqa=True, exact=False, any_mask=False),  # key padding only
    weights_fn=linear_weights,
)
