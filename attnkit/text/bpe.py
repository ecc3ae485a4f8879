"""Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant), trained with HF ``tokenizers``.

Byte-level means every string, Chinese and emoji included, encodes without ``<unk>`` and decodes
back exactly. A single token may hold part of a multi-byte character, so decoding a *prefix* of
the ids can end mid-character; :class:`attnkit.text.stream.StreamDecoder` holds such bytes back
so streamed output never shows a broken character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from attnkit.text.base import SPECIALS, Tokenizer, register_tokenizer


@register_tokenizer
class BPETokenizer(Tokenizer):
    """Byte-level BPE with attnkit's four special tokens at ids 0-3."""

    kind = "bpe"

    def __init__(self, hf: HFTokenizer) -> None:
        for i, s in enumerate(SPECIALS):
            if hf.token_to_id(s) != i:
                raise ValueError(f"BPE vocabulary must map {s} to id {i}")
        self.hf = hf
        # Text that happens to contain "<eos>" is text: only encode(add_eos=True) makes specials.
        self.hf.encode_special_tokens = True

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2) -> BPETokenizer:
        hf = HFTokenizer(models.BPE())
        # Byte-level without the GPT-2 regex splitting keeps CJK runs mergeable.
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer=trainer)
        return cls(hf)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        return self._wrap(self.hf.encode(text, add_special_tokens=False).ids, add_bos, add_eos)

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special)

    def to_dict(self) -> dict[str, Any]:
        return {"hf": self.hf.to_str()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        return cls(HFTokenizer.from_str(d["hf"]))
