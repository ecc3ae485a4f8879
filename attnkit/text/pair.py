"""Source/target tokenizer pairs for sequence-to-sequence tasks.

A :class:`PairTokenizer` is one :class:`Tokenizer` (it encodes and decodes the *target* side, so
generation and checkpoints treat it like any other) that also carries a ``src`` tokenizer for
the encoder. With a joint vocabulary both sides are the same object, which is what lets an
encoder-decoder share one embedding table; with separate vocabularies each side is trained on its
own language. Both serialise into one JSON document, so a checkpoint's fingerprint covers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attnkit.text.base import TOKENIZERS, Tokenizer, register_tokenizer


@register_tokenizer
class PairTokenizer(Tokenizer):
    kind = "pair"

    def __init__(self, src: Tokenizer, tgt: Tokenizer) -> None:
        self.src, self.tgt = src, tgt

    @property
    def joint(self) -> bool:
        return self.src is self.tgt

    @property
    def vocab_size(self) -> int:
        return self.tgt.vocab_size

    @property
    def src_vocab_size(self) -> int:
        return self.src.vocab_size

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        return self.tgt.encode(text, add_bos=add_bos, add_eos=add_eos)

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        return self.tgt.decode(ids, skip_special=skip_special)

    def encode_source(self, text: str, *, add_eos: bool = True) -> list[int]:
        return self.src.encode(text, add_eos=add_eos)

    def encode_sources(self, texts: Sequence[str], max_len: int) -> tuple[list[list[int]], int]:
        """``<eos>``-terminated source ids of at most ``max_len`` tokens each (longer texts keep
        their first ``max_len - 1``), and how many texts were cut. Training and inference share it."""
        out, cut = [], 0
        for ids in self.src.encode_batch(texts):
            cut += len(ids) > max_len - 1
            out.append([*ids[: max_len - 1], self.eos_id])
        return out, cut

    def to_dict(self) -> dict[str, Any]:
        tgt = {"kind": self.tgt.kind, **self.tgt.to_dict()}
        if self.joint:
            return {"joint": True, "tgt": tgt}
        return {"joint": False, "src": {"kind": self.src.kind, **self.src.to_dict()}, "tgt": tgt}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        def build(sub: dict[str, Any]) -> Tokenizer:
            sub = dict(sub)
            kind = sub.pop("kind")
            if kind not in TOKENIZERS or kind == cls.kind:
                raise ValueError(f"pair tokenizer: unknown inner tokenizer kind {kind!r}")
            return TOKENIZERS[kind].from_dict(sub)

        tgt = build(d["tgt"])
        return cls(tgt, tgt) if d.get("joint") else cls(build(d["src"]), tgt)
