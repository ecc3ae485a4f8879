"""Attention streams: the captured weights of one kind of attention, with their token labels.

A model has up to three streams: ``encoder`` (encoder self-attention), ``decoder`` (decoder
self-attention) and ``cross`` (decoder queries over encoder keys). Each is stored as
``(L, B, H, T, S)``: selected layers, batch, selected heads, queries, keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from attnkit.attention.capture import capture_attention
from attnkit.models.base import eval_mode
from attnkit.models.decoder import Decoder
from attnkit.models.rnn_seq2seq import AdditiveAttention

STREAM_TITLES = {
    "encoder": "encoder self-attention",
    "decoder": "decoder self-attention",
    "cross": "cross-attention (decoder → encoder)",
    "rollout": "attention rollout",
}
METHOD_TITLES = {
    "grad_input": "gradient × input",
    "ig": "integrated gradients",
    "occlusion": "occlusion (leave one out)",
    "attention": "attention (last layer)",
    "rollout": "attention rollout",
    "value_norm": "value-norm attention ‖αf(x)‖",
    "attention_grad": "attention × gradient",
}
"""Attribution methods (:mod:`attnkit.attribution`) by name, as the viewer's method selector shows them."""

_LAYER = re.compile(r"layers\.(\d+)\.")


@dataclass
class AttentionStream:
    """One stream's weights ``(L, B, H, T, S)`` and what its axes mean."""

    name: str
    weights: Tensor
    layers: list[int]
    heads: list[int]
    queries: list[str] = field(default_factory=list)
    """Label of each query position (T), for batch row 0."""
    keys: list[str] = field(default_factory=list)
    """Label of each key position (S), for batch row 0."""
    method: str = "attention"
    """``attention`` for attention maps; an attribution method's name for its (R, S) table."""

    def __post_init__(self) -> None:
        if self.weights.dim() != 5:
            raise ValueError(
                f"stream {self.name!r}: weights must be (L, B, H, T, S), got {tuple(self.weights.shape)}"
            )
        n_l, _, n_h, _, _ = self.weights.shape
        if (len(self.layers), len(self.heads)) != (n_l, n_h):
            raise ValueError(
                f"stream {self.name!r}: {len(self.layers)} layer and {len(self.heads)} head indices "
                f"for weights of shape {tuple(self.weights.shape)}"
            )

    @property
    def title(self) -> str:
        if self.method != "attention":
            return METHOD_TITLES.get(self.method, self.method)
        return STREAM_TITLES.get(self.name, self.name)

    def head(self, layer: int, head: int, row: int = 0) -> Tensor:
        """The ``(T, S)`` map of model layer ``layer`` and model head ``head`` (not positions)."""
        try:
            li, hi = self.layers.index(layer), self.heads.index(head)
        except ValueError:
            raise ValueError(
                f"stream {self.name!r} holds layers {self.layers} and heads {self.heads}; "
                f"layer {layer} head {head} was not captured"
            ) from None
        return self.weights[li, row, hi]


def _model_heads(model: nn.Module) -> int:
    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(cfg, "n_heads"):
        raise ValueError(f"{type(model).__name__} has no cfg.n_heads")
    return int(cfg.n_heads)


def check_selection(model: nn.Module, heads: Sequence[int] | None) -> list[int]:
    """The head indices to keep, checked against the model's head count."""
    n = _model_heads(model)
    chosen = list(range(n)) if heads is None else [int(h) for h in heads]
    bad = [h for h in chosen if not 0 <= h < n]
    if bad or not chosen:
        raise ValueError(f"heads {chosen} out of range: this model has heads 0..{n - 1}")
    return chosen


@torch.no_grad()
def capture_streams(
    model: nn.Module,
    *inputs: Tensor,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    **kwargs,
) -> dict[str, AttentionStream]:
    """Run ``model(*inputs, **kwargs)`` once and return its attention streams, unlabelled.

    Works on every attnkit Transformer: an encoder or classifier yields ``encoder``; a decoder-only
    LM yields ``decoder``; an encoder-decoder yields all three. The model keeps its configured
    backend; the weights equal the reference backend's (see :mod:`attnkit.attention.capture`).
    The GRU seq2seq baseline yields ``cross``: its Bahdanau attention, one layer and one "head".

    Raises:
        ValueError: the model has no attention (an LSTM or CNN), or the layer/head selection is
            out of range.
    """
    additive = [m for m in model.modules() if isinstance(m, AdditiveAttention)]
    if additive:
        return _additive_streams(model, additive[0], inputs, kwargs, layers, heads)
    if not has_attention(model):
        arch = getattr(getattr(model, "cfg", None), "arch", type(model).__name__)
        raise ValueError(f"this model ({arch}) has no attention layers to show; use a Transformer checkpoint")
    head_ids = check_selection(model, heads)
    sel = list(layers) if layers is not None else None
    with eval_mode(model), capture_attention(model, layers=sel, heads=head_ids) as cap:
        model(*inputs, **kwargs)
    if not cap.records:
        raise ValueError(f"layers={layers} selects no attention layer that ran")
    bare = "decoder" if isinstance(model, Decoder) else "encoder"  # a model that is one stack
    grouped: dict[str, list[str]] = {}
    for name in cap.records:  # module order: layer 0 first
        grouped.setdefault(_stream_of(name, bare), []).append(name)
    streams: dict[str, AttentionStream] = {}
    for stream in ("encoder", "decoder", "cross"):
        picked = grouped.get(stream, [])
        if picked:
            idx = [int(_LAYER.search(n).group(1)) for n in picked]
            w = torch.stack([cap.records[n][-1] for n in picked])  # L x (B, H, T, S) -> (L, B, H, T, S)
            streams[stream] = AttentionStream(stream, w, idx, head_ids)
    return streams


def has_attention(model: nn.Module) -> bool:
    """Whether :func:`capture_streams` has anything to show for ``model``."""
    return any(
        getattr(m, "is_attention_layer", False) or isinstance(m, AdditiveAttention) for m in model.modules()
    )


def _additive_streams(model, module, inputs, kwargs, layers, heads) -> dict[str, AttentionStream]:
    """The GRU decoder's attention: one ``(B, S)`` row per decoding step, hooked from its output."""
    if (layers is not None and list(layers) != [0]) or (heads is not None and list(heads) != [0]):
        raise ValueError("this GRU model has one attention (layer 0, head 0); drop --layers/--heads")
    rows: list[Tensor] = []
    handle = module.register_forward_hook(lambda m, args, out: rows.append(out[1].detach()))
    try:
        with eval_mode(model):
            model(*inputs, **kwargs)
    finally:
        handle.remove()
    w = torch.stack(rows, dim=1)  # T x (B, S) -> (B, T, S)
    return {"cross": AttentionStream("cross", w[None, :, None], [0], [0])}  # (B, T, S) -> (1, B, 1, T, S)


def _stream_of(name: str, bare: str) -> str:
    if name.endswith("cross_attn"):
        return "cross"
    if name.startswith("decoder."):
        return "decoder"
    if name.startswith("encoder."):
        return "encoder"
    return bare
