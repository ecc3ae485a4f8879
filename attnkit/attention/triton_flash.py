"""``triton``: attnkit's own flash-attention kernels, forward and backward, written in Triton.

The algorithm is FlashAttention-2's (Dao 2023), the same as :mod:`attnkit.attention.tiled` but
as GPU kernels: each program owns a block of queries of one (batch, head) and walks
the keys a block at a time with an online softmax, so the ``(T, S)`` score matrix never
exists in memory. It supports what the registry asks of an exact backend:

- bool masks broadcastable to ``(B, H, T, S)`` (True = may attend), read tile by tile through
  their strides (a ``(B, 1, 1, S)`` padding mask costs one row per batch);
- ``is_causal`` aligned bottom-right (query ``i`` sees keys ``j <= i + S - T``), with the key
  blocks entirely above the diagonal skipped, not masked;
- grouped-query attention: query head ``h`` reads key/value head ``h // (H / Hkv)``;
- rows that may attend to nothing give exactly 0 and zero gradients.

The backward pass recomputes the probabilities from the saved log-sum-exp (one float per query)
instead of storing them: one kernel accumulates dK and dV per key block (over every query head of
its group), another dQ per query block.

It runs on CUDA tensors, and on CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1``,
set before Triton is imported), which is how CI checks it against the float64 reference; the
interpreter is far too slow for real work. Dropout is not implemented (train with
``attn_dropout: 0`` on this backend).
"""

from __future__ import annotations

import functools
import math
import os

import torch
from torch import Tensor

from attnkit.attention.registry import Capabilities, register_backend
from attnkit.attention.shapes import check_qkv

BLOCK_CPU = 16
"""Query and key block size under the interpreter (tl.dot's minimum; small tiles run fastest there)."""
BLOCK_CUDA = 64
"""On a GPU: 64 x 64 tiles keep the tensor cores busy at head dims 64 and 128 (untuned)."""


def _block(q: Tensor) -> int:
    return BLOCK_CUDA if q.is_cuda else BLOCK_CPU


@functools.cache
def _kernels():
    """Compile-on-first-use: import Triton and define the kernels (``TRITON_INTERPRET`` is read at
    definition time, so the environment decides here, not at attnkit's import)."""
    try:
        import triton
        import triton.language as tl
    except ImportError as exc:
        raise ValueError("the triton attention backend needs Triton: pip install triton") from exc

    _define_tile_probs(triton, tl)
    return triton, _forward_kernel(triton, tl), _dkdv_kernel(triton, tl), _dq_kernel(triton, tl)


def _forward_kernel(triton, tl):
    """The forward kernel: one program per (query block, batch x head)."""

    @triton.jit
    def fwd(Q, K, V, M, Out, LSE, sq, sk, sv, sm, so, H, G, T, S, D, scale,
            HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr, BT: tl.constexpr, BS: tl.constexpr,
            BD: tl.constexpr, F32: tl.constexpr):  # fmt: skip
        # This program: queries [t0, t0 + BT) of batch b, head h (key/value head h // G).
        t0 = tl.program_id(0) * BT
        b = tl.program_id(1) // H
        h = tl.program_id(1) % H
        hk = h // G
        rt = t0 + tl.arange(0, BT)
        rd = tl.arange(0, BD)
        q = tl.load(Q + b * sq[0] + h * sq[1] + rt[:, None] * sq[2] + rd[None, :],
                    mask=(rt[:, None] < T) & (rd[None, :] < D), other=0.0)  # fmt: skip
        if F32:  # under the interpreter (see _interpreting)
            q = q.to(tl.float32)
        # Running max, normaliser and weighted sum of the online softmax, per query row.
        m_i = tl.full([BT], float("-inf"), tl.float32)
        l_i = tl.zeros([BT], tl.float32)
        acc = tl.zeros([BT, BD], tl.float32)
        hi = S
        if CAUSAL:  # keys past the last query's diagonal are never visited
            hi = tl.minimum(S, t0 + BT + S - T)
        for s0 in range(0, hi, BS):
            rs = s0 + tl.arange(0, BS)
            k = tl.load(K + b * sk[0] + hk * sk[1] + rs[:, None] * sk[2] + rd[None, :],
                        mask=(rs[:, None] < S) & (rd[None, :] < D), other=0.0)  # fmt: skip
            if F32:  # under the interpreter (see _interpreting)
                k = k.to(tl.float32)
            v = tl.load(V + b * sv[0] + hk * sv[1] + rs[:, None] * sv[2] + rd[None, :],
                        mask=(rs[:, None] < S) & (rd[None, :] < D), other=0.0)  # fmt: skip
            if F32:  # under the interpreter (see _interpreting)
                v = v.to(tl.float32)
            s = tl.dot(q, tl.trans(k)).to(tl.float32) * scale  # (BT, BS) scores
            ok = (rt[:, None] < T) & (rs[None, :] < S)
            if CAUSAL:
                ok = ok & (rs[None, :] <= rt[:, None] + S - T)
            if HAS_MASK:
                mk = tl.load(M + b * sm[0] + h * sm[1] + rt[:, None] * sm[2] + rs[None, :] * sm[3],
                             mask=ok, other=0)  # fmt: skip
                ok = ok & (mk != 0)
            s = tl.where(ok, s, float("-inf"))
            # New running max; rows that have seen no key yet keep -inf, so shift them by 0.
            m_new = tl.maximum(m_i, tl.max(s, 1))
            shift = tl.where(m_new == float("-inf"), 0.0, m_new)
            p = tl.exp(s - shift[:, None])
            alpha = tl.exp(m_i - shift)  # rescales what was accumulated under the old max
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v).to(tl.float32)
            m_i = m_new
        # A row that may attend to nothing: output 0, and lse = +inf so the backward's p is 0.
        seen = l_i > 0
        out = tl.where(seen[:, None], acc / tl.where(seen, l_i, 1.0)[:, None], 0.0)
        lse = tl.where(seen, m_i + tl.log(tl.where(seen, l_i, 1.0)), float("inf"))
        o_at = b * so[0] + h * so[1] + rt[:, None] * so[2] + rd[None, :]
        tl.store(Out + o_at, out.to(Out.dtype.element_ty), mask=(rt[:, None] < T) & (rd[None, :] < D))
        tl.store(LSE + (b * H + h) * T + rt, lse, mask=rt < T)

    return fwd


