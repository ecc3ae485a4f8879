"""Quantize a loaded Transformer for inference: every ``nn.Linear`` becomes an int8 or bf16 layer.

Embeddings, norms, positional tables and the attention softmax stay fp32; only the matrix
products, which carry nearly all of a model's bytes and time, change. A tied LM head gets its own
quantized copy, while the token embedding stays fp32 for the lookup. Refused for the recurrent and
convolutional baselines, whose time is not in ``nn.Linear`` (nothing there to quantize that would
make them faster), with a message that names the option.
"""

from __future__ import annotations

from torch import nn

from attnkit.layers.quant import QUANTIZE_MODES, QUANTIZED_LINEAR
from attnkit.models.classifier import TransformerClassifier
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder
from attnkit.models.seq2seq import EncoderDecoder

QUANTIZABLE = (Decoder, Encoder, EncoderDecoder, TransformerClassifier)
"""Model classes with a quantized path (subclasses included: the speech model is an
EncoderDecoder, its audio encoder an Encoder)."""


def check_quantize(model: nn.Module, mode: str) -> None:
    """Raise ValueError naming the problem and the fix when ``model`` cannot run in ``mode``."""
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"unknown quantize mode {mode!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if mode != "none" and not isinstance(model, QUANTIZABLE):
        names = ", ".join(cls.__name__ for cls in QUANTIZABLE)
        raise ValueError(
            f"{type(model).__name__} has no quantized path (only {names} do); "
            "use --quantize none (quantize='none') for this model"
        )


def quantize_model(model: nn.Module, mode: str) -> nn.Module:
    """Replace every ``nn.Linear`` in ``model`` with its ``mode`` layer, in place; returns
    ``model``. ``none`` leaves it unchanged. The model should be in eval mode: quantized layers
    have no trainable parameters."""
    check_quantize(model, mode)
    if mode == "none":
        return model
    layer = QUANTIZED_LINEAR[mode]
    # Collect first: replacing children while walking named_modules would skip some.
    targets = [(name, mod) for name, mod in model.named_modules() if type(mod) is nn.Linear]
    for name, linear in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, layer.from_linear(linear))
    model.quantized = mode
    return model
