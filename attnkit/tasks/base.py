"""The Task protocol: the trainer's only view of a task.

A task owns its data and tokenizer, and knows how to turn a batch into a loss and a split into
metrics. The trainer knows nothing else, which is what lets one loop train every application.
Batches are dicts of tensors whose first dimension is the batch; the trainer moves them to the
device and, under DDP, gives each process its share of rows.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.text.base import Tokenizer

Batch = dict[str, Tensor]


class Task(Protocol):
    family: str
    """Model family the task trains: 'decoder', 'encoder' or 'seq2seq'."""
    tokenizer: Tokenizer

    def model_config(self, base: ModelConfig) -> ModelConfig:
        """``base`` completed with what the data decides (vocab size, context length)."""
        ...

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        """A random training batch drawn with ``gen`` (identical on every DDP rank)."""
        ...

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        """Mean loss over the batch's predicted tokens, and how many tokens it covered."""
        ...

    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None) -> dict:
        """Metrics on ``split``; must include ``loss`` (lower is better)."""
        ...

    # Optional: ``split_names`` (the splits the data has), which ``attnkit eval`` uses to fall
    # back to ``valid`` when a dataset has no ``test`` split.