_tile_probs = None
"""The tile-probability helper both backward kernels call, a @triton.jit function defined by
:func:`_define_tile_probs`. Kernels resolve the functions they call among their module's globals,
so it lives here rather than in a closure."""


def _define_tile_probs(triton, tl) -> None:
    global _tile_probs

    @triton.jit
    def tile_probs(q, k, rt, rs, lse, M, b, h, sm, T, S, scale,
                    HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr):  # fmt: skip
        """The (BT, BS) probabilities of one tile, recomputed from the saved log-sum-exp."""
        s = tl.dot(q, tl.trans(k)).to(tl.float32) * scale
        ok = (rt[:, None] < T) & (rs[None, :] < S)
        if CAUSAL:
            ok = ok & (rs[None, :] <= rt[:, None] + S - T)
        if HAS_MASK:
            at = M + b * sm[0] + h * sm[1] + rt[:, None] * sm[2] + rs[None, :] * sm[3]
            ok = ok & (tl.load(at, mask=ok, other=0) != 0)
        return tl.where(ok, tl.exp(s - lse[:, None]), 0.0)

    _tile_probs = tile_probs


def _dkdv_kernel(triton, tl):
    """Backward, first kernel: dK and dV per key block, over every query head of its group."""

    @triton.jit
    def bwd_kv(Q, K, V, M, DO, LSE, DELTA, DK, DV, sq, sk, sv, sm, so, H, G, T, S, D, scale,
               HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr, BT: tl.constexpr, BS: tl.constexpr,
               BD: tl.constexpr, F32: tl.constexpr):  # fmt: skip
        # This program: keys [s0, s0 + BS) of batch b, key/value head hk, summed over its G heads.
        s0 = tl.program_id(0) * BS
        hkv = H // G
        b = tl.program_id(1) // hkv
        hk = tl.program_id(1) % hkv
        rs = s0 + tl.arange(0, BS)
        rd = tl.arange(0, BD)
        kv_ok = (rs[:, None] < S) & (rd[None, :] < D)
        k = tl.load(K + b * sk[0] + hk * sk[1] + rs[:, None] * sk[2] + rd[None, :], mask=kv_ok, other=0.0)
        if F32:  # under the interpreter (see _interpreting)
            k = k.to(tl.float32)
        v = tl.load(V + b * sv[0] + hk * sv[1] + rs[:, None] * sv[2] + rd[None, :], mask=kv_ok, other=0.0)
        if F32:  # under the interpreter (see _interpreting)
            v = v.to(tl.float32)
        dk = tl.zeros([BS, BD], tl.float32)
        dv = tl.zeros([BS, BD], tl.float32)
        lo = 0
        if CAUSAL:  # queries before this block's diagonal cannot see it
            lo = tl.maximum(0, s0 - (S - T)) // BT * BT
        for g in range(0, G):
            h = hk * G + g
            for t0 in range(lo, T, BT):
                rt = t0 + tl.arange(0, BT)
                q_ok = (rt[:, None] < T) & (rd[None, :] < D)
                q_at = b * sq[0] + h * sq[1] + rt[:, None] * sq[2] + rd[None, :]
                do_at = b * so[0] + h * so[1] + rt[:, None] * so[2] + rd[None, :]
                q = tl.load(Q + q_at, mask=q_ok, other=0.0)
                if F32:  # under the interpreter (see _interpreting)
                    q = q.to(tl.float32)
                do = tl.load(DO + do_at, mask=q_ok, other=0.0)
                if F32:  # under the interpreter (see _interpreting)
                    do = do.to(tl.float32)
                lse = tl.load(LSE + (b * H + h) * T + rt, mask=rt < T, other=float("inf"))
                delta = tl.load(DELTA + (b * H + h) * T + rt, mask=rt < T, other=0.0)
                p = _tile_probs(q, k, rt, rs, lse, M, b, h, sm, T, S, scale, HAS_MASK, CAUSAL)
                dv += tl.dot(tl.trans(p.to(do.dtype)), do).to(tl.float32)  # dV = Pᵀ dO
                dp = tl.dot(do, tl.trans(v)).to(tl.float32)  # dP = dO Vᵀ
                ds = p * (dp - delta[:, None])  # softmax backward: dS = P ∘ (dP - rowsum(dO ∘ O))
                dk += tl.dot(tl.trans(ds.to(q.dtype)), q).to(tl.float32) * scale  # dK = dSᵀ Q · scale
        k_at = b * sk[0] + hk * sk[1] + rs[:, None] * sk[2] + rd[None, :]
        v_at = b * sv[0] + hk * sv[1] + rs[:, None] * sv[2] + rd[None, :]
        tl.store(DK + k_at, dk.to(DK.dtype.element_ty), mask=kv_ok)
        tl.store(DV + v_at, dv.to(DV.dtype.element_ty), mask=kv_ok)

    return bwd_kv


