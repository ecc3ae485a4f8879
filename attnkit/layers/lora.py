"""LoRA (Hu et al. 2021): a frozen linear layer plus a trainable low-rank update.

    y = W x + (alpha / r) * B (A x),   A: (r, in) ~ Kaiming, B: (out, r) = 0

B starts at zero, so a fresh adapter computes exactly the pretrained layer. Only A and B train;
``apply_lora`` freezes every other parameter of the model except the names it is told to keep
(a task head). Adapters are part of the model's config (``ModelConfig.lora_rank``), so a
checkpoint with adapters is rebuilt with them and loads like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LoRALinear(nn.Module):
    """``base(x) + scale * B(A(x))`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        if rank <= 0:
            raise ValueError(f"LoRA rank must be positive, got {rank}")
        self.base = base
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # nn.Linear's own init
        self.scale = alpha / rank

    @property
    def weight(self) -> Tensor:  # what code reading ``.weight`` of a projection expects
        return self.base.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale  # (…, in) -> (…, out)


def apply_lora(model: nn.Module, rank: int, alpha: float, targets: Sequence[str]) -> int:
    """Wrap every ``nn.Linear`` whose name ends with one of ``targets`` (e.g. ``q_proj``).

    Returns:
        the number of layers wrapped.

    Raises:
        ValueError: when no layer matches.
    """
    found = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and any(name.endswith(t) for t in targets)
    ]
    if not found:
        raise ValueError(f"lora_targets {list(targets)} match no linear layer")
    for name, m in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(m, rank, alpha))
    return len(found)


def freeze_for_lora(model: nn.Module, keep: Sequence[str] = ()) -> None:
    """Train only the adapters and the parameters whose names start with one of ``keep``."""
    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name or any(name.startswith(k) for k in keep)
