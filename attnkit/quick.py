"""One-call helpers over loaded models: zero-/few-shot classification and the attention view.

import attnkit
mini = attnkit.load("minilm")
attnkit.zero_shot(mini, ["a gripping, beautiful film"], "positive,negative")
attnkit.show_attention(mini, "a gripping, beautiful film", "viz/minilm")   # -> attention.html
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attnkit.api import LoadedModel
from attnkit.fewshot import parse_labels, zero_shot_classifier
from attnkit.viz import export_view, inspect_attention


def zero_shot(model: LoadedModel, texts: Sequence[str], labels: str) -> list[dict[str, Any]]:
    """Label ``texts`` with a pretrained encoder (prototypes) or LM (label-word scoring).

    ``labels``: ``"positive,negative"`` or ``"positive=a glowing review; negative=…"``.
    """
    return zero_shot_classifier(model, parse_labels(labels)).classify(list(texts))


def few_shot(
    model: LoadedModel, texts: Sequence[str], labels: str, shots: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """As :func:`zero_shot`, learning from labelled ``(text, label)`` examples first."""
    clf = zero_shot_classifier(model, parse_labels(labels))
    clf.fit([t for t, _ in shots], [y for _, y in shots])
    return clf.classify(list(texts))


def show_attention(model: LoadedModel, text: str, out_dir: str | os.PathLike, **kw: Any) -> Path:
    """Run ``model``'s task on ``text`` and write its attention views; returns ``attention.html``.

    Keyword arguments go to :func:`attnkit.viz.inspect_attention` (``layers``, ``heads``,
    ``max_new_tokens``, …); per-head PNGs are skipped (the HTML holds every head).
    """
    export_view(inspect_attention(model, text, **kw), out_dir, per_head=False)
    return Path(out_dir) / "attention.html"
