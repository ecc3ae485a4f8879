"""GRU encoder-decoder with Bahdanau attention: the recurrent baseline for translation.

(Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to Align and
Translate".) The encoder is a bidirectional GRU; at every target step the decoder scores each
source state against its previous hidden state with additive attention,

    e_tj = v^T tanh(W s_{t-1} + U h_j),   a_t = softmax_j(e_t),   c_t = sum_j a_tj h_j,

feeds ``[embed(y_{t-1}); c_t]`` to a GRU cell, and predicts from ``[s_t; c_t; embed(y_{t-1})]``.

It has the :class:`EncoderDecoder` interface (``encode``, ``decode`` with a cache, ``forward``,
``new_cache``), so the same task, trainer, beam search and metrics run it. Sizes come from the
same ``ModelConfig``: ``d_model`` is the embedding size, the decoder's hidden size and the
encoder's (both directions together); ``n_encoder_layers`` stacks the encoder GRU; the decoder is
one GRU cell, as in the paper. The attention loop is sequential in the target length, which is
what the seed's comparison is about: a Transformer decoder trains all positions at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.models.base import AttnkitModel, ModelOutput, lm_loss


@dataclass
class RNNDecoderState:
    """The decoder's running state; plays the role of the KV cache (reorderable for beams)."""

    h: Tensor | None = None
    """Decoder hidden ``(B, C)``; None until the first step initialises it from the encoder."""
    keys: Tensor | None = None
    """``U h_j`` for every source position ``(B, S, C)``: computed once per source."""
    length: int = 0

    def reset(self) -> None:
        self.h = self.keys = None
        self.length = 0

    def reorder(self, beam_idx: Tensor) -> None:
        if self.h is not None:
            self.h = self.h[beam_idx]
        if self.keys is not None:
            self.keys = self.keys[beam_idx]


class AdditiveAttention(nn.Module):
    """Bahdanau's score ``v^T tanh(W q + U k)``, masked softmax, weighted sum of the values."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(d, d, bias=False)
        self.w_k = nn.Linear(d, d, bias=True)
        self.v = nn.Linear(d, 1, bias=False)

    def forward(self, q: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """``q`` (B, C), ``keys``/``values`` (B, S, C), ``mask`` (B, S) True = real -> (B, C), (B, S)."""
        scores = self.v(torch.tanh(self.w_q(q)[:, None] + keys)).squeeze(-1)  # (B, S, 1) -> (B, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights[:, None], values).squeeze(1)  # (B, 1, S) @ (B, S, C) -> (B, C)
        return context, weights


class GRUSeq2Seq(AttnkitModel):
    """Bidirectional GRU encoder + attentive GRU decoder (``arch: rnn``)."""

    context_limit = None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model % 2:
            raise ValueError(f"arch=rnn needs an even d_model (two encoder directions), got {cfg.d_model}")
        self.cfg = cfg
        c = cfg.d_model
        self.src_embed = nn.Embedding(cfg.src_vocab_size or cfg.vocab_size, c)
        self.tgt_embed = nn.Embedding(cfg.vocab_size, c)
        n_enc = cfg.n_encoder_layers or cfg.n_layers
        self.encoder = nn.GRU(
            c, c // 2, num_layers=n_enc, batch_first=True, bidirectional=True,
            dropout=cfg.dropout if n_enc > 1 else 0.0,
        )  # fmt: skip
        self.init_h = nn.Linear(c, c)
        self.attention = AdditiveAttention(c)
        self.cell = nn.GRUCell(2 * c, c)
        self.pre_out = nn.Linear(3 * c, c)
        self.drop = Dropout(cfg.dropout)
        self.lm_head = nn.Linear(c, cfg.vocab_size, bias=False)
        self.init_weights()
        if cfg.share_embeddings:
            self.tgt_embed.weight = self.src_embed.weight
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tgt_embed.weight

    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Source states ``(B, S, C)`` (both directions concatenated) and the ``(B, S)`` mask."""
        if src_mask is None:
            src_mask = (
                src_ids != self.cfg.pad_id
                if self.cfg.pad_id is not None
                else torch.ones_like(src_ids, dtype=torch.bool)
            )
        lengths = src_mask.sum(1).clamp(min=1).cpu()
        x = self.drop(self.src_embed(src_ids))  # (B, S) -> (B, S, C)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src_ids.shape[1])
        return memory, src_mask

    def _init_state(self, memory: Tensor, mask: Tensor, state: RNNDecoderState) -> None:
        # Mean of the real source states: a length-robust summary to start the decoder from.
        m = mask.unsqueeze(-1).to(memory.dtype)  # (B, S) -> (B, S, 1)
        mean = (memory * m).sum(1) / m.sum(1).clamp(min=1)
        state.h = torch.tanh(self.init_h(mean))
        state.keys = self.attention.w_k(memory)

    def decode(
        self,
        tgt_ids: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        targets: Tensor | None = None,
        *,
        cache: RNNDecoderState | None = None,
    ) -> ModelOutput:
        """Logits ``(B, T, V)`` for ``tgt_ids`` ``(B, T)``, continuing from ``cache`` if given."""
        state = cache if cache is not None else RNNDecoderState()
        if memory_mask is None:
            memory_mask = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)
        if state.h is None:
            self._init_state(memory, memory_mask, state)
        emb = self.drop(self.tgt_embed(tgt_ids))  # (B, T) -> (B, T, C)
        h = state.h
        outs = []
        for t in range(tgt_ids.shape[1]):
            ctx, _ = self.attention(h, state.keys, memory, memory_mask)
            h = self.cell(torch.cat([emb[:, t], ctx], dim=-1), h)
            outs.append(self.pre_out(torch.cat([h, ctx, emb[:, t]], dim=-1)))
        state.h = h
        state.length += tgt_ids.shape[1]
        x = self.drop(torch.tanh(torch.stack(outs, dim=1)))  # T x (B, C) -> (B, T, C)
        logits = self.lm_head(x)
        loss = lm_loss(logits, targets) if targets is not None else None
        return ModelOutput(hidden=x, logits=logits, loss=loss, cache=state)

    def forward(
        self,
        src_ids: Tensor,
        tgt_ids: Tensor,
        targets: Tensor | None = None,
        *,
        src_mask: Tensor | None = None,
    ) -> ModelOutput:
        memory, mask = self.encode(src_ids, src_mask)
        return self.decode(tgt_ids, memory, mask, targets)

    def new_cache(self, batch_size: int, max_len: int | None = None, **_: object) -> RNNDecoderState:
        return RNNDecoderState()
