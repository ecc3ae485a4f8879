"""Training: the task-agnostic Trainer, optimizer/schedules, checkpoints, DDP plumbing."""

from attnkit.training.checkpoint import resolve_checkpoint, save_checkpoint
from attnkit.training.trainer import Trainer, TrainingError

__all__ = ["Trainer", "TrainingError", "resolve_checkpoint", "save_checkpoint"]
