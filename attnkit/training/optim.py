"""AdamW with decay groups, and learning-rate schedules.

Weight decay goes to 2-D (and larger) weights only: matmul weights and embeddings. Biases and
norm gains are 1-D and decaying them towards zero only hurts (nanoGPT, GPT-3 appendix B).
Tied weights are one parameter, so they appear once.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attnkit.config.run import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():  # parameters() already yields a tied weight once
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; the fused kernel on CUDA."""
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        fused=device.type == "cuda",
    )


def lr_at(step: int, cfg: TrainConfig, total: int | None = None) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then the schedule,
    which ends at ``total`` steps (default ``cfg.max_steps``)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "inverse_sqrt":
        # Noam: peak at the end of warmup, then lr * sqrt(warmup / step).
        return cfg.lr * math.sqrt(max(cfg.warmup_steps, 1) / max(step + 1, 1))
    span = max(1, (total or cfg.max_steps) - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))
