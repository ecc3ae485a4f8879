"""Predictors: run a task's verbs on a loaded model.

Each task kind in :mod:`attnkit.tasks.registry` names its predictor; ``attnkit.load`` builds it,
and :class:`attnkit.api.LoadedModel`'s verb methods (``generate``, ``translate``, ``classify``,
…) delegate to it. A verb the predictor does not serve is a ValueError naming the task and the
verbs it has.
"""

from attnkit.predict.base import Predictor, eval_mode

__all__ = ["Predictor", "eval_mode"]
