"""The tokenizer interface every attnkit task uses, and the special tokens all of them share.

Every tokenizer reserves the same four special tokens at the same ids, so models, batching and
decoding never special-case a tokenizer kind:

    0 <pad>   padding (never predicted: targets use -100)
    1 <unk>   anything outside the vocabulary
    2 <bos>   start of a sequence (decoder prompts, seq2seq targets)
    3 <eos>   end of a sequence / end of a line for word-level corpora

Tokenizers serialise to one JSON document (``to_dict``/``save``) that checkpoints store beside
the weights; its ``fingerprint`` lets a checkpoint refuse a tokenizer it was not trained with.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"``: half of a UTF-16 pair, not a character;
    it cannot be written as UTF-8) replaced by U+FFFD, the replacement character. A Python string
    never holds a valid pair, so every surrogate in one is lone."""
    return _SURROGATE.sub("\ufffd", text)


SPECIALS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


class Tokenizer(ABC):
    """Text <-> ids. Subclasses register themselves in :data:`TOKENIZERS` by ``kind``."""

    kind: str = ""
    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID
    specials = SPECIALS
    structural_ids = frozenset((PAD_ID, BOS_ID, EOS_ID))
    """Ids that ``decode(skip_special=True)`` drops; ``<unk>`` stays visible as text."""

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str: ...

    def special_tokens(self) -> dict[int, str]:
        """id -> spelling of every special token (attnkit's own: ids 0-3)."""
        return dict(enumerate(self.specials))

    def single_template(self) -> tuple[list[int], list[int]]:
        """The special ids a model reads before and after one whole text: ``([<bos>], [])`` for
        attnkit's own tokenizers; a pretrained tokenizer's own template (BERT: ``[CLS]``/``[SEP]``)."""
        return [self.bos_id], []

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """``encode`` of each text (subclasses may do it in parallel)."""
        return [self.encode(t) for t in texts]

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer: ...

    def _wrap(self, ids: list[int], add_bos: bool, add_eos: bool) -> list[int]:
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def fingerprint(self) -> str:
        """sha256 of the serialised tokenizer: equal fingerprints mean identical id mappings."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON, atomically."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"kind": self.kind, **self.to_dict()}, f, ensure_ascii=False)
        os.replace(tmp, p)


TOKENIZERS: dict[str, type[Tokenizer]] = {}


def register_tokenizer(cls: type[Tokenizer]) -> type[Tokenizer]:
    TOKENIZERS[cls.kind] = cls
    return cls


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer saved by :meth:`Tokenizer.save`.

    Raises:
        FileNotFoundError, ValueError: missing, unreadable or unknown-kind files.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {p}")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{p} is not a valid tokenizer JSON file: {e}") from None
    kind = d.pop("kind", None) if isinstance(d, dict) else None
    if kind not in TOKENIZERS:
        raise ValueError(f"{p}: unknown tokenizer kind {kind!r}; known: {', '.join(sorted(TOKENIZERS))}")
    return TOKENIZERS[kind].from_dict(d)
