"""torchrun/DDP plumbing: process-group setup and helpers that are no-ops in one process.

Under ``torchrun --nproc_per_node N`` every process samples the *same* global batch (same
seeded generator) and keeps rows ``rank::N``; DDP averages gradients. With equal tokens per row
that equals the one-process gradient of the whole batch, which the DDP test checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size())


def shard(batch: dict[str, torch.Tensor], info: DistInfo) -> dict[str, torch.Tensor]:
    """This process's rows of a global batch."""
    if info.world == 1:
        return batch
    b = next(iter(batch.values())).shape[0]
    if b % info.world:
        raise ValueError(f"global batch_size {b} is not divisible by the {info.world} processes")
    return {k: v[info.rank :: info.world] for k, v in batch.items()}


def mean_across(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.world == 1:
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x / info.world


def agree_min(value: float, info: DistInfo) -> float:
    """The smallest ``value`` over all processes: decisions from each process's own clock (the
    time budget, a fitted schedule) must be the same everywhere, or one rank waits forever in
    the next all-reduce."""
    if info.world == 1:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return float(t.item())


def cleanup(info: DistInfo) -> None:
    """Leave the process group together: every rank waits for the others (rank 0 still writes
    checkpoints and the loss plot) before any rank closes its connections."""
    if info.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