def _dq_kernel(triton, tl):
    """Backward, second kernel: dQ per query block."""

    @triton.jit
    def bwd_q(Q, K, V, M, DO, LSE, DELTA, DQ, sq, sk, sv, sm, so, H, G, T, S, D, scale,
              HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr, BT: tl.constexpr, BS: tl.constexpr,
              BD: tl.constexpr, F32: tl.constexpr):  # fmt: skip
        # This program: dQ for queries [t0, t0 + BT) of batch b, head h.
        t0 = tl.program_id(0) * BT
        b = tl.program_id(1) // H
        h = tl.program_id(1) % H
        hk = h // G
        rt = t0 + tl.arange(0, BT)
        rd = tl.arange(0, BD)
        q_ok = (rt[:, None] < T) & (rd[None, :] < D)
        q = tl.load(Q + b * sq[0] + h * sq[1] + rt[:, None] * sq[2] + rd[None, :], mask=q_ok, other=0.0)
        if F32:  # under the interpreter (see _interpreting)
            q = q.to(tl.float32)
        do = tl.load(DO + b * so[0] + h * so[1] + rt[:, None] * so[2] + rd[None, :], mask=q_ok, other=0.0)
        if F32:  # under the interpreter (see _interpreting)
            do = do.to(tl.float32)
        lse = tl.load(LSE + (b * H + h) * T + rt, mask=rt < T, other=float("inf"))
        delta = tl.load(DELTA + (b * H + h) * T + rt, mask=rt < T, other=0.0)
        dq = tl.zeros([BT, BD], tl.float32)
        hi = S
        if CAUSAL:
            hi = tl.minimum(S, t0 + BT + S - T)
        for s0 in range(0, hi, BS):
            rs = s0 + tl.arange(0, BS)
            kv_ok = (rs[:, None] < S) & (rd[None, :] < D)
            k = tl.load(K + b * sk[0] + hk * sk[1] + rs[:, None] * sk[2] + rd[None, :], mask=kv_ok, other=0.0)
            if F32:  # under the interpreter (see _interpreting)
                k = k.to(tl.float32)
            v = tl.load(V + b * sv[0] + hk * sv[1] + rs[:, None] * sv[2] + rd[None, :], mask=kv_ok, other=0.0)
            if F32:  # under the interpreter (see _interpreting)
                v = v.to(tl.float32)
            p = _tile_probs(q, k, rt, rs, lse, M, b, h, sm, T, S, scale, HAS_MASK, CAUSAL)
            dp = tl.dot(do, tl.trans(v)).to(tl.float32)
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k).to(tl.float32) * scale  # dQ = dS K · scale
        q_at = b * sq[0] + h * sq[1] + rt[:, None] * sq[2] + rd[None, :]
        tl.store(DQ + q_at, dq.to(DQ.dtype.element_ty), mask=q_ok)

    return bwd_q


