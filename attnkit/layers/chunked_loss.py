"""Cross-entropy over an output head without the full logits: ``train.loss_impl: chunked``.

The plain loss materialises ``(N, V)`` logits, their fp32 copy, the log-softmax and, in the
backward pass, the gradient of each: at vocab 50k and 4,096 rows that is several GB, most of a
small model's peak memory. Here the rows go through the head ``chunk`` at a time. For each chunk
the forward pass computes the logits in fp32, the loss (log-sum-exp in fp32) and at once the
gradient of the loss with respect to the chunk's hidden states and to the head's weight and bias
(``softmax - target``, as Liger-Kernel's fused linear cross-entropy does), then frees the chunk.
The backward pass only scales the stored gradients by the incoming one. Peak memory is one chunk of
logits plus the gradients the head needs anyway.

Equal to ``F.cross_entropy(hidden @ weight.T + bias, targets, ignore_index, label_smoothing)``
(mean over the non-ignored rows) within float rounding, in value and in gradients (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100


class _ChunkedCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, smoothing):
        n, v = hidden.shape[0], weight.shape[0]
        valid = targets != IGNORE_INDEX
        count = int(valid.sum())
        denom = max(count, 1)
        need_h, need_w = hidden.requires_grad, weight.requires_grad
        grad_h = torch.zeros_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
        grad_b = torch.zeros(v, dtype=torch.float32, device=weight.device) if bias is not None else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for s in range(0, n, chunk):
            h = hidden[s : s + chunk]  # (c, C)
            t = targets[s : s + chunk]
            ok = t != IGNORE_INDEX
            logits = F.linear(h, weight, bias).float()  # (c, C) -> (c, V), fp32 for the log-sum-exp
            lse = torch.logsumexp(logits, dim=-1)  # (c,)
            tt = t.clamp_min(0)
            picked = logits.gather(1, tt[:, None])[:, 0]
            row = lse - (1 - smoothing) * picked - smoothing * logits.mean(-1)
            total += (row * ok).sum()
            # d loss / d logits = softmax - (1-ε)·onehot - ε/V, for valid rows, / count; the
            # softmax is written over the logits, so a chunk holds one (c, V) buffer, not two.
            g = logits.sub_(lse[:, None]).exp_()
            g.scatter_add_(1, tt[:, None], torch.full_like(picked[:, None], -(1 - smoothing)))
            g -= smoothing / v
            g *= (ok.float() / denom)[:, None]
            gl = g.to(h.dtype)
            if need_h:
                grad_h[s : s + chunk] = gl @ weight  # (c, V) @ (V, C) -> (c, C)
            if need_w:
                grad_w += g.t() @ h.float()  # (V, c) @ (c, C) -> (V, C)
            if grad_b is not None:
                grad_b += g.sum(0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        return total / denom

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        w_dtype, b_dtype = ctx.dtypes
        gh = grad_h * grad_out.to(grad_h.dtype) if grad_h is not None else None
        gw = (grad_w * grad_out).to(w_dtype) if grad_w is not None else None
        gb = (grad_b * grad_out).to(b_dtype) if grad_b is not None else None
        return gh, gw, gb, None, None, None


def chunked_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    bias: Tensor | None = None,
    *,
    chunk: int = 512,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Mean cross-entropy of ``hidden`` ``(N, C)`` through the head ``weight`` ``(V, C)`` (+ ``bias``)
    against ``targets`` ``(N,)`` (-100 = ignored), ``chunk`` rows at a time."""
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1] or weight.shape[1] != hidden.shape[1]:
        raise ValueError(
            f"chunked cross-entropy takes hidden (N, C), weight (V, C), targets (N,); got "
            f"{tuple(hidden.shape)}, {tuple(weight.shape)}, {tuple(targets.shape)}"
        )
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    return _ChunkedCE.apply(hidden, weight, bias, targets, chunk, label_smoothing)
