"""Prototype classification with sentence embeddings (an encoder checkpoint such as MiniLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from attnkit.fewshot.labels import LabelSet
from attnkit.tasks.classify import label_results


class EmbeddingClassifier:
    """Nearest prototype by cosine similarity.

    Zero-shot prototypes are the embeddings of the label descriptions; :meth:`fit` replaces each
    class's prototype by the normalised mean embedding of its examples (a class without
    examples keeps its description). Probabilities are a softmax of similarity / temperature.
    """

    def __init__(self, lm, labels: LabelSet, *, temperature: float = 0.05) -> None:
        if "embed" not in lm.verbs:
            raise ValueError(
                f"prototype classification needs an embedding model, got a {lm.cfg.task!r} model"
            )
        self.lm, self.labels, self.temperature = lm, labels, temperature
        self.prototypes = lm.embed(labels.descriptions)  # (K, C)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> EmbeddingClassifier:
        unknown = sorted(set(labels) - set(self.labels.names))
        if unknown:
            raise ValueError(f"examples have labels outside {self.labels.names}: {unknown[:5]}")
        if texts:
            e = self.lm.embed(list(texts))
            for k, name in enumerate(self.labels.names):
                rows = [i for i, y in enumerate(labels) if y == name]
                if rows:
                    self.prototypes[k] = torch.nn.functional.normalize(e[rows].mean(0), dim=-1)
        return self

    def predict_proba(self, texts: Sequence[str]) -> Tensor:
        sims = self.lm.embed(list(texts)) @ self.prototypes.T  # (N, C) @ (C, K) -> (N, K)
        return torch.softmax(sims / self.temperature, dim=-1)

    def prompt(self, text: str) -> str:
        """What the model reads for ``text`` (the text itself: prototypes need no prompt)."""
        return text

    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return label_results(self.labels.names, self.predict_proba(texts))
