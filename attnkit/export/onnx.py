"""ONNX export through PyTorch's TorchScript-based exporter, run with ONNX Runtime.

- Encoders: ``ids (B, T) int64, padding_mask (B, T) bool -> hidden (B, T, C)``.
- Classifiers: ``ids, padding_mask -> logits (B, K)``.
- Decoders: ``ids (B, T), past_k_i / past_v_i (B, Hkv, P, D) for each layer i -> logits (B, T, V),
  present_k_i / present_v_i (B, Hkv, P + T, D)``. Start with P = 0 (empty past tensors), then feed
  each step's presents back as the next step's pasts, as HF's ``*-with-past`` ONNX models do.

The decoder is exported through :class:`ConcatCache`, a cache that concatenates instead of
writing into preallocated buffers and hands the model an explicit causal mask, so one graph serves
the prompt (P = 0, T = n) and every step (P = n, T = 1) with dynamic shapes. ``--quantize int8``
runs ONNX Runtime's own dynamic int8 quantization on the exported fp32 graph.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from attnkit.models.decoder import Decoder


class _ConcatLayer:
    """One layer's past keys/values; ``update`` returns ``cat(past, new)`` along positions."""

    slots = None

    def __init__(self, k: Tensor, v: Tensor) -> None:
        self.k, self.v = k, v

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.k = torch.cat([self.k, k], dim=2)  # (B, Hkv, P, D) + (B, Hkv, T, D) -> (B, Hkv, P+T, D)
        self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v


class ConcatCache:
    """The cache interface :class:`Decoder` reads (``layers``, ``cross``, ``step_inputs``), built
    from past tensors, with shapes the exporter can keep symbolic."""

    def __init__(self, past: list[tuple[Tensor, Tensor]]) -> None:
        self.layers = [_ConcatLayer(k, v) for k, v in past]
        self.cross: list = []  # no cross-attention in an exported decoder-only model

    def step_inputs(self, ids: Tensor, padding_mask: Tensor | None = None, positions: Tensor | None = None):
        t = ids.shape[1]
        p = self.layers[0].k.shape[2]
        pos = torch.arange(t, device=ids.device) + p  # (T,) positions after the past
        keys = torch.arange(p + t, device=ids.device)
        # An explicit (T, S) causal mask, bottom-right aligned: query i sees keys <= p + i. Built
        # from tensors, so the exported graph works for any P and T (is_causal would bake a branch).
        return pos, keys[None, :] <= pos[:, None], False


class DecoderWithPast(nn.Module):
    """``(ids, *pasts) -> (logits, *presents)`` around a :class:`Decoder`, for export."""

    def __init__(self, model: Decoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, *past: Tensor) -> tuple[Tensor, ...]:
        pairs = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
        cache = ConcatCache(pairs)
        logits = self.model(ids, cache=cache).logits
        return (logits, *(t for layer in cache.layers for t in (layer.k, layer.v)))


class EncoderOutputs(nn.Module):
    """``(ids, padding_mask) -> hidden`` (encoders) or ``-> logits`` (classifiers)."""

    def __init__(self, model: nn.Module, field: str) -> None:
        super().__init__()
        self.model, self.field = model, field

    def forward(self, ids: Tensor, padding_mask: Tensor) -> Tensor:
        return getattr(self.model(ids, padding_mask=padding_mask), self.field)


def empty_past(model: Decoder, batch: int = 1) -> list[Tensor]:
    """Zero-length past tensors ``(B, Hkv, 0, D)`` for every layer, k then v."""
    shape = (batch, model.cfg.kv_heads, 0, model.cfg.head_dim)
    return [torch.zeros(shape) for _ in range(2 * model.cfg.n_layers)]


def export_decoder(model: Decoder, path: Path) -> list[str]:
    """Write ``model`` with past/present KV tensors to ``path``; returns the input names."""
    n = model.cfg.n_layers
    past_names = [f"past_{kv}_{i}" for i in range(n) for kv in ("k", "v")]
    present_names = [f"present_{kv}_{i}" for i in range(n) for kv in ("k", "v")]
    axes = {"ids": {0: "batch", 1: "new"}, "logits": {0: "batch", 1: "new"}}
    axes |= {name: {0: "batch", 2: "past"} for name in past_names}
    axes |= {name: {0: "batch", 2: "total"} for name in present_names}
    # Trace with a non-empty past and T > 1, so no shape is specialised to 0 or 1.
    d = model.cfg.head_dim
    past = [torch.randn(1, model.cfg.kv_heads, 3, d) for _ in range(2 * n)]
    ids = torch.randint(0, model.cfg.vocab_size, (1, 2))
    _export(
        DecoderWithPast(model), (ids, *past), path, ["ids", *past_names], ["logits", *present_names], axes
    )
    return ["ids", *past_names]


def export_encoder(model: nn.Module, field: str, path: Path) -> None:
    ids = torch.randint(0, model.cfg.vocab_size, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    axes = {"ids": {0: "batch", 1: "tokens"}, "padding_mask": {0: "batch", 1: "tokens"}, field: {0: "batch"}}
    if field == "hidden":
        axes[field][1] = "tokens"
    _export(EncoderOutputs(model, field), (ids, mask), path, ["ids", "padding_mask"], [field], axes)


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes) -> None:
    import copy
    import warnings

    # The reference backend is plain matmul/softmax/masked_fill, which every ONNX opset holds;
    # ONNX Runtime fuses the pattern into its own attention kernel when it optimizes the graph.
    module = copy.deepcopy(module)
    for layer in module.modules():
        if getattr(layer, "is_attention_layer", False):
            layer.set_backend("reference")
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python-level shape checks; the export is verified numerically.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), args, str(path), input_names=inputs, output_names=outputs,
            dynamic_axes=axes, opset_version=17, dynamo=False, do_constant_folding=True,
        )  # fmt: skip


def quantize_int8(src: Path, dst: Path) -> None:
    """ONNX Runtime's dynamic int8 quantization (int8 weights, int8 activations per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
