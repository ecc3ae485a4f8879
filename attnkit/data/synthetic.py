"""Synthetic long-range tasks for the long-range study: copy, associative recall, induction heads.

Each task makes next-token batches for a causal model:

    ids (B, T), targets (B, T) (-100 where nothing is asked), distance (B, T) (-1 likewise)

``distance[b, t]`` is how far back from position ``t`` the token that answers ``targets[b, t]``
sits (the answer cannot be inferred from anything nearer), so accuracy can be read against
dependency distance. Batches are drawn from a seeded ``torch.Generator``: the same seed gives the
same data on every machine. The vocabulary layout of each task is fixed (``vocab_size``) so a
model built for a task fits every length.

- ``copy``: ``<bos> x1..xn <sep> x1..xn``; after ``<sep>`` predict the copy. Distance n for
  every target. Tokens repeat (vocabulary of 32), so position, not content, must drive the
  lookup.
- ``recall``: multi-query associative recall (after Arora et al. 2023, "Zoology"): P = min(4,
  T/4) key-value pairs, then noise with each key asked once at a random place (followed by its
  value); after each asked key predict its value. Distances spread from 1 to T. Longer
  sequences carry the same P questions, so they give fewer answers per training token.
- ``induction``: random tokens with one trigger followed by a token X somewhere; the sequence ends
  with the trigger, and the target is X (Fu et al. 2023, "H3", section 3.1). Distance = the span
  from X to the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnkit.data.seq2seq import IGNORE_INDEX


@dataclass(frozen=True)
class Batch:
    ids: Tensor  # (B, T) long
    targets: Tensor  # (B, T) long, IGNORE_INDEX where nothing is asked
    distance: Tensor  # (B, T) long, -1 where nothing is asked


def _empty(b: int, t: int) -> tuple[Tensor, Tensor]:
    return torch.full((b, t), IGNORE_INDEX, dtype=torch.long), torch.full((b, t), -1, dtype=torch.long)


# --- copy -------------------------------------------------------------------------------------
COPY_SYMBOLS = 32
COPY_BOS, COPY_SEP = COPY_SYMBOLS, COPY_SYMBOLS + 1


def copy_batch(batch_size: int, seq_len: int, gen: torch.Generator) -> Batch:
    n = (seq_len - 1) // 2  # [<bos>]? + n + <sep> + n tokens fill seq_len
    if n < 1:
        raise ValueError(f"copy needs seq_len >= 3, got {seq_len}")
    x = torch.randint(0, COPY_SYMBOLS, (batch_size, n), generator=gen)
    sep = torch.full((batch_size, 1), COPY_SEP)
    parts = [x, sep, x]
    if 2 * n + 1 < seq_len:  # even seq_len: one <bos> in front keeps the length exact
        parts.insert(0, torch.full((batch_size, 1), COPY_BOS))
    ids = torch.cat(parts, dim=1)
    targets, distance = _empty(batch_size, seq_len)
    start = seq_len - n - 1  # the <sep> position predicts x1
    targets[:, start : seq_len - 1] = x
    distance[:, start : seq_len - 1] = n
    return Batch(ids, targets, distance)


# --- multi-query associative recall -------------------------------------------------------------
RECALL_KEYS, RECALL_VALUES, RECALL_NOISE = 64, 64, 16
MAX_PAIRS = 4


def recall_batch(batch_size: int, seq_len: int, gen: torch.Generator) -> Batch:
    pairs = min(MAX_PAIRS, seq_len // 4)
    if pairs < 1:
        raise ValueError(f"associative recall needs seq_len >= 4, got {seq_len}")
    noise_lo = RECALL_KEYS + RECALL_VALUES
    ids = torch.randint(noise_lo, noise_lo + RECALL_NOISE, (batch_size, seq_len), generator=gen)
    targets, distance = _empty(batch_size, seq_len)
    slots = (seq_len - 2 * pairs) // 2  # two-token slots after the context; `pairs` of them ask
    for b in range(batch_size):
        keys = torch.randperm(RECALL_KEYS, generator=gen)[:pairs]
        values = RECALL_KEYS + torch.randint(0, RECALL_VALUES, (pairs,), generator=gen)
        ids[b, 0 : 2 * pairs : 2] = keys
        ids[b, 1 : 2 * pairs : 2] = values
        # Each key is asked once, so its value's only earlier occurrence is in the context (the
        # last question could be answered by elimination: chance is above 1/P there).
        asked = torch.randperm(pairs, generator=gen)
        where = 2 * pairs + 2 * torch.randperm(slots, generator=gen)[:pairs].sort().values
        ids[b, where] = keys[asked]
        ids[b, where + 1] = values[asked]
        targets[b, where] = values[asked]
        distance[b, where] = where - 1 - 2 * asked  # the value sits one after its key
    return Batch(ids, targets, distance)


# --- induction heads ----------------------------------------------------------------------------
INDUCTION_SYMBOLS = 32
INDUCTION_TRIGGER = INDUCTION_SYMBOLS


def induction_batch(batch_size: int, seq_len: int, gen: torch.Generator) -> Batch:
    if seq_len < 4:
        raise ValueError(f"induction needs seq_len >= 4, got {seq_len}")
    ids = torch.randint(0, INDUCTION_SYMBOLS, (batch_size, seq_len), generator=gen)
    pos = torch.randint(0, seq_len - 3, (batch_size,), generator=gen)  # trigger; X at pos + 1
    rows = torch.arange(batch_size)
    ids[rows, pos] = INDUCTION_TRIGGER
    ids[:, -1] = INDUCTION_TRIGGER
    targets, distance = _empty(batch_size, seq_len)
    targets[:, -1] = ids[rows, pos + 1]
    distance[:, -1] = seq_len - 1 - (pos + 1)
    return Batch(ids, targets, distance)


TASKS = {
    "copy": (copy_batch, COPY_SYMBOLS + 2),
    "recall": (recall_batch, RECALL_KEYS + RECALL_VALUES + RECALL_NOISE),
    "induction": (induction_batch, INDUCTION_SYMBOLS + 1),
}
"""name -> (batch function, vocabulary size)."""


def make_batch(task: str, batch_size: int, seq_len: int, gen: torch.Generator) -> Batch:
    """One batch of ``task``; raises ``ValueError`` naming the known tasks for an unknown one."""
    if task not in TASKS:
        raise ValueError(f"unknown synthetic task {task!r}; choose from {sorted(TASKS)}")
    return TASKS[task][0](batch_size, seq_len, gen)
