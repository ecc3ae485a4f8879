"""Character-level and word-level tokenizers, with vocabularies built from training text.

- ``char``: one id per Unicode code point. Decoding can never split a UTF-8 character because
  ids are whole characters. Characters unseen in training map to ``<unk>``.
- ``word``: whitespace-separated tokens, one ``<eos>`` per line (the WikiText convention);
  ``min_freq``/``max_size`` bound the vocabulary. Whitespace is normalised: decoding joins tokens
  with single spaces and turns ``<eos>`` back into a newline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from attnkit.text.base import SPECIALS, Tokenizer, register_tokenizer


class _VocabTokenizer(Tokenizer):
    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"vocabulary must start with the special tokens {SPECIALS}")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def to_dict(self) -> dict[str, Any]:
        return {"vocab": self.itos}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        return cls(d["vocab"])


@register_tokenizer
class CharTokenizer(_VocabTokenizer):
    """One token per character."""

    kind = "char"

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls([*SPECIALS, *sorted(set(text) - set(SPECIALS))])

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        unk = self.unk_id
        return self._wrap([self.stoi.get(c, unk) for c in text], add_bos, add_eos)

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        skip = self.structural_ids if skip_special else ()
        return "".join(self.itos[i] for i in ids if i not in skip)


@register_tokenizer
class WordTokenizer(_VocabTokenizer):
    """Whitespace words; each line ends with ``<eos>``."""

    kind = "word"

    @classmethod
    def train(cls, text: str, *, min_freq: int = 1, max_size: int | None = None) -> WordTokenizer:
        counts = Counter(text.split())
        for s in SPECIALS:
            counts.pop(s, None)
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *words])

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        unk, ids = self.unk_id, []
        lines = text.split("\n")
        for i, line in enumerate(lines):
            ids.extend(self.stoi.get(w, unk) for w in line.split())
            if i < len(lines) - 1:  # a newline ends the line
                ids.append(self.eos_id)
        return self._wrap(ids, add_bos, add_eos)

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        lines: list[str] = []
        line: list[str] = []
        for i in ids:
            if i == self.eos_id:
                lines.append(" ".join(line))
                line = []
            elif not (skip_special and i in self.structural_ids):
                line.append(self.itos[i])
        return "\n".join([*lines, " ".join(line)])
