"""AdamW with decay groups, and learning-rate schedules.

Weight decay goes to 2-D (and larger) weights only: matmul weights and embeddings. Biases and
norm gains are 1-D and decaying them towards zero only hurts (nanoGPT, GPT-3 appendix B).
Tied weights are one parameter, so they appear once.

Layer-wise learning-rate decay (``train.layer_lr_decay``, ULMFiT's discriminative fine-tuning
as ELECTRA and BEiT use it): block ``i`` of ``L`` (counted from 1) learns at
``lr * decay ** (L + 1 - i)``, the parameters before the first block (embeddings) at
``lr * decay ** (L + 1)``, and those after the last (final norm, head) at ``lr``. A pretrained
encoder's lower layers hold general features that a small labelled set should move least.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from attnkit.config.run import TrainConfig

_BLOCK = re.compile(r"(?:^|\.)(?:blocks|layers)\.(\d+)\.")


def layer_depths(model: nn.Module) -> dict[str, int]:
    """Parameter name -> depth: 0 before the first ``layers.i`` (or ``blocks.i``), ``i + 1``
    inside block ``i``, ``L + 1`` after the last block (in registration order)."""
    names = [n for n, _ in model.named_parameters()]  # a tied weight once, at its first name
    blocks = [int(m.group(1)) for n in names if (m := _BLOCK.search(n))]
    if not blocks:  # no stack of blocks (a CNN, fastText): one depth, the full rate
        return dict.fromkeys(names, 0)
    top = max(blocks) + 2
    depths, seen_block = {}, False
    for n in names:
        m = _BLOCK.search(n)
        seen_block = seen_block or m is not None
        depths[n] = int(m.group(1)) + 1 if m else (top if seen_block else 0)
    return depths


def param_groups(model: nn.Module, weight_decay: float, layer_lr_decay: float = 1.0) -> list[dict]:
    """AdamW groups: decay / no decay, and with ``layer_lr_decay < 1`` one pair per depth,
    each carrying its ``lr_scale`` (the trainer sets ``lr = schedule * lr_scale``)."""
    depths = layer_depths(model) if layer_lr_decay != 1.0 else {}
    top = max(depths.values(), default=0)
    groups: dict[tuple[int, bool], list] = {(top, True): [], (top, False): []}  # always these two
    for name, p in model.named_parameters():  # named_parameters() already yields a tied weight once
        if not p.requires_grad:
            continue
        groups.setdefault((depths.get(name, top), p.dim() >= 2), []).append(p)
    return [
        {"params": ps, "weight_decay": weight_decay if decays else 0.0,
         "lr_scale": layer_lr_decay ** (top - depth)}
        for (depth, decays), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1]))
    ]  # fmt: skip


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's ``lr`` times each group's ``lr_scale`` (1 without layer-wise decay)."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; the fused kernel on CUDA."""
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay, cfg.layer_lr_decay),
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
