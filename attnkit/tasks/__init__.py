"""Tasks: what to train on and how to score it, on top of the model families.

:mod:`attnkit.tasks.registry` declares each task kind once (its Task class, verbs, predictor,
attention view and evaluation report); everything above reads it.
"""

from attnkit.tasks.base import Task
from attnkit.tasks.classify import ClassificationTask
from attnkit.tasks.lm import LanguageModelingTask
from attnkit.tasks.registry import TASKS, VERBS, TaskKind, Verb, get_task_kind, register_task, task_names
from attnkit.tasks.seq2seq import Seq2SeqTask
from attnkit.tasks.speech import SpeechTask

__all__ = [
    "TASKS",
    "VERBS",
    "ClassificationTask",
    "LanguageModelingTask",
    "Seq2SeqTask",
    "SpeechTask",
    "Task",
    "TaskKind",
    "Verb",
    "get_task_kind",
    "register_task",
    "task_names",
]
