"""LSTM language model: the recurrent baseline, with the Decoder's interface.

    ids (B, T) -> embedding -> dropout -> N-layer LSTM -> dropout -> tied head -> (B, T, V)

(Zaremba et al. 2014, "Recurrent Neural Network Regularization", with tied weights as in Press
& Wolf 2017.) It takes the same ``ModelConfig`` (``arch: lstm``; ``d_model`` is both the
embedding and hidden size), returns the same ``ModelOutput``, and its "cache" is the recurrent
state, so the trainer, generation and evaluation code run it unchanged. It has no context limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.models.base import AttnkitModel, ModelOutput, check_ids, lm_loss


@dataclass
class RecurrentState:
    """LSTM (h, c), each ``(L, B, C)``; plays the role of the KV cache."""

    h: Tensor
    c: Tensor
    length: int = 0

    def reset(self) -> None:
        self.h.zero_()
        self.c.zero_()
        self.length = 0

    def reorder(self, beam_idx: Tensor) -> None:
        self.h = self.h[:, beam_idx]
        self.c = self.c[:, beam_idx]


class LSTMLanguageModel(AttnkitModel):
    """Word/char-level LSTM LM with tied input/output embeddings."""

    context_limit: int | None = None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.dropout = Dropout(cfg.dropout)
        self.lstm = nn.LSTM(
            cfg.d_model,
            cfg.d_model,
            cfg.n_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
        )
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.init == "fan_in":
            nn.init.normal_(self.tok.weight, 0.0, 1.0)
        else:
            nn.init.uniform_(self.tok.weight, -0.1, 0.1)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok.weight

    def forward(
        self,
        ids: Tensor,
        targets: Tensor | None = None,
        *,
        cache: RecurrentState | None = None,
        padding_mask: Tensor | None = None,
        positions: Tensor | None = None,
    ) -> ModelOutput:
        """Logits for ``ids`` ``(B, T)``; continues from ``cache`` when given (and updates it)."""
        check_ids(ids, self.cfg.vocab_size)
        x = self.dropout(self.tok(ids))  # (B, T) -> (B, T, C)
        state = (cache.h, cache.c) if cache is not None else None
        h, (hn, cn) = self.lstm(x, state)
        if cache is not None:
            cache.h, cache.c = hn, cn
            cache.length += ids.shape[1]
        h = self.dropout(h)
        logits = self.lm_head(h)  # (B, T, C) -> (B, T, V)
        loss = lm_loss(logits, targets) if targets is not None else None
        return ModelOutput(hidden=h, logits=logits, loss=loss, cache=cache)

    def new_cache(self, batch_size: int, max_len: int | None = None, **_: object) -> RecurrentState:
        p = self.lm_head.weight
        shape = (self.cfg.n_layers, batch_size, self.cfg.d_model)
        return RecurrentState(
            torch.zeros(shape, dtype=p.dtype, device=p.device),
            torch.zeros(shape, dtype=p.dtype, device=p.device),
        )
