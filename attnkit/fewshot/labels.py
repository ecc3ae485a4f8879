"""Label sets (names, descriptions, verbalizers) and seeded k-shot sampling."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class LabelSet:
    """Class names in output order, each with a description (for embeddings) and a verbalizer
    (the word a language model should say for it)."""

    names: list[str]
    descriptions: list[str]
    verbalizers: list[str]

    def __post_init__(self) -> None:
        if len(self.names) < 2:
            raise ValueError(f"classification needs at least two labels, got {self.names}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"labels must be distinct, got {self.names}")
        if not (len(self.names) == len(self.descriptions) == len(self.verbalizers)):
            raise ValueError("one description and one verbalizer per label")

    @classmethod
    def of(cls, names: Sequence[str], descriptions=None, verbalizers=None) -> LabelSet:
        names = [n.strip() for n in names]
        return cls(names, list(descriptions or names), list(verbalizers or names))


def parse_labels(spec: str) -> LabelSet:
    """``"positive,negative"`` or ``"positive=a glowing review; negative=a scathing review"``.

    With ``=`` the items are separated by ``;`` (descriptions may contain commas) and the text
    after ``=`` is the description the embedding model compares against; the name is the
    verbalizer the language model scores.
    """
    if not spec or not spec.strip():
        raise ValueError('--labels is empty; give e.g. --labels "positive,negative"')
    items = [x.strip() for x in (spec.split(";") if "=" in spec else spec.split(",")) if x.strip()]
    names, descriptions = [], []
    for item in items:
        name, _, desc = item.partition("=")
        if not name.strip():
            raise ValueError(f"label item {item!r} has no name (expected name or name=description)")
        names.append(name.strip())
        descriptions.append(desc.strip() or name.strip())
    return LabelSet.of(names, descriptions)


def sample_shots(
    texts: Sequence[str], labels: Sequence[str], k: int, seed: int, classes: Sequence[str]
) -> tuple[list[str], list[str]]:
    """``k`` examples per class, drawn with ``random.Random(seed)``, interleaved by class.

    Raises:
        ValueError: a class with fewer than ``k`` examples.
    """
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {c: [] for c in classes}
    for i, y in enumerate(labels):
        if y in by_class:
            by_class[y].append(i)
    picked: dict[str, list[int]] = {}
    for c, idx in by_class.items():
        if len(idx) < k:
            raise ValueError(f"class {c!r} has {len(idx)} examples, fewer than k={k}")
        picked[c] = rng.sample(idx, k)
    # Round-robin over classes, in a fresh random class order each round: balanced, and no class
    # is always the last (most recent) example a language model reads.
    order = []
    for j in range(k):
        round_classes = list(classes)
        rng.shuffle(round_classes)
        order += [picked[c][j] for c in round_classes]
    return [texts[i] for i in order], [labels[i] for i in order]
