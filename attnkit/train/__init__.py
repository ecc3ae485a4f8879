"""Training: the task-agnostic Trainer, optimizer/schedules, checkpoints, DDP plumbing."""

from attnkit.train.checkpoint import resolve_checkpoint, save_checkpoint
from attnkit.train.trainer import Trainer, TrainingError

__all__ = ["Trainer", "TrainingError", "resolve_checkpoint", "save_checkpoint"]
