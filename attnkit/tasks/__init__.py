"""Tasks: what to train on and how to score it, on top of the model families."""

from attnkit.tasks.base import Task
from attnkit.tasks.classify import ClassificationTask
from attnkit.tasks.lm import LanguageModelingTask
from attnkit.tasks.seq2seq import Seq2SeqTask
from attnkit.tasks.speech import SpeechTask

TASKS = {
    "lm": LanguageModelingTask,
    "translation": Seq2SeqTask,
    "summarization": Seq2SeqTask,
    "dialogue": Seq2SeqTask,
    "classification": ClassificationTask,
    "speech": SpeechTask,
}

__all__ = ["TASKS", "ClassificationTask", "LanguageModelingTask", "Seq2SeqTask", "SpeechTask", "Task"]
