"""EncoderDecoder: the original Transformer (Vaswani et al. 2017) for sequence-to-sequence tasks.

    src (B, S) -> Encoder -> memory (B, S, C)
    tgt (B, T) -> Decoder(causal self-attention + cross-attention to memory) -> logits (B, T, V)

Both stacks are built from the same blocks as :class:`Encoder` and :class:`Decoder`. For
decoding, call :meth:`encode` once and :meth:`decode` per step with a cache from
:meth:`new_cache`: the cache keeps decoder self-attention K/V and computes each layer's
cross-attention K/V from the memory only on the first step.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from attnkit.attention.kv_cache import KVCache
from attnkit.config.model import ModelConfig
from attnkit.models.base import AttnkitModel, ModelOutput
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder


class EncoderDecoder(AttnkitModel):
    """Encoder over ``cfg.src_vocab_size`` tokens, decoder over ``cfg.vocab_size`` tokens."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        enc_cfg = dataclasses.replace(
            cfg,
            vocab_size=cfg.src_vocab_size or cfg.vocab_size,
            n_layers=cfg.n_encoder_layers or cfg.n_layers,
            src_vocab_size=None,
            n_encoder_layers=None,
            share_embeddings=False,
        )
        self.encoder = Encoder(enc_cfg)
        self.decoder = Decoder(cfg, cross_attention=True)
        if cfg.share_embeddings:
            # One table for source, target and (when tied) the output head.
            self.decoder.embed.tok.weight = self.encoder.embed.tok.weight
            if cfg.tie_embeddings:
                self.decoder.lm_head.weight = self.encoder.embed.tok.weight

    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Run the encoder. Returns ``memory`` ``(B, S, C)`` and the ``(B, S)`` source key mask."""
        key_mask = self.encoder.key_mask(src_ids, src_mask)
        return self.encoder(src_ids, padding_mask=key_mask).hidden, key_mask

    def decode(
        self,
        tgt_ids: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        targets: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        return_hidden: bool = False,
    ) -> ModelOutput:
        """Run the decoder on ``tgt_ids`` ``(B, T)`` against ``memory`` ``(B, S, C)``."""
        if memory.shape[0] != tgt_ids.shape[0]:
            raise ValueError(
                f"memory batch {memory.shape[0]} != target batch {tgt_ids.shape[0]} "
                f"(memory {tuple(memory.shape)}, tgt_ids {tuple(tgt_ids.shape)})"
            )
        return self.decoder(
            tgt_ids, targets, cache=cache, context=memory, context_mask=memory_mask,
            return_hidden=return_hidden,
        )  # fmt: skip

    def forward(
        self,
        src_ids: Tensor,
        tgt_ids: Tensor,
        targets: Tensor | None = None,
        *,
        src_mask: Tensor | None = None,
        return_hidden: bool = False,
    ) -> ModelOutput:
        """Teacher-forced logits ``(B, T, V)`` (and loss when ``targets`` are given); with
        ``return_hidden`` the decoder's final states only (for a chunked loss)."""
        memory, key_mask = self.encode(src_ids, src_mask)
        return self.decode(tgt_ids, memory, key_mask, targets, return_hidden=return_hidden)

    def output_head(self) -> torch.nn.Module:
        return self.decoder.lm_head

    def new_cache(
        self,
        batch_size: int,
        max_len: int | None = None,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> KVCache:
        """Decoder cache with self-attention buffers and per-layer cross-attention slots."""
        return self.decoder.new_cache(batch_size, max_len, dtype=dtype, device=device)
