"""Capture the exact attention weights of chosen layers while the model runs a fused backend.

Fused kernels never form the (T, S) probability matrix, and frameworks that want it usually switch
the whole model to the slow path. Here the model keeps its backend; every attention layer that is
selected recomputes *only* its weights with the reference formula from the same q, k, mask and
scale it has just used, so the captured weights are exactly those of the reference backend.

Usage::

    with capture_attention(model, layers=[0, 3], heads=[1]) as cap:
        model(ids)
    cap.stack("layers")   # (L, B, H, T, S) for the selected layers whose name starts "layers"
    cap.stack("decoder", "cross_attn")  # an encoder-decoder's cross-attention maps
    cap.records           # {"layers.0.self_attn": [ (B, H, T, S), ... ], ...}

Layers are any ``nn.Module`` with ``is_attention_layer = True`` (attnkit's MultiHeadAttention).
A layer called several times (cached decoding) appends one record per call.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from attnkit.attention.reference import attention_weights

_ACTIVE: ContextVar[AttentionCapture | None] = ContextVar("attnkit_attention_capture", default=None)


@dataclass
class AttentionCapture:
    """Weights recorded during a :func:`capture_attention` block, keyed by module name."""

    names: dict[int, str]
    """id(module) -> qualified name, for the selected layers only."""
    heads: list[int] | None = None
    records: dict[str, list[Tensor]] = field(default_factory=dict)

    def record(
        self,
        module: nn.Module,
        q: Tensor,
        k: Tensor,
        mask: Tensor | None,
        is_causal: bool,
        scale: float | None,
        weights_fn=None,
    ) -> None:
        """Store this layer's weights; ``weights_fn`` replaces softmax for non-softmax backends."""
        name = self.names.get(id(module))
        if name is None:
            return
        with torch.no_grad():
            w = (weights_fn or attention_weights)(q, k, mask=mask, is_causal=is_causal, scale=scale)
        if self.heads is not None:
            w = w[:, self.heads]  # (B, H, T, S) -> (B, len(heads), T, S)
        self.records.setdefault(name, []).append(w.detach())

    def stack(self, prefix: str = "", suffix: str = "") -> Tensor:
        """Stack the last record of every captured layer named ``prefix...suffix``.

        ``suffix`` tells self- from cross-attention in a decoder: ``"self_attn"`` or
        ``"cross_attn"``.

        Returns:
            ``(L, B, H, T, S)`` in module order.

        Raises:
            ValueError: when nothing matched or the layers' shapes differ.
        """
        names = [n for n in self.records if n.startswith(prefix) and n.endswith(suffix)]
        if not names:
            raise ValueError(
                f"no captured layer matches {prefix!r}...{suffix!r}; captured: {list(self.records)}"
            )
        ws = [self.records[n][-1] for n in names]
        shapes = {tuple(w.shape) for w in ws}
        if len(shapes) != 1:
            raise ValueError(
                f"captured layers {prefix!r}...{suffix!r} have different shapes: {shapes}; "
                "select self- or cross-attention with suffix="
            )
        return torch.stack(ws)  # L x (B, H, T, S) -> (L, B, H, T, S)


def current_capture() -> AttentionCapture | None:
    """The active capture, or None: attention layers call this once per forward. Never one while
    ``torch.compile`` traces: dynamo cannot read a ContextVar, and would split the model into one
    graph per layer to ask."""
    if torch.compiler.is_compiling():
        return None
    return _ACTIVE.get()


_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def _select(model: nn.Module, layers: Sequence[int | str] | None) -> dict[int, str]:
    chosen: dict[int, str] = {}
    for name, m in model.named_modules():
        if not getattr(m, "is_attention_layer", False):
            continue
        if layers is not None:
            idx = _LAYER_INDEX.search(name)
            by_index = idx is not None and int(idx.group(1)) in [i for i in layers if isinstance(i, int)]
            by_name = any(isinstance(s, str) and name.startswith(s) for s in layers)
            if not (by_index or by_name):
                continue
        chosen[id(m)] = name
    return chosen


@contextlib.contextmanager
def capture_attention(
    model: nn.Module,
    layers: Sequence[int | str] | None = None,
    heads: Sequence[int] | None = None,
) -> Iterator[AttentionCapture]:
    """Record reference attention weights for the chosen layers and heads.

    Args:
        model: any module containing attnkit attention layers.
        layers: block indices (``layers.<i>.``, in every stack) and/or module-name prefixes;
            None captures all attention layers.
        heads: head indices to keep; None keeps all.

    Raises:
        ValueError: when the selection matches no attention layer.
    """
    names = _select(model, layers)
    if not names:
        raise ValueError(f"layers={layers!r} selects no attention layer of {type(model).__name__}")
    cap = AttentionCapture(names=names, heads=list(heads) if heads is not None else None)
    token = _ACTIVE.set(cap)
    try:
        yield cap
    finally:
        _ACTIVE.reset(token)
