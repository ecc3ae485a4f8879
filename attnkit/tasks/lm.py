"""Language modeling: predict the next token of a corpus.

Metrics: cross-entropy per token in nats (``loss``), perplexity exp(loss), bits per token
loss/ln 2, and, because a "token" means a character, a word or a BPE piece depending on the
tokenizer, the unit is named (``unit``) and bits per character (``bpc``) is given for every
tokenizer so runs with different tokenizers compare.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.config.run import DataConfig, RunConfig
from attnkit.data.datasets import Splits, load_dataset, load_text_files
from attnkit.data.lm import TokenStream
from attnkit.data.seq2seq import IGNORE_INDEX
from attnkit.models.base import eval_mode
from attnkit.tasks.base import Batch
from attnkit.tasks.losses import output_loss
from attnkit.text import Tokenizer, build_tokenizer

UNITS = {"char": "character", "word": "word (incl. <eos> per line)", "bpe": "BPE token"}


def load_corpus(data: DataConfig) -> Splits:
    if data.dataset is not None:
        return load_dataset(data.dataset)
    if data.train_file is None:
        raise ValueError("set data.dataset to a registered dataset, or data.train_file to your own text")
    return load_text_files(data.train_file, data.valid_file, data.test_file)


class LanguageModelingTask:
    """Next-token prediction over a corpus, with any tokenizer."""

    family = "decoder"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer | None = None, splits: Splits | None = None):
        self.cfg = cfg
        self.splits = splits if splits is not None else load_corpus(cfg.data)
        if tokenizer is None:
            d = cfg.data
            kw = {"bpe": {"vocab_size": d.bpe_vocab_size}, "word": {"min_freq": d.min_freq}}.get(
                d.tokenizer, {}
            )
            tokenizer = build_tokenizer(d.tokenizer, self.splits["train"], **kw)
        self.tokenizer = tokenizer
        self.streams = {k: TokenStream(tokenizer.encode(v), k) for k, v in self.splits.items()}
        self.unit = UNITS.get(getattr(tokenizer, "kind", ""), "token")

    def model_config(self, base: ModelConfig) -> ModelConfig:
        return dataclasses.replace(
            base,
            vocab_size=self.tokenizer.vocab_size,
            max_seq_len=max(base.max_seq_len, self.cfg.data.seq_len),
        )

    @property
    def split_names(self) -> list[str]:
        return list(self.streams)

    def stream(self, split: str) -> TokenStream:
        if split not in self.streams:
            raise ValueError(f"split {split!r} not in this corpus; available: {', '.join(self.streams)}")
        return self.streams[split]

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        x, y = self.stream("train").random_batch(batch_size, self.cfg.data.seq_len, gen)
        return {"x": x, "y": y}

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        def run(hidden: bool) -> Tensor:
            if hidden:  # the head's input (B, T, C)
                return model(batch["x"], return_hidden=True).hidden
            return model(batch["x"]).logits  # (B, T, V)

        loss = output_loss(model, self.cfg.train.loss_impl, run, batch["y"], label_smoothing)
        return loss, int((batch["y"] != IGNORE_INDEX).sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None = None) -> dict:
        """Summed (not averaged per batch) cross-entropy, so short last windows weigh correctly."""
        with eval_mode(model):
            device = next(model.parameters()).device
            total, count = 0.0, 0
            stream = self.stream(split)
            for i, (x, y) in enumerate(stream.eval_batches(batch_size, self.cfg.data.seq_len)):
                if max_batches is not None and i >= max_batches:
                    break
                x, y = x.to(device), y.to(device)
                logits = model(x).logits
                total += F.cross_entropy(
                    logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
                ).item()
                count += int((y != IGNORE_INDEX).sum())
        loss = total / max(count, 1)
        chars = len(self.splits[split]) * count / max(len(stream) - 1, 1)  # chars covered
        return {
            "loss": loss,
            "ppl": math.exp(min(loss, 50.0)),
            "bits_per_token": loss / math.log(2),
            "bpc": total / math.log(2) / max(chars, 1),
            "tokens": count,
            "unit": self.unit,
            "split": split,
        }
