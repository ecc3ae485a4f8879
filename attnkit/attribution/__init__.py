"""Attributions: which input tokens a prediction rests on, by seven methods on one table.

``attnkit.attribution(lm, text, method="ig", target=None)`` returns an :class:`Attribution`: scores
``(R, S)``, one row per explained output (the label; each continuation or target token) and one
column per input token, with both sides' labels. Methods (see ``gradients.py`` and
``attention.py``): ``grad_input``, ``ig``, ``occlusion``, ``attention``, ``rollout``,
``value_norm``, ``attention_grad``. ``attnkit study faithfulness`` measures which of them the
model's own predictions bear out (:mod:`attnkit.attribution.faithfulness`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from attnkit.attribution import attention as attention_methods
from attnkit.attribution import gradients
from attnkit.attribution.target import BATCH, Target, build_target
from attnkit.viz.streams import METHOD_TITLES

METHODS = ("grad_input", "ig", "occlusion", "attention", "rollout", "value_norm", "attention_grad")
TITLES = METHOD_TITLES


@dataclass
class Attribution:
    method: str
    scores: Tensor
    """``(R, S)``: output rows by input tokens; signed for gradient methods and occlusion."""
    inputs: list[str]
    outputs: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return TITLES[self.method]

    def stream(self):
        """The scores as a one-layer, one-head attention stream for the viewer: magnitudes,
        scaled to the largest (the signs stay in :attr:`scores`)."""
        from attnkit.viz.streams import AttentionStream

        mag = self.scores.abs()
        mag = mag / mag.max().clamp_min(1e-12)
        return AttentionStream(
            f"attr_{self.method}",
            mag[None, None, None],
            [0],
            [0],
            list(self.outputs),
            list(self.inputs),
            method=self.method,
        )  # (R, S) -> (L=1, B=1, H=1, R, S)


def attribute(t: Target, method: str, *, steps: int = 32, batch: int = BATCH) -> tuple[Tensor, dict]:
    """``(scores (R, S), info)`` of ``method`` for a built target."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "ig":
        return gradients.integrated_gradients(t, steps=steps, batch=batch)
    if method == "grad_input":
        return gradients.grad_input(t, batch=batch), {}
    if method == "occlusion":
        return gradients.occlusion(t, batch=batch), {"baseline": "zero embedding"}
    if method == "attention_grad":
        return attention_methods.attention_grad(t, batch=batch), {}
    return getattr(attention_methods, method)(t), {}


def explain(lm: Any, text: str, method: str = "ig", target: str | None = None, **kw: Any) -> Attribution:
    """Attribute ``lm``'s prediction for ``text`` (or ``target``: a label, continuation or target
    text) to the input tokens. ``steps`` (IG), ``batch`` (copies per pass), ``max_new_tokens``."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    t = build_target(lm, text, target, max_new_tokens=kw.pop("max_new_tokens", 16))
    with torch.enable_grad():
        scores, info = attribute(t, method, **kw)
    return Attribution(method, scores, t.input_labels, t.output_labels, info)


__all__ = ["METHODS", "Attribution", "attribute", "build_target", "explain"]
