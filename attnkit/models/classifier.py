"""Sequence classifiers: the Transformer encoder and three baselines with one interface.

    ids (B, T), padding_mask (B, T) -> ModelOutput(logits (B, K), loss)

- ``transformer``: the :class:`Encoder`, pooled at the first position (the ``<bos>`` the task
  puts in front, BERT's [CLS]) or by the mean over real tokens, then a linear head.
- ``cnn``: Kim (2014) CNN-rand: embeddings, 1-D convolutions of widths 3, 4 and 5 with ``d_ff``
  (default 100) filters each, ReLU, max over time, dropout, linear.
- ``lstm``: a bidirectional LSTM (``n_layers``, ``d_model // 2`` per direction), max-pooled over
  real tokens, linear.
- ``fasttext``: Joulin et al. (2017): the mean of word embeddings and of hashed word-bigram
  embeddings (``ngram_buckets``), linear. No hidden non-linearity: it is a strong linear model.

Each takes ``cfg.labels`` classes (``n = len(cfg.labels)``) and ignores padding exactly: padded
positions never change a row's logits (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.models.base import AttnkitModel, ModelOutput
from attnkit.models.encoder import Encoder

_NEG = -1e4  # "minus infinity" for max-pooling that stays finite in every dtype


def _n_classes(cfg: ModelConfig) -> int:
    if not cfg.labels or len(cfg.labels) < 2:
        raise ValueError(f"a classifier needs model.labels with at least 2 classes, got {cfg.labels!r}")
    return len(cfg.labels)


def _mask(ids: Tensor, padding_mask: Tensor | None, pad_id: int | None) -> Tensor:
    if padding_mask is not None:
        if padding_mask.shape != ids.shape:
            raise ValueError(f"padding_mask {tuple(padding_mask.shape)} must match ids {tuple(ids.shape)}")
        return padding_mask
    return ids != pad_id if pad_id is not None else torch.ones_like(ids, dtype=torch.bool)


def _out(logits: Tensor, labels: Tensor | None) -> ModelOutput:
    loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
    return ModelOutput(hidden=logits, logits=logits, loss=loss)


class TransformerClassifier(AttnkitModel):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.drop = Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.d_model, _n_classes(cfg))
        self.init_weights()

    def output_head(self) -> nn.Module:
        return self.head

    def forward(
        self, ids: Tensor, *, padding_mask: Tensor | None = None, labels: Tensor | None = None,
        return_hidden: bool = False,
    ):  # fmt: skip
        mask = _mask(ids, padding_mask, self.cfg.pad_id)
        h = self.encoder(ids, padding_mask=mask).hidden  # (B, T, C)
        if self.cfg.pooling == "cls":
            pooled = h[:, 0]
        elif self.cfg.pooling == "max":  # (B, T, C) -> (B, C); padding can never be the max
            pooled = h.masked_fill(~mask.unsqueeze(-1), torch.finfo(h.dtype).min).amax(1)
        else:
            m = mask.unsqueeze(-1).to(h.dtype)  # (B, T) -> (B, T, 1)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
        if return_hidden:  # the head's input, for a chunked loss
            return ModelOutput(hidden=self.drop(pooled), logits=None)
        return _out(self.head(self.drop(pooled)), labels)


class CNNClassifier(AttnkitModel):
    WIDTHS = (3, 4, 5)

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        filters = cfg.d_ff or 100
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.d_model, filters, w, padding=w - 1) for w in self.WIDTHS)
        self.drop = Dropout(cfg.dropout)
        self.head = nn.Linear(filters * len(self.WIDTHS), _n_classes(cfg))

    def forward(self, ids: Tensor, *, padding_mask: Tensor | None = None, labels: Tensor | None = None):
        mask = _mask(ids, padding_mask, self.cfg.pad_id)
        x = (self.embed(ids) * mask.unsqueeze(-1)).transpose(1, 2)  # (B, T, C) -> (B, C, T)
        pooled = []
        for w, conv in zip(self.WIDTHS, self.convs, strict=True):
            y = F.relu(conv(x))  # (B, F, T + w - 1): output t covers inputs t-w+1 .. t
            # A window is real if it touches at least one real token; windows of only padding
            # are excluded from the max, so padding never changes the result.
            real = F.max_pool1d(F.pad(mask.float(), (w - 1, w - 1)).unsqueeze(1), w, stride=1) > 0
            pooled.append(y.masked_fill(~real, _NEG).amax(dim=-1))  # (B, F)
        return _out(self.head(self.drop(torch.cat(pooled, dim=-1))), labels)


class LSTMClassifier(AttnkitModel):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model % 2:
            raise ValueError(f"the BiLSTM classifier needs an even d_model, got {cfg.d_model}")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.lstm = nn.LSTM(
            cfg.d_model, cfg.d_model // 2, num_layers=cfg.n_layers, batch_first=True, bidirectional=True,
            dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
        )  # fmt: skip
        self.drop = Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.d_model, _n_classes(cfg))

    def forward(self, ids: Tensor, *, padding_mask: Tensor | None = None, labels: Tensor | None = None):
        mask = _mask(ids, padding_mask, self.cfg.pad_id)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.drop(self.embed(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # (B, T, C)
        pooled = h.masked_fill(~mask.unsqueeze(-1), _NEG).amax(dim=1)
        return _out(self.head(self.drop(pooled)), labels)


class FastTextClassifier(AttnkitModel):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size + cfg.ngram_buckets, cfg.d_model)
        self.head = nn.Linear(cfg.d_model, _n_classes(cfg))

    def forward(self, ids: Tensor, *, padding_mask: Tensor | None = None, labels: Tensor | None = None):
        mask = _mask(ids, padding_mask, self.cfg.pad_id)
        feats, fmask = ids, mask
        if self.cfg.ngram_buckets:
            # Hash each adjacent pair of ids into a bucket after the unigram rows of the table.
            pair = (ids[:, :-1] * 1_000_003 + ids[:, 1:]) % self.cfg.ngram_buckets + self.cfg.vocab_size
            feats = torch.cat([ids, pair], dim=1)  # (B, T) + (B, T-1) -> (B, 2T-1)
            fmask = torch.cat([mask, mask[:, :-1] & mask[:, 1:]], dim=1)
        m = fmask.unsqueeze(-1).to(self.embed.weight.dtype)
        pooled = (self.embed(feats) * m).sum(1) / m.sum(1).clamp(min=1)  # (B, C)
        return _out(self.head(pooled), labels)
