"""Key/value caches for incremental decoding.

A decoder that has already processed positions ``0..n-1`` keeps their keys and values so that
step ``n`` costs O(n) instead of recomputing the whole prefix. Two kinds:

- :class:`LayerKVCache` for self-attention: preallocated ``(B, Hkv, max_len, D)`` buffers that
  ``update`` appends to in place (no concatenation, so no reallocation per step).
- :class:`StaticKV` for cross-attention: the encoder output does not change while decoding, so its
  keys and values are computed once, on the first step, and reused.

:class:`KVCache` holds one of each per decoder layer and reorders them all by beam index, which is
what beam search needs after it picks which hypotheses survive. Usage::

    cache = model.new_cache(batch_size=4, max_len=128)
    out = model(prompt_ids, cache=cache)          # prefill
    out = model(next_ids, cache=out.cache)        # one step; positions continue at cache.length
    cache.reorder(beam_idx)                       # (B,) long: which row each new row comes from
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from attnkit.data import masks


class LayerKVCache:
    """Preallocated self-attention cache for one layer: ``(B, Hkv, max_len, D)``."""

    def __init__(
        self,
        batch_size: int,
        n_kv_heads: int,
        max_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        shape = (batch_size, n_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0
        self.slots: Tensor | None = None
        """Slot-addressed mode (see :mod:`attnkit.decode.graphs`): a ``(T,)`` long device tensor
        of the positions the next ``update`` writes. ``update`` then returns the whole buffers,
        ``length`` is not used, and the model masks every key past each query's slot. Shapes
        never change, so one step can be captured as a CUDA graph and replayed."""

    @property
    def max_len(self) -> int:
        return self.k.shape[2]

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``(B, Hkv, T, D)`` keys/values; return views of all cached ``(B, Hkv, S, D)``.

        Raises:
            ValueError: on a shape that does not match the buffers, or when the cache is full.
        """
        b, h, _, d = self.k.shape
        if k.shape != v.shape or k.dim() != 4 or (k.shape[0], k.shape[1], k.shape[3]) != (b, h, d):
            raise ValueError(
                f"KV cache holds (B, Hkv, *, D) = ({b}, {h}, *, {d}); got k{tuple(k.shape)} v{tuple(v.shape)}"
            )
        if self.slots is not None:
            self.k.index_copy_(2, self.slots, k)
            self.v.index_copy_(2, self.slots, v)
            return self.k, self.v
        t = k.shape[2]
        end = self.length + t
        if end > self.max_len:
            raise ValueError(
                f"KV cache is full: {self.length} cached + {t} new > max_len={self.max_len}; "
                "create the cache with a larger max_len"
            )
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def reset(self) -> None:
        """Forget everything; the buffers are kept for reuse."""
        self.length = 0

    def reorder(self, beam_idx: Tensor) -> None:
        """Row ``i`` becomes old row ``beam_idx[i]``; ``beam_idx`` is ``(B,)`` long."""
        n = self.length
        self.k[:, :, :n] = self.k[beam_idx, :, :n]
        self.v[:, :, :n] = self.v[beam_idx, :, :n]


