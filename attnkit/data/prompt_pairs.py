"""Batches of prompted pairs for decoder-only training: one sequence per pair, loss on the target.

Each example is ``prompt + target + <eos>`` as one row of ids. Teacher forcing shifts it by one::

    ids    = p1 ... pm  y1 ... yn <eos>
    input  = p1 ... pm  y1 ... yn              (B, L - 1)
    labels = -100 ...   y1 ... yn <eos>        (B, L - 1): the prompt and the padding carry no loss

Rows are right-padded: causality already hides the padding from every real token, so attention
runs its unmasked causal path. Training batches are length-bucketed the way
:class:`attnkit.data.seq2seq.PairData` draws them: examples sorted by length once, each batch a
run of neighbours from a random offset, so padding stays small (the fraction is reported by
:meth:`PromptPairs.padding_fraction`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from attnkit.data.seq2seq import IGNORE_INDEX, pad_batch


def prompt_batch(prompts: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], pad_id: int) -> dict:
    """``{"input": (B, L-1), "labels": (B, L-1)}`` for pairs whose targets end in ``<eos>``."""
    seqs = [[*p, *t] for p, t in zip(prompts, targets, strict=True)]
    ids = pad_batch(seqs, pad_id, min_len=2)
    labels = torch.full_like(ids, IGNORE_INDEX)
    for i, (p, t) in enumerate(zip(prompts, targets, strict=True)):
        labels[i, len(p) : len(p) + len(t)] = torch.as_tensor(t, dtype=torch.long)
    return {"input": ids[:, :-1], "labels": labels[:, 1:]}


class PromptPairs:
    """One split's (prompt ids, target ids + eos) pairs."""

    def __init__(self, prompts: list[list[int]], targets: list[list[int]], pad_id: int, name: str) -> None:
        if len(prompts) != len(targets):
            raise ValueError(f"{name}: {len(prompts)} prompts but {len(targets)} targets")
        if not prompts:
            raise ValueError(f"{name}: the split has no usable pairs")
        self.prompts, self.targets, self.pad_id, self.name = prompts, targets, pad_id, name
        self.order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(targets[i]))

    def __len__(self) -> int:
        return len(self.prompts)

    def length(self, i: int) -> int:
        return len(self.prompts[i]) + len(self.targets[i])

    def _batch(self, idx: Sequence[int]) -> dict[str, Tensor]:
        return prompt_batch([self.prompts[i] for i in idx], [self.targets[i] for i in idx], self.pad_id)

    def random_batch(self, batch_size: int, gen: torch.Generator) -> dict[str, Tensor]:
        bs = min(batch_size, len(self))
        start = int(torch.randint(0, len(self) - bs + 1, (1,), generator=gen))
        return self._batch(self.order[start : start + bs])

    def eval_batches(self, batch_size: int) -> Iterator[tuple[list[int], dict[str, Tensor]]]:
        """Every example once, in length order: ``(example indices, batch)``."""
        for s in range(0, len(self), batch_size):
            idx = self.order[s : s + batch_size]
            yield idx, self._batch(idx)

    def padding_fraction(self, batch_size: int) -> float:
        """Share of a bucketed batch's positions that are padding, over the whole split."""
        real = pad = 0
        for s in range(0, len(self), batch_size):
            lens = [self.length(i) for i in self.order[s : s + batch_size]]
            real += sum(lens)
            pad += max(lens) * len(lens) - sum(lens)
        return pad / max(real + pad, 1)
