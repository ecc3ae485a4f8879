"""Multi-head attention (Vaswani et al. 2017, section 3.2.2), for self- and cross-attention.

Notation: B batch, T query length, S key length, C model dim, H query heads, Hkv key/value heads,
D = C / H head dim.

This module owns the *projections* (q/k/v/out), RoPE and the cache; the math itself lives in a
backend from :mod:`attnkit.attention.registry`, chosen by name. Keeping the two apart means the
forward below has no branches on device or kernel: it projects, splits heads, calls the backend
and merges heads.

- ``n_kv_heads < n_heads`` gives grouped-query attention (Ainslie et al. 2023); ``n_kv_heads=1``
  is multi-query attention (Shazeer 2019). K/V projections shrink accordingly.
- Self-attention (``context=None``) takes an optional :class:`LayerKVCache` and appends to it.
- Cross-attention (``context`` given) takes an optional :class:`StaticKV` and projects the context
  only on the first call.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from attnkit.attention.capture import current_capture
from attnkit.attention.kv_cache import LayerKVCache, StaticKV
from attnkit.attention.positional import RotaryEmbedding
from attnkit.attention.registry import get_backend


class MultiHeadAttention(nn.Module):
    """Multi-head attention with GQA/MQA, optional biases, RoPE and a KV cache.

    Args:
        d_model: model dim ``C``.
        n_heads: query heads ``H``; must divide ``d_model``.
        n_kv_heads: key/value heads ``Hkv``; must divide ``n_heads``. None = ``n_heads``.
        bias: biases on the four projections.
        dropout: dropout on the attention probabilities (training only).
        backend: registered attention backend name.
        rope: a shared :class:`RotaryEmbedding`, applied to q and k of self-attention.
        kv_dim: feature size of the cross-attention context; None = ``d_model``.

    Raises:
        ValueError: if ``d_model % n_heads`` or ``n_heads % n_kv_heads`` is not 0, or the backend
            is unknown.
    """

    is_attention_layer = True  # found by attnkit.attention.capture

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        backend: str = "sdpa",
        rope: RotaryEmbedding | None = None,
        kv_dim: int | None = None,
    ) -> None:
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads <= 0 or d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        if n_kv_heads <= 0 or n_heads % n_kv_heads:
            raise ValueError(f"n_heads={n_heads} is not divisible by n_kv_heads={n_kv_heads}")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_dim = d_model // n_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.dropout = dropout
        self.backend = get_backend(backend)
        self.rope = rope
        kv_dim = d_model if kv_dim is None else kv_dim
        self.q_proj = nn.Linear(d_model, n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(kv_dim, n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(kv_dim, n_kv_heads * self.head_dim, bias=bias)
        self.out_proj = nn.Linear(n_heads * self.head_dim, d_model, bias=bias)

    def set_backend(self, name: str) -> None:
        """Switch to another registered backend (weights are unaffected)."""
        self.backend = get_backend(name)

    def _split(self, x: Tensor, n: int) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, n, self.head_dim).transpose(1, 2)  # (B, T, n*D) -> (B, n, T, D)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        is_causal: bool = False,
        positions: Tensor | None = None,
        cache: LayerKVCache | StaticKV | None = None,
    ) -> Tensor:
        """Attend from ``x`` ``(B, T, C)`` to itself, or to ``context`` ``(B, S, C_kv)``.

        Args:
            mask: bool, True = may attend, broadcastable to ``(B, H, T, S)`` where S counts every
                key (cached ones included).
            is_causal: add a bottom-right-aligned causal constraint.
            positions: ``(T,)`` or ``(B, T)`` absolute positions, required when RoPE is used.
            cache: :class:`LayerKVCache` (self-attention) or :class:`StaticKV` (cross-attention).

        Returns:
            ``(B, T, C)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        b, t, _ = x.shape
        q = self._split(self.q_proj(x), self.n_heads)  # (B, T, C) -> (B, H, T, D)
        if isinstance(cache, StaticKV) and cache.filled:
            k, v = cache.k, cache.v  # computed from the same context on the first step
        elif context is None:
            k = self._split(self.k_proj(x), self.n_kv_heads)  # (B, T, C) -> (B, Hkv, T, D)
            v = self._split(self.v_proj(x), self.n_kv_heads)
            if self.rope is not None:
                if positions is None:
                    raise ValueError("RoPE attention needs positions (T,) or (B, T)")
                q, k = self.rope(q, positions), self.rope(k, positions)
            if cache is not None:
                k, v = cache.update(k, v)  # (B, Hkv, T, D) -> (B, Hkv, S, D) with S = cached + T
        else:
            if context.dim() != 3 or context.shape[0] != b:
                raise ValueError(
                    f"context must be (B={b}, S, C_kv), got {tuple(context.shape)} for x{tuple(x.shape)}"
                )
            k = self._split(self.k_proj(context), self.n_kv_heads)  # (B, S, C_kv) -> (B, Hkv, S, D)
            v = self._split(self.v_proj(context), self.n_kv_heads)
            if isinstance(cache, StaticKV):
                cache.set(k, v)
        out, _ = self.backend(
            q,
            k,
            v,
            mask=mask,
            is_causal=is_causal,
            scale=self.scale,
            dropout_p=self.dropout if self.training else 0.0,
        )
        cap = current_capture()
        if cap is not None:
            eff = self.backend.effective_mask(mask, is_causal, q.shape[2], k.shape[2], q.device)
            cap.record(self, q, k, eff, is_causal, self.scale, weights_fn=self.backend.weights_fn)
        out = out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)  # (B, H, T, D) -> (B, T, C)
        return self.out_proj(out)
