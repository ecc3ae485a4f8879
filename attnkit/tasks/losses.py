"""The training loss of the tasks' output heads: plain cross-entropy over full logits, or the
chunked head + cross-entropy (``train.loss_impl``), chosen in one place."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.layers.chunked_loss import chunked_cross_entropy
from attnkit.models.base import IGNORE_INDEX


def head_of(model: nn.Module) -> nn.Module:
    """The output linear layer of ``model`` (through DDP's or compile's wrapper)."""
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    if not hasattr(inner, "output_head"):
        raise ValueError(
            f"train.loss_impl=chunked needs a Transformer model with an output head, not "
            f"{type(inner).__name__}; set train.loss_impl=plain"
        )
    return inner.output_head()


def output_loss(model: nn.Module, impl: str, run, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of ``targets`` (-100 ignored). ``run(return_hidden)`` calls the model:
    with ``False`` it returns logits ``(..., V)``, with ``True`` the head's input ``(..., C)``."""
    if impl == "chunked":
        head = head_of(model)
        hidden = run(True)
        bias = getattr(head, "bias", None)
        if bias is None and hasattr(head, "base"):  # a LoRA-wrapped head: the frozen base's bias
            bias = head.base.bias
        return chunked_cross_entropy(
            hidden.reshape(-1, hidden.shape[-1]), head.weight, targets.reshape(-1), bias,
            label_smoothing=label_smoothing,
        )  # fmt: skip
    logits = run(False)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
        ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing,
    )  # fmt: skip
