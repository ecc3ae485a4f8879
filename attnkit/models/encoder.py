"""Encoder: a bidirectional Transformer stack (Vaswani et al. 2017 encoder; BERT's body).

ids ``(B, T)`` -> embeddings -> N x EncoderBlock -> [final norm] -> hidden ``(B, T, C)``.
Every token sees every non-padding token. It is the body of text classifiers and the source
side of the encoder-decoder; task heads sit on top of ``hidden``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnkit.attention.positional import RotaryEmbedding
from attnkit.config.model import ModelConfig
from attnkit.data import masks
from attnkit.layers.block import EncoderBlock
from attnkit.layers.embedding import Embeddings
from attnkit.models.base import AttnkitModel, ModelOutput, final_norm


class Encoder(AttnkitModel):
    """Bidirectional stack. ``cfg.n_layers`` blocks over a ``cfg.vocab_size`` vocabulary."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = Embeddings.from_config(cfg)
        rope = RotaryEmbedding.for_positions(cfg.positions, cfg.head_dim, cfg.rope_theta)
        self.layers = nn.ModuleList(EncoderBlock(cfg, rope=rope) for _ in range(cfg.n_layers))
        # Pre-norm leaves the residual stream unnormalised; post-norm blocks end normalised.
        self.norm = final_norm(cfg)
        self.init_weights()

    def forward(
        self, ids: Tensor, *, padding_mask: Tensor | None = None, token_types: Tensor | None = None
    ) -> ModelOutput:
        """Encode ``ids`` ``(B, T)``.

        Args:
            padding_mask: ``(B, T)`` bool, True = real token. None: derived from ``cfg.pad_id``
                when set, else every token is real.
            token_types: ``(B, T)`` segment ids (models with ``type_vocab_size``); None = all 0.

        Returns:
            :class:`ModelOutput` with ``hidden`` ``(B, T, C)``.
        """
        key_mask = self.key_mask(ids, padding_mask)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids, positions, token_types)  # (B, T) -> (B, T, C)
        return ModelOutput(hidden=self.run_blocks(x, key_mask, positions))

    def run_blocks(self, x: Tensor, key_mask: Tensor | None, positions: Tensor) -> Tensor:
        """The stack over already-embedded input ``x`` ``(B, T, C)`` (other modalities' front
        ends enter here); returns the final hidden states ``(B, T, C)``."""
        mask = masks.expand_padding(key_mask) if key_mask is not None else None  # (B, T) -> (B, 1, 1, T)
        for layer in self.layers:
            x = layer(x, mask=mask, positions=positions)
        return self.norm(x)

    def key_mask(self, ids: Tensor, padding_mask: Tensor | None) -> Tensor | None:
        """The ``(B, T)`` bool padding mask this encoder uses for ``ids``."""
        if padding_mask is None and self.cfg.pad_id is not None:
            return masks.padding_mask(ids, self.cfg.pad_id)
        if padding_mask is not None and padding_mask.shape != ids.shape:
            raise ValueError(
                f"padding_mask {tuple(padding_mask.shape)} must match ids {tuple(ids.shape)} (B, T)"
            )
        return padding_mask