def _interpreting() -> bool:
    """Under Triton's CPU interpreter, tiles are upcast to fp32 before ``tl.dot``: its bf16 dot
    returns garbage (Triton 3.9). On a GPU the dots run in the input dtype, accumulating in fp32."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def _check_device(q: Tensor) -> None:
    if q.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(
            "the triton attention backend runs on CUDA tensors, or on the CPU under Triton's "
            "interpreter (TRITON_INTERPRET=1, for tests); use attn_backend=sdpa on this device"
        )


def _mask_view(mask: Tensor | None, b: int, h: int, t: int, s: int) -> tuple[Tensor, tuple[int, ...]]:
    """The mask as int8 broadcast to (B, H, T, S) without copying, and its four strides."""
    if mask is None:
        return torch.zeros(1, dtype=torch.int8), (0, 0, 0, 0)
    m = mask.to(torch.int8).expand(b, h, t, s)  # broadcast dims get stride 0
    return m, tuple(m.stride())


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale):
        triton, fwd, _, _ = _kernels()
        b, h, t, d = q.shape
        s, g = k.shape[2], h // k.shape[1]
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()  # last dim stride 1
        m, sm = _mask_view(mask, b, h, t, s)
        o = torch.empty_like(q)
        lse = torch.empty(b, h, t, dtype=torch.float32, device=q.device)
        bd = max(16, triton.next_power_of_2(d))
        blk = _block(q)
        grid = (triton.cdiv(t, blk), b * h)
        fwd[grid](q, k, v, m, o, lse, q.stride(), k.stride(), v.stride(), sm, o.stride(), h, g, t, s, d,
                  scale, HAS_MASK=mask is not None, CAUSAL=causal, BT=blk, BS=blk, BD=bd,
                  F32=_interpreting())  # fmt: skip
        ctx.save_for_backward(q, k, v, o, lse, m)
        ctx.meta = (causal, scale, mask is not None, sm, bd)
        return o

    @staticmethod
    def backward(ctx, do):
        triton, _, bwd_kv, bwd_q = _kernels()
        q, k, v, o, lse, m = ctx.saved_tensors
        causal, scale, has_mask, sm, bd = ctx.meta
        b, h, t, d = q.shape
        s, g = k.shape[2], h // k.shape[1]
        do = do.contiguous()
        delta = (do.float() * o.float()).sum(-1)  # (B, H, T): rowsum(dO ∘ O)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        blk = _block(q)
        common = dict(HAS_MASK=has_mask, CAUSAL=causal, BT=blk, BS=blk, BD=bd, F32=_interpreting())
        strides = (q.stride(), k.stride(), v.stride(), sm, do.stride())
        bwd_kv[(triton.cdiv(s, blk), b * k.shape[1])](
            q, k, v, m, do, lse, delta, dk, dv, *strides, h, g, t, s, d, scale, **common
        )
        bwd_q[(triton.cdiv(t, blk), b * h)](
            q, k, v, m, do, lse, delta, dq, *strides, h, g, t, s, d, scale, **common
        )
        return dq, dk, dv, None, None, None


def triton_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, None]:
    """Flash attention in Triton. Returns ``(out (B, H, T, D), None)``."""
    check_qkv(q, k, v, mask)
    _check_device(q)
    if dropout_p > 0.0:
        raise ValueError("the triton attention backend has no dropout; set model.attn_dropout=0")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    mask = None if mask is None else mask.to(q.device)
    return _FlashAttention.apply(q, k, v, mask, bool(is_causal), float(scale)), None


# float64 is not a Triton dot type: the registry serves it with the reference backend.
TRITON_CAPS = Capabilities(weights=False, dropout=False, gqa=True, exact=True,
                           dtypes=(torch.float32, torch.bfloat16, torch.float16))  # fmt: skip
register_backend("triton", TRITON_CAPS)(triton_attention)
