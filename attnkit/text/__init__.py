"""Tokenizers: char, word and byte-level BPE, with one set of special tokens."""

from attnkit.text.base import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    TOKENIZERS,
    UNK_ID,
    Tokenizer,
    load_tokenizer,
)
from attnkit.text.bpe import BPETokenizer, has_cjk
from attnkit.text.hf import HFTokenizer
from attnkit.text.pair import PairTokenizer
from attnkit.text.simple import CharTokenizer, WordTokenizer
from attnkit.text.stream import StreamDecoder

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "SPECIALS",
    "TOKENIZERS",
    "UNK_ID",
    "BPETokenizer",
    "CharTokenizer",
    "HFTokenizer",
    "PairTokenizer",
    "StreamDecoder",
    "Tokenizer",
    "WordTokenizer",
    "build_tokenizer",
    "has_cjk",
    "load_tokenizer",
]


def build_tokenizer(kind: str, train_text: str, **kwargs) -> Tokenizer:
    """Train a tokenizer of ``kind`` ('char', 'word', 'bpe') on ``train_text``."""
    if kind == "char":
        return CharTokenizer.train(train_text)
    if kind == "word":
        return WordTokenizer.train(train_text, **kwargs)
    if kind == "bpe":
        return BPETokenizer.train(train_text.splitlines(keepends=True), **kwargs)
    raise ValueError(f"unknown tokenizer {kind!r}; choose char, word or bpe")
