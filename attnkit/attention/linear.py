"""Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): the ``linear`` backend.

Softmax attention weighs key ``j`` for query ``i`` by ``exp(q_i . k_j)``. Replacing that kernel by
a product of feature maps, ``phi(q_i) . phi(k_j)`` with ``phi(x) = elu(x) + 1 > 0``, lets the
sums be regrouped::

    out_i = sum_j (phi(q_i) . phi(k_j)) v_j / sum_j phi(q_i) . phi(k_j)
          = phi(q_i) (sum_j phi(k_j)^T v_j) / phi(q_i) . (sum_j phi(k_j))

so the ``(T, S)`` matrix is never formed: cost is O(T * D^2) instead of O(T * S * D). Causal
attention needs prefix sums over keys; they are taken chunk by chunk (``CHUNK`` queries at a
time: inside a chunk the small quadratic form with a causal mask, across chunks a running
``(D, D)`` state), which keeps memory at O(T * D + D^2).

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

CHUNK = 64
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
        # Keys before the first query (cached prefix) are visible to every query.
        off = s - t
        state = fk[:, :, :off].transpose(-2, -1) @ vv[:, :, :off]  # (B, H, D, D)
        z = fk[:, :, :off].sum(dim=2, keepdim=True)  # (B, H, 1, D)
        outs = []
        for c0 in range(0, t, CHUNK):
            c1 = min(c0 + CHUNK, t)
            qc, kc, vc = fq[:, :, c0:c1], fk[:, :, off + c0 : off + c1], vv[:, :, off + c0 : off + c1]
            local = (qc @ kc.transpose(-2, -1)).tril()  # (B, H, c, c): causal inside the chunk
            num = qc @ state + local @ vc
            den = (qc * z).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
            outs.append(num / (den + _EPS))
            state = state + kc.transpose(-2, -1) @ vc
            z = z + kc.sum(dim=2, keepdim=True)
        out = torch.cat(outs, dim=2)
    weights = linear_weights(q, k, mask=mask, is_causal=is_causal) if need_weights else None
    return out.to(q.dtype), weights


BACKENDS["linear"] = Backend(
    "linear",
    linear_attention,
    Capabilities(weights=True, dropout=False, gqa=True, exact=False),
    weights_fn=linear_weights,
)
