"""The predictor interface, and what every predictor shares: verbs, evaluation, eval mode."""

from __future__ import annotations

from typing import Any

from attnkit.models.base import eval_mode

__all__ = ["Predictor", "eval_mode"]


class Predictor:
    """Runs the verbs of one task kind on a loaded model (``lm``: model, tokenizer, cfg, manifest,
    kind). Subclasses add one method per verb they serve; what they do not define, the loaded
    model refuses with a ValueError."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm

    def verbs(self) -> tuple[str, ...]:
        """The verbs this model serves: its kind's, less any it lacks what for (see subclasses)."""
        return self.lm.kind.verbs

    def refuse(self, verb: str, why: str = "") -> ValueError:
        """The error for a verb this model does not serve, naming the task and its verbs."""
        served = ", ".join(self.verbs())
        return ValueError(f"this model's task is {self.lm.cfg.task!r}; it serves {served}, not {verb}{why}")

    def evaluate(
        self,
        split: str = "test",
        max_batches: int | None = None,
        *,
        decode: bool = True,
        limit: int | None = None,
        **decode_overrides: Any,
    ) -> dict:
        """The task's metrics on ``split``: its loss and what its ``evaluate`` reports, plus, for
        models that generate and unless ``decode=False``, the scores of their outputs on the
        first ``limit`` examples (see :meth:`decoded_scores`)."""
        if self.lm.manifest.get("pretrained"):
            name = self.lm.manifest["pretrained"]
            raise ValueError(
                f"{name} is a pretrained {self.lm.cfg.task!r} model with no recipe data to score it on; "
                f"it serves {', '.join(self.verbs())}. Fine-tune it (init_from: {name}) and evaluate "
                "that checkpoint"
            )
        m = self.lm.task.evaluate(self.lm.model, split, self.lm.cfg.train.batch_size, max_batches)
        return {**m, **self.decoded_scores(split, limit, **decode_overrides)} if decode else m

    def decoded_scores(self, split: str, limit: int | None, **decode: Any) -> dict:
        """Scores of the model's own outputs on ``split`` (none for models that only score)."""
        return {}
