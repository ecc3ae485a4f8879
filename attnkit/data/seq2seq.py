"""Batches of (source, target) token sequences for encoder-decoder training and decoding.

Both sides are right-padded with ``pad_id``. The target is split the teacher-forcing way::

    tgt_ids  = <bos> y1 y2 ... yn <eos>
    tgt_in   = <bos> y1 ... yn          (decoder input)
    tgt_out  = y1 ... yn <eos>          (labels; padding is -100 so the loss skips it)

Training draws length-bucketed batches: examples are sorted by length once, and each batch is a
run of ``batch_size`` neighbours starting at a random offset drawn from the trainer's seeded
generator. Neighbours have similar lengths, so little compute goes to padding, and every example
is still equally likely to be drawn (up to the ends of the sorted order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

IGNORE_INDEX = -100
"""The target id every loss skips (PyTorch's ``cross_entropy`` default)."""


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, *, min_len: int = 1) -> Tensor:
    """Right-pad lists of ids into a ``(B, max_len)`` long tensor."""
    n = max(min_len, max((len(s) for s in seqs), default=0))
    out = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out


def teacher_forcing(tgt: Sequence[Sequence[int]], pad_id: int) -> dict[str, Tensor]:
    """``{"tgt_in": (B, T), "tgt_out": (B, T)}`` from targets that each hold bos ... eos."""
    t = pad_batch(tgt, pad_id, min_len=2)
    tgt_out = t[:, 1:].clone()
    tgt_out[tgt_out == pad_id] = IGNORE_INDEX
    return {"tgt_in": t[:, :-1], "tgt_out": tgt_out}


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], pad_id: int) -> dict[str, Tensor]:
    """``{"src": (B, S), "tgt_in": (B, T), "tgt_out": (B, T)}``; each ``tgt`` holds bos ... eos."""
    return {"src": pad_batch(src, pad_id), **teacher_forcing(tgt, pad_id)}


class PairData:
    """One split's encoded pairs, with bucketed random batches and ordered evaluation batches."""

    def __init__(self, src: list[list[int]], tgt: list[list[int]], pad_id: int, name: str = "train") -> None:
        if len(src) != len(tgt):
            raise ValueError(f"{name}: {len(src)} sources but {len(tgt)} targets")
        if not src:
            raise ValueError(f"{name}: the split is empty")
        self.src, self.tgt, self.pad_id, self.name = src, tgt, pad_id, name
        # Sort key: source length, then target length, so buckets are tight on both sides.
        self.order = sorted(range(len(src)), key=lambda i: (len(src[i]), len(tgt[i])))

    def __len__(self) -> int:
        return len(self.src)

    def random_batch(self, batch_size: int, gen: torch.Generator) -> dict[str, Tensor]:
        bs = min(batch_size, len(self))
        start = int(torch.randint(0, len(self) - bs + 1, (1,), generator=gen))
        idx = self.order[start : start + bs]
        return make_batch([self.src[i] for i in idx], [self.tgt[i] for i in idx], self.pad_id)

    def eval_batches(self, batch_size: int) -> Iterator[tuple[list[int], dict[str, Tensor]]]:
        """Every example once, in length order: ``(example indices, batch)``."""
        for s in range(0, len(self), batch_size):
            idx = self.order[s : s + batch_size]
            yield idx, make_batch([self.src[i] for i in idx], [self.tgt[i] for i in idx], self.pad_id)
