"""What every attnkit model shares: the output dataclass, weight init and parameter counting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.attention.kv_cache import KVCache
from attnkit.attention.shapes import value_range
from attnkit.config.model import ModelConfig
from attnkit.data.seq2seq import IGNORE_INDEX
from attnkit.layers.norms import build_norm

"""Target value that the loss skips (padding, prompt tokens)."""


@dataclass
class ModelOutput:
    """What every model's forward returns.

    Attributes:
        hidden: ``(B, T, C)`` final hidden states.
        logits: ``(B, T, V)``; None for a head-less encoder.
        loss: mean cross-entropy over targets != -100, when targets were given.
        cache: the KV cache passed in, now holding this call's keys/values.
    """

    hidden: Tensor
    logits: Tensor | None = None
    loss: Tensor | None = None
    cache: KVCache | None = None


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Token-level cross-entropy; ``targets`` ``(B, T)`` with -100 where nothing is predicted."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets {tuple(targets.shape)} must match logits {tuple(logits.shape[:-1])} (B, T)"
        )
    v = logits.shape[-1]
    # (B, T, V) -> (B*T, V); float32 so bf16 logits do not lose the loss's small differences
    return F.cross_entropy(logits.reshape(-1, v).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX)


def check_ids(ids: Tensor, vocab_size: int) -> None:
    """Raise ``ValueError`` unless ``ids`` is ``(B, T)`` with every id below ``vocab_size``."""
    if ids.dim() != 2:
        raise ValueError(f"expected ids of shape (B, T), got {tuple(ids.shape)}")
    span = value_range(ids)
    if span is not None and (span[0] < 0 or span[1] >= vocab_size):
        raise ValueError(
            f"token id out of range [0, {vocab_size}): min {span[0]}, max {span[1]}; "
            "does the tokenizer match the model?"
        )


class AttnkitModel(nn.Module):
    """Base of Encoder, Decoder and EncoderDecoder."""

    cfg: ModelConfig

    def init_weights(self) -> None:
        """Weights by ``cfg.init``, zeros for biases.

        ``gpt2``: N(0, 0.02) for linear and embedding weights (convolutions keep PyTorch's
        default). ``fan_in``: linear and convolution weights N(0, 1/fan_in), embeddings N(0, 1).
        0.02 suits widths near GPT-2's 768 (about 0.55/sqrt(768)); at d_model=64 it is 6x below
        1/sqrt(d), attention starts uniform with tiny gradients, and content-matching heads
        (associative recall) can sit on a plateau for thousands of steps that ``fan_in`` leaves
        after a few hundred.
        """
        fan_in = getattr(self.cfg, "init", "gpt2") == "fan_in"
        for m in self.modules():
            if isinstance(m, nn.Linear) or (fan_in and isinstance(m, nn.Conv1d)):
                std = (m.weight[0].numel() ** -0.5) if fan_in else 0.02  # weight[0]: one unit's inputs
                nn.init.normal_(m.weight, mean=0.0, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, mean=0.0, std=1.0 if fan_in else 0.02)

    def num_parameters(self, *, exclude_embeddings: bool = False) -> int:
        """Trainable parameters, tied weights counted once.

        Args:
            exclude_embeddings: leave out token and learned-position tables (the count scaling
                laws use).
        """
        seen: set[int] = set()
        skip: set[int] = set()
        if exclude_embeddings:
            for name, p in self.named_parameters():
                if name.endswith("tok.weight") or name.endswith("pos.weight"):
                    skip.add(id(p))
        total = 0
        for p in self.parameters():
            if id(p) in seen or id(p) in skip or not p.requires_grad:
                continue
            seen.add(id(p))
            total += p.numel()
        return total

    def set_attn_backend(self, name: str) -> None:
        """Switch every attention layer to another registered backend."""
        for m in self.modules():
            if getattr(m, "is_attention_layer", False):
                m.set_backend(name)
            elif isinstance(m, AttnkitModel):
                m.cfg.attn_backend = name


def final_norm(cfg: ModelConfig) -> nn.Module:
    """Norm after the last block: pre-norm stacks need one, post-norm blocks already end normed."""
    if cfg.norm_position == "pre":
        return build_norm(cfg.norm, cfg.d_model, cfg.norm_eps, bias=cfg.bias)
    return nn.Identity()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode for the block, then back to the mode it was in (even on error)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
