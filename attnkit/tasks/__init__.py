"""Tasks: what to train on and how to score it, on top of the model families."""

from attnkit.tasks.base import Task
from attnkit.tasks.classify import ClassificationTask
from attnkit.tasks.lm import LanguageModelingTask
from attnkit.tasks.seq2seq import Seq2SeqTask

TASKS = {
    "lm": LanguageModelingTask,
    "translation": Seq2SeqTask,
    "summarization": Seq2SeqTask,
    "dialogue": Seq2SeqTask,
    "classification": ClassificationTask,
}

__all__ = ["TASKS", "ClassificationTask", "LanguageModelingTask", "Seq2SeqTask", "Task"]
