"""Shape checks shared by every attention backend.

Notation: B batch, H query heads, Hkv key/value heads, T query length, S key length, D head dim.
Queries are ``(B, H, T, D)``, keys and values ``(B, Hkv, S, D)`` with ``H % Hkv == 0`` (GQA/MQA),
and a mask must broadcast to ``(B, H, T, S)``. Errors name the shapes so a caller can see which
argument is off without a debugger.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class AttnDims(NamedTuple):
    b: int
    h: int
    h_kv: int
    t: int
    s: int
    d: int


def check_qkv(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> AttnDims:
    """Validate q/k/v (and an optional bool mask) and return their dimensions.

    Raises:
        ValueError: naming the offending shapes, dtypes or head counts.
    """
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "attention expects 4-D q (B, H, T, D), k and v (B, Hkv, S, D); got "
            f"q{tuple(q.shape)}, k{tuple(k.shape)}, v{tuple(v.shape)}"
        )
    b, h, t, d = q.shape
    if k.shape != v.shape:
        raise ValueError(f"k and v must have the same shape, got k{tuple(k.shape)} v{tuple(v.shape)}")
    bk, h_kv, s, dk = k.shape
    if bk != b:
        raise ValueError(f"batch mismatch: q{tuple(q.shape)} has B={b} but k{tuple(k.shape)} has B={bk}")
    if dk != d:
        raise ValueError(f"head dim mismatch: q{tuple(q.shape)} has D={d} but k{tuple(k.shape)} has D={dk}")
    if h_kv == 0 or h % h_kv != 0:
        raise ValueError(
            f"query heads H={h} must be a multiple of key/value heads Hkv={h_kv} "
            f"(q{tuple(q.shape)}, k{tuple(k.shape)})"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v dtypes differ: {q.dtype}, {k.dtype}, {v.dtype}")
    if mask is not None:
        check_mask(mask, b, h, t, s)
    return AttnDims(b, h, h_kv, t, s, d)


def check_mask(mask: Tensor, b: int, h: int, t: int, s: int) -> None:
    """A mask must be bool (True = may attend) and broadcast to ``(B, H, T, S)``."""
    if mask.dtype != torch.bool:
        raise ValueError(
            f"attention masks are bool with True = may attend, got dtype {mask.dtype}; "
            "build them with attnkit.data.masks"
        )
    target = (b, h, t, s)
    shape = tuple(mask.shape)
    ok = mask.dim() <= 4 and all(
        m in (1, full) for m, full in zip(reversed(shape), reversed(target), strict=False)
    )
    if not ok:
        raise ValueError(f"mask of shape {shape} does not broadcast to (B, H, T, S) = {target}")


def value_range(x: Tensor) -> tuple[int, int] | None:
    """``(min, max)`` of an integer tensor in one device-to-host copy, for input checks; ``None``
    when ``x`` is empty, ``torch.compile`` is tracing or a CUDA graph is being captured (a host
    read would break the graph: graphed paths trust inputs that the eager path has checked)."""
    if x.numel() == 0 or torch.compiler.is_compiling():
        return None
    if x.is_cuda and torch.cuda.is_current_stream_capturing():
        return None
    lo, hi = torch.stack(torch.aminmax(x)).tolist()
    return lo, hi
