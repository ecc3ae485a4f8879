"""Faithfulness of attributions: delete (or insert) input tokens in the order a method ranks them
and watch the model's probability of its own prediction.

For each example and each explained output row ``r`` (a label; each target or continuation
token), the input tokens are sorted by the method's score for ``r`` (highest first) and, at each
fraction ``k/10`` of the tokens:

- deletion: the top-ranked fraction is removed (its embeddings set to the zero baseline, as
  occlusion and IG do); a faithful ranking makes ``p_r`` fall fast. AOPC = mean over fractions
  of ``p_full - p_k`` (higher is better; Samek et al. 2017);
- insertion: only the top-ranked fraction is kept; a faithful ranking makes ``p_r`` rise fast.
  The area under the curve (mean of ``p_k``) is reported (higher is better).

At 0% deletion the input is whole (``p_full``); at 100% every token is the baseline (``p_empty``);
insertion runs the other way. A random order (``--random-orders`` seeds, 3 by default) is the
baseline every method must beat; its spread over seeds is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from attnkit.attribution.target import Target

FRACTIONS = [k / 10 for k in range(11)]


@dataclass
class Curves:
    """Mean deletion and insertion curves (one value per fraction) over every explained row."""

    deletion: list[float] = field(default_factory=lambda: [0.0] * len(FRACTIONS))
    insertion: list[float] = field(default_factory=lambda: [0.0] * len(FRACTIONS))
    rows: int = 0

    def add(self, deletion: Tensor, insertion: Tensor) -> None:
        """Add per-row curves ``(R, F)``."""
        self.deletion = [a + float(b) for a, b in zip(self.deletion, deletion.sum(0), strict=True)]
        self.insertion = [a + float(b) for a, b in zip(self.insertion, insertion.sum(0), strict=True)]
        self.rows += deletion.shape[0]

    def mean(self) -> tuple[list[float], list[float]]:
        n = max(self.rows, 1)
        return [x / n for x in self.deletion], [x / n for x in self.insertion]

    def aopc(self) -> float:
        d, _ = self.mean()
        return sum(d[0] - x for x in d) / len(d)

    def insertion_auc(self) -> float:
        return sum(self.mean()[1]) / len(FRACTIONS)


@torch.no_grad()
def curves(t: Target, scores: Tensor, *, batch: int = 64) -> tuple[Tensor, Tensor]:
    """Per-row deletion and insertion probabilities ``(R, F)`` for a ranking ``scores`` ``(R, S)``."""
    e = t.embeddings()  # (1, S, C)
    n_rows, s = scores.shape
    counts = [round(f * s) for f in FRACTIONS]
    order = scores.argsort(dim=1, descending=True, stable=True)  # (R, S): most important first
    variants, picks = [], []  # one input per (row, fraction, kind); its row to read
    for r in range(n_rows):
        for kind in ("deletion", "insertion"):
            for c in counts:
                top = torch.zeros(s, dtype=torch.bool)
                top[order[r, :c]] = True
                keep = ~top if kind == "deletion" else top  # (S,) tokens left as they are
                variants.append(keep)
                picks.append(r)
    probs = []
    for v0 in range(0, len(variants), batch):
        keep = torch.stack(variants[v0 : v0 + batch]).to(e.device)  # (k, S)
        x = e * keep[..., None].to(e.dtype)  # (1, S, C) * (k, S, 1) -> (k, S, C)
        lp = t.score(x)  # (k, R)
        rows = torch.tensor(picks[v0 : v0 + batch], device=e.device)
        probs.append(lp.gather(1, rows[:, None])[:, 0].exp().float().cpu())
    p = torch.cat(probs).view(n_rows, 2, len(FRACTIONS))  # (R·2·F,) -> (R, 2, F)
    return p[:, 0], p[:, 1]


def random_scores(shape: tuple[int, int], seed: int) -> Tensor:
    """A random ranking per row (the baseline)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen)