class StaticKV:
    """Cross-attention keys/values, computed from the encoder output once and then reused."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    @property
    def filled(self) -> bool:
        return self.k is not None

    def set(self, k: Tensor, v: Tensor) -> None:
        self.k, self.v = k, v

    def reset(self) -> None:
        self.k = self.v = None

    def reorder(self, beam_idx: Tensor) -> None:
        if self.k is not None and self.v is not None:
            self.k, self.v = self.k[beam_idx], self.v[beam_idx]


@dataclass
class KVCache:
    """Per-layer caches of a decoder stack; ``cross`` is empty for decoder-only models."""

    layers: list[LayerKVCache]
    cross: list[StaticKV] = field(default_factory=list)

    @classmethod
    def allocate(
        cls,
        n_layers: int,
        batch_size: int,
        n_kv_heads: int,
        max_len: int,
        head_dim: int,
        *,
        cross_attention: bool = False,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> KVCache:
        layers = [
            LayerKVCache(batch_size, n_kv_heads, max_len, head_dim, dtype=dtype, device=device)
            for _ in range(n_layers)
        ]
        cross = [StaticKV() for _ in range(n_layers)] if cross_attention else []
        return cls(layers, cross)

    def repeat(self, batch_size: int, max_len: int, rows: Tensor | None = None) -> KVCache:
        """A new ``batch_size``-row cache whose row ``i`` starts as this one's row ``rows[i]``
        (``(batch_size,)`` long; default: every row copies row 0).

        Prompts that share a long prefix (few-shot examples) compute it once and continue
        each row from a copy; beam search prefills each prompt once and gives each of its beams
        a copy. ``max_len`` must leave room for what follows.
        """
        n = self.length
        if self.cross or not self.layers:
            raise ValueError("repeat() is for decoder-only self-attention caches")
        if max_len < n:
            raise ValueError(f"max_len={max_len} is shorter than the {n} cached positions")
        first = self.layers[0]
        out = KVCache.allocate(
            len(self.layers), batch_size, first.k.shape[1], max_len, first.k.shape[3],
            dtype=first.k.dtype, device=first.k.device,
        )  # fmt: skip
        pick = rows if rows is not None else slice(0, 1)  # (1, Hkv, n, D) broadcasts over rows
        for src, dst in zip(self.layers, out.layers, strict=True):
            dst.k[:, :, :n] = src.k[pick, :, :n]
            dst.v[:, :, :n] = src.v[pick, :, :n]
            dst.length = n
        return out

    @property
    def slots(self) -> Tensor | None:
        """The slot-addressed mode's write positions (see :class:`LayerKVCache`), or None."""
        return self.layers[0].slots if self.layers else None

    def set_slots(self, slots: Tensor | None) -> None:
        """Write the next step at ``slots`` ``(T,)`` in every layer (None: append mode)."""
        for c in self.layers:
            c.slots = slots

    @property
    def length(self) -> int:
        """Positions cached so far (the same in every layer)."""
        return self.layers[0].length if self.layers else 0

    @property
    def batch_size(self) -> int:
        return self.layers[0].k.shape[0]

    @property
    def max_len(self) -> int:
        """Positions the buffers hold."""
        return self.layers[0].max_len

    def step_inputs(
        self, ids: Tensor, padding_mask: Tensor | None = None, positions: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None, bool]:
        """``(positions (B|1, T), mask, is_causal)`` for ``ids`` ``(B, T)`` continuing this cache.

        Append mode: positions continue at :attr:`length`; the mask is the padding over every
        key, cached and new (causality is the backend's ``is_causal``). Slot-addressed mode
        (CUDA-graph decoding): positions are the slots, and the keys are the whole buffer, so
        each query may see the keys at or before its slot."""
        if self.batch_size != ids.shape[0]:
            raise ValueError(f"cache batch {self.batch_size} != ids batch {ids.shape[0]} {tuple(ids.shape)}")
        slots = self.slots
        if slots is None:
            return step_inputs(ids, padding_mask, positions, start=self.length)
        if padding_mask is not None or positions is not None or slots.shape != (ids.shape[1],):
            raise ValueError(
                f"a slot-addressed cache takes (B, T) ids with T = {slots.numel()} slots and no "
                "padding_mask or positions"
            )
        keys = torch.arange(self.max_len, device=ids.device)
        return slots, keys <= slots[:, None], False  # mask (T, S), broadcast over batch and heads

    def reset(self) -> None:
        for c in [*self.layers, *self.cross]:
            c.reset()

    def reorder(self, beam_idx: Tensor) -> None:
        """Reorder every layer's cache by ``beam_idx`` ``(B,)`` (beam search)."""
        for c in [*self.layers, *self.cross]:
            c.reorder(beam_idx)


def step_inputs(
    ids: Tensor, padding_mask: Tensor | None = None, positions: Tensor | None = None, *, start: int = 0
) -> tuple[Tensor, Tensor | None, bool]:
    """``(positions, mask, is_causal)`` for ``ids`` ``(B, T)`` after ``start`` cached positions:
    the given positions or ``start + arange(T)``, and ``padding_mask`` ``(B, start + T)`` as a
    ``(B, 1, 1, S)`` key mask."""
    b, t = ids.shape
    if padding_mask is not None and padding_mask.shape != (b, start + t):
        raise ValueError(
            f"padding_mask {tuple(padding_mask.shape)} must be (B, cached + T) = {(b, start + t)}"
        )
    if positions is None:
        positions = torch.arange(start, start + t, device=ids.device)
    mask = masks.expand_padding(padding_mask) if padding_mask is not None else None
    return positions, mask, True
