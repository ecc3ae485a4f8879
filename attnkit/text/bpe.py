"""Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant), trained with HF ``tokenizers``.

Byte-level means every string, Chinese and emoji included, encodes without ``<unk>`` and decodes
back exactly. A single token may hold part of a multi-byte character, so decoding a *prefix* of
the ids can end mid-character; :class:`attnkit.text.stream.StreamDecoder` holds such bytes back
so streamed output never shows a broken character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from attnkit.text.base import SPECIALS, Tokenizer, register_tokenizer, replace_surrogates

# CJK ideographs (+ extension A, compatibility), CJK punctuation and full-width forms.
CJK_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"


def has_cjk(texts: Iterable[str], sample: int = 2000) -> bool:
    """True when a sample of ``texts`` is at least 10% CJK characters."""
    import re

    pat = re.compile(CJK_CHAR)
    n = cjk = 0
    for i, t in enumerate(texts):
        if i >= sample:
            break
        n += len(t)
        cjk += len(pat.findall(t))
    return n > 0 and cjk / n >= 0.1


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
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        min_frequency: int = 2,
        *,
        split_cjk: bool = False,
    ) -> BPETokenizer:
        """Learn merges from ``texts``.

        ``split_cjk`` isolates every CJK character before BPE, so merges never span two Chinese
        characters: the GPT-2 split treats a whole run of Han characters as one "word", and
        merges across it would produce tokens tied to one sentence's segmentation.
        """
        hf = HFTokenizer(models.BPE())
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        if split_cjk:
            cjk = pre_tokenizers.Split(Regex(CJK_CHAR), behavior="isolated")
            hf.pre_tokenizer = pre_tokenizers.Sequence([cjk, byte_level])
        else:
            hf.pre_tokenizer = byte_level
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
        ids = self.hf.encode(replace_surrogates(text), add_special_tokens=False).ids
        return self._wrap(ids, add_bos, add_eos)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        clean = [replace_surrogates(t) for t in texts]
        return [e.ids for e in self.hf.encode_batch(clean, add_special_tokens=False)]

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special)

    def to_dict(self) -> dict[str, Any]:
        return {"hf": self.hf.to_str()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        return cls(HFTokenizer.from_str(d["hf"]))
