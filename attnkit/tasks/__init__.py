"""Tasks: what to train on and how to score it, on top of the model families."""

from attnkit.tasks.base import Task
from attnkit.tasks.lm import LanguageModelingTask

TASKS = {"lm": LanguageModelingTask}

__all__ = ["TASKS", "LanguageModelingTask", "Task"]
