"""Decoder: a causal Transformer language model (GPT-style), optionally cross-attending.

    ids (B, T) -> embeddings -> N x DecoderBlock(causal) -> [final norm] -> lm_head -> (B, T, V)

Reading order: ``__init__`` builds the stack; ``forward`` runs it, with an optional KV cache so
that generation continues where the cache ends; ``new_cache`` allocates one. The output head
shares its weight with the token embedding when ``cfg.tie_embeddings`` (the default).

With ``cross_attention=True`` each block also attends to an encoder's output; that is how
:class:`attnkit.models.seq2seq.EncoderDecoder` uses this class.

Padding: right-padded targets need no mask (causality already hides later positions) and are
skipped by the loss through ``targets == -100``. Left-padded prompts pass ``padding_mask`` over
every key position seen so far, cached ones included.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from attnkit.attention.kv_cache import KVCache, step_inputs
from attnkit.attention.positional import RotaryEmbedding
from attnkit.config.model import ModelConfig
from attnkit.data import masks
from attnkit.layers.block import DecoderBlock
from attnkit.layers.embedding import Embeddings
from attnkit.models.base import AttnkitModel, ModelOutput, final_norm, lm_loss


class Decoder(AttnkitModel):
    """Causal LM over ``cfg.vocab_size`` tokens with ``cfg.n_layers`` blocks."""

    @property
    def context_limit(self) -> int | None:
        """Longest sequence the position scheme covers (None: no limit, as with RoPE)."""
        return None if self.cfg.positions in ("rope", "none") else self.cfg.max_seq_len

    def __init__(self, cfg: ModelConfig, *, cross_attention: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.cross_attention = cross_attention
        self.embed = Embeddings.from_config(cfg)
        rope = RotaryEmbedding.for_positions(cfg.positions, cfg.head_dim, cfg.rope_theta)
        self.layers = nn.ModuleList(
            DecoderBlock(cfg, cross_attention=cross_attention, rope=rope) for _ in range(cfg.n_layers)
        )
        self.norm = final_norm(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.init_weights()
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.tok.weight

    def forward(
        self,
        ids: Tensor,
        targets: Tensor | None = None,
        *,
        padding_mask: Tensor | None = None,
        cache: KVCache | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        positions: Tensor | None = None,
        head_mask: Tensor | None = None,
        return_hidden: bool = False,
    ) -> ModelOutput:
        """Next-token logits for ``ids`` ``(B, T)``.

        Args:
            targets: ``(B, T)`` next-token ids, -100 to skip; gives ``loss``.
            padding_mask: ``(B, S)`` bool over all keys (S = cached + T), True = real token.
            cache: from :meth:`new_cache`; positions continue at ``cache.length``.
            context: ``(B, S_src, C)`` encoder output (cross-attention models only).
            context_mask: ``(B, S_src)`` bool, True = real source token.
            positions: ``(B, T)`` explicit positions (left-padded batches); default
                ``cache.length + arange(T)``.
            head_mask: ``(B, T)`` bool: run the output head only where True and return those
                logits as ``(N, V)`` (a pair task's loss needs the target positions only).
            return_hidden: skip the output head (``logits`` None): a chunked loss applies it.

        Returns:
            :class:`ModelOutput` with ``logits`` ``(B, T, V)``, ``loss`` and ``cache``.
        """
        if ids.dim() != 2:
            raise ValueError(f"expected ids of shape (B, T), got {tuple(ids.shape)}")
        # Where each token sits and what it may see: the cache knows (appending or slot-addressed).
        step = cache.step_inputs if cache is not None else step_inputs
        positions, mask, is_causal = step(ids, padding_mask, positions)
        ctx_mask = masks.expand_padding(context_mask) if context_mask is not None else None
        x = self.embed(ids, positions)  # (B, T) -> (B, T, C)
        recompute = self.cfg.grad_checkpoint and self.training and cache is None and torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            run = partial(checkpoint, layer, use_reentrant=False) if recompute else layer
            x = run(
                x,
                mask=mask,
                is_causal=is_causal,
                positions=positions,
                cache=cache.layers[i] if cache is not None else None,
                context=context,
                context_mask=ctx_mask,
                cross_cache=cache.cross[i] if cache is not None and cache.cross else None,
            )
        x = self.norm(x)
        if return_hidden:
            return ModelOutput(hidden=x, logits=None, loss=None, cache=cache)
        # (B, T, C) -> (B, T, V); with head_mask (B, T, C) -> (N, C) -> (N, V)
        logits = self.lm_head(x if head_mask is None else x[head_mask])
        loss = lm_loss(logits, targets) if targets is not None else None
        return ModelOutput(hidden=x, logits=logits, loss=loss, cache=cache)

    def output_head(self) -> nn.Module:
        """The linear layer from hidden states to logits (for a chunked loss)."""
        return self.lm_head

    def new_cache(
        self,
        batch_size: int,
        max_len: int | None = None,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> KVCache:
        """Allocate a KV cache for ``batch_size`` sequences of up to ``max_len`` tokens."""
        p = self.embed.tok.weight  # not lm_head: a quantized head has no plain weight tensor
        return KVCache.allocate(
            self.cfg.n_layers,
            batch_size,
            self.cfg.kv_heads,
            max_len or self.cfg.max_seq_len,
            self.cfg.head_dim,
            cross_attention=self.cross_attention,
            dtype=dtype or p.dtype,
            device=device or p.device,
        )
