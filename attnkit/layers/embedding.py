"""Token embeddings plus additive positions (sinusoidal or learned), the input of every stack.

RoPE is not added here: it rotates q and k inside attention. ``embed_scale`` multiplies token
embeddings by sqrt(C) as in Vaswani et al. 2017 (section 3.4), which keeps them on the scale of
the sinusoidal table. BERT-family models add token-type (segment) embeddings and normalise the
sum before the first block (``type_vocab_size``, ``embed_norm``).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

from attnkit.attention.positional import position_table
from attnkit.attention.shapes import value_range
from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.layers.norms import build_norm

PositionKind = Literal["sinusoidal", "learned", "rope", "none"]


class Embeddings(nn.Module):
    """ids ``(B, T)`` -> dropout(tok(ids) * s + pos(positions)) ``(B, T, C)``."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        max_seq_len: int,
        *,
        positions: PositionKind = "learned",
        dropout: float = 0.0,
        embed_scale: bool = False,
        type_vocab_size: int = 0,
        norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.tok = nn.Embedding(vocab_size, d_model)
        self.types = nn.Embedding(type_vocab_size, d_model) if type_vocab_size else None
        self.norm = norm
        self.pos = position_table(positions, d_model, max_seq_len)
        self.scale = math.sqrt(d_model) if embed_scale else 1.0
        self.dropout = Dropout(dropout)

    @classmethod
    def from_config(cls, cfg: ModelConfig, vocab_size: int | None = None) -> Embeddings:
        """The embedding layer ``cfg`` describes (``vocab_size`` overrides the config's)."""
        return cls(
            vocab_size or cfg.vocab_size,
            cfg.d_model,
            cfg.max_seq_len,
            positions=cfg.positions,
            dropout=cfg.dropout,
            embed_scale=cfg.embed_scale,
            type_vocab_size=cfg.type_vocab_size,
            norm=build_norm(cfg.norm, cfg.d_model, cfg.norm_eps, bias=cfg.bias) if cfg.embed_norm else None,
        )

    def forward(self, ids: Tensor, positions: Tensor, token_types: Tensor | None = None) -> Tensor:
        if ids.dim() != 2:
            raise ValueError(f"expected token ids of shape (B, T), got {tuple(ids.shape)}")
        span = value_range(ids)
        if span is not None and (span[0] < 0 or span[1] >= self.vocab_size):
            raise ValueError(
                f"token id out of range [0, {self.vocab_size}): min {span[0]}, max {span[1]}; "
                "does the tokenizer match the model's vocab_size?"
            )
        x = self.tok(ids)  # (B, T) -> (B, T, C)
        if self.scale != 1.0:
            x = x * self.scale
        if self.pos is not None:
            x = x + self.pos(positions)  # (T, C) or (B, T, C), broadcast over B
        if self.types is not None:
            if token_types is None:  # segment 0 everywhere: a single-sentence input
                x = x + self.types.weight[0]
            elif token_types.shape != ids.shape:
                raise ValueError(f"token_types {tuple(token_types.shape)} must match ids {tuple(ids.shape)}")
            else:
                x = x + self.types(token_types)  # (B, T) -> (B, T, C)
        elif token_types is not None:
            raise ValueError(
                "token_types given, but this model has no token-type embeddings (type_vocab_size=0)"
            )
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)
