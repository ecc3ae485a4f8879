"""Gradient and perturbation attributions over input token embeddings.

Each returns ``(R, S)``: for every explained output row (a label, a continuation or target token)
one score per input token. Memory stays bounded on long inputs: every forward/backward holds at
most ``batch`` copies of the input, whatever the number of rows or integration steps.

- ``grad_input``: ``(∂f_r/∂e_j) · e_j`` summed over the embedding dimension (Shrikumar et al.;
  Denil et al. 2014).
- ``integrated_gradients``: ``(e_j - e'_j) · mean_k ∂f_r/∂e_j(e' + α_k (e - e'))`` with the zero
  embedding as baseline ``e'`` and the midpoint rule over ``steps`` values of α (Sundararajan et al.
  2017). Completeness: the attributions of a row sum to ``f_r(e) - f_r(e')``; the relative gap is
  reported.
- ``occlusion``: ``f_r(e) - f_r(e with token j's embedding set to the baseline)``, one token at a
  time (leave-one-out on the embedding, so positions and masks are unchanged).

``f_r`` is the log-probability of output row ``r`` (see :mod:`attnkit.attribution.target`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnkit.attribution.target import BATCH, Target


def _row_grads(t: Target, embeds: Tensor, rows: Tensor) -> Tensor:
    """``∂f_{rows[b]}/∂e`` of copy ``b`` for a batch of embeddings ``(B, S, C)``; one backward."""
    e = embeds.detach().requires_grad_(True)
    scores = t.score(e)  # (B, R)
    picked = scores.gather(1, rows[:, None]).sum()
    (grad,) = torch.autograd.grad(picked, e)
    return grad


def grad_input(t: Target, *, batch: int = BATCH) -> Tensor:
    e = t.embeddings()  # (1, S, C)
    n_rows = len(t.output_ids)
    out = torch.zeros(n_rows, t.n_inputs)
    for r0 in range(0, n_rows, batch):
        rows = torch.arange(r0, min(n_rows, r0 + batch), device=e.device)
        g = _row_grads(t, e.expand(len(rows), -1, -1), rows)  # (k, S, C)
        out[rows.cpu()] = (g * e).sum(-1).float().cpu()
    return out


def integrated_gradients(t: Target, *, steps: int = 32, batch: int = BATCH) -> tuple[Tensor, dict]:
    """``(attributions (R, S), info)`` with the completeness check in ``info``."""
    if steps < 1:
        raise ValueError(f"integrated gradients needs steps >= 1, got {steps}")
    e = t.embeddings()  # (1, S, C)
    base = torch.zeros_like(e)
    n_rows = len(t.output_ids)
    alphas = (torch.arange(steps, dtype=e.dtype, device=e.device) + 0.5) / steps  # midpoint rule
    # Every (row, step) pair is one copy of the input; at most `batch` copies per backward.
    pairs = [(r, k) for r in range(n_rows) for k in range(steps)]
    total = torch.zeros(n_rows, *e.shape[1:], dtype=e.dtype, device=e.device)  # (R, S, C)
    for p0 in range(0, len(pairs), batch):
        chunk = pairs[p0 : p0 + batch]
        rows = torch.tensor([r for r, _ in chunk], device=e.device)
        a = alphas[[k for _, k in chunk]][:, None, None]  # (k, 1, 1)
        g = _row_grads(t, base + a * (e - base), rows)  # (k, S, C)
        total.index_add_(0, rows, g)
    attr = ((e - base) * total / steps).sum(-1).float().cpu()  # (R, S, C) -> (R, S)
    with torch.no_grad():
        diff = (t.score(e) - t.score(base))[0].float().cpu()  # (R,)
    gap = float((attr.sum(-1) - diff).abs().sum() / diff.abs().sum().clamp_min(1e-12))
    return attr, {"steps": steps, "baseline": "zero embedding", "completeness_gap": gap}


@torch.no_grad()
def occlusion(t: Target, *, batch: int = BATCH) -> Tensor:
    e = t.embeddings()  # (1, S, C)
    full = t.score(e)[0].float().cpu()  # (R,)
    s = t.n_inputs
    out = torch.zeros(len(t.output_ids), s)
    for j0 in range(0, s, batch):
        js = list(range(j0, min(s, j0 + batch)))
        masked = e.expand(len(js), -1, -1).clone()  # (k, S, C)
        masked[torch.arange(len(js)), js] = 0.0  # copy i loses token js[i]
        out[:, js] = full[:, None] - t.score(masked).float().cpu().t()  # (R, k)
    return out
