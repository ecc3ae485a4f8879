"""Language-modeling batches from one long token stream.

Training samples random windows (nanoGPT's ``get_batch``): ``x = ids[i : i+T]``,
``y = ids[i+1 : i+T+1]``, with start offsets drawn from a ``torch.Generator`` whose state the
trainer checkpoints, so a resumed run sees exactly the batches an uninterrupted run would.
Evaluation walks the split in consecutive non-overlapping windows, so every token but the first
is predicted exactly once and perplexity covers the whole split.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


class TokenStream:
    """A split's token ids as one 1-D long tensor."""

    def __init__(self, ids: list[int] | Tensor, name: str = "train") -> None:
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        self.name = name
        if self.ids.dim() != 1:
            raise ValueError(f"token stream must be 1-D, got {tuple(self.ids.shape)}")

    def __len__(self) -> int:
        return self.ids.numel()

    def random_batch(self, batch_size: int, seq_len: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(B, T)`` inputs and next-token targets from random offsets."""
        if len(self) < seq_len + 1:
            raise ValueError(
                f"split {self.name!r} has {len(self)} tokens, fewer than seq_len + 1 = {seq_len + 1}"
            )
        starts = torch.randint(0, len(self) - seq_len, (batch_size,), generator=gen)
        offsets = torch.arange(seq_len + 1)
        windows = self.ids[starts[:, None] + offsets]  # (B,) x (T+1,) -> (B, T+1)
        return windows[:, :-1], windows[:, 1:]

    def eval_batches(self, batch_size: int, seq_len: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Consecutive windows covering the split; the last batch/window may be shorter."""
        n = len(self) - 1  # number of predictions
        starts = list(range(0, n, seq_len))
        for i in range(0, len(starts), batch_size):
            group = starts[i : i + batch_size]
            lens = [min(seq_len, n - s) for s in group]
            t = max(lens)
            x = torch.zeros(len(group), t, dtype=torch.long)
            y = torch.full((len(group), t), -100, dtype=torch.long)  # -100: nothing to predict
            for row, (s, ln) in enumerate(zip(group, lens, strict=True)):
                x[row, :ln] = self.ids[s : s + ln]
                y[row, :ln] = self.ids[s + 1 : s + ln + 1]
            yield x, y
