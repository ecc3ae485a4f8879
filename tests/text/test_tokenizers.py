"""Tokenizers: round trips (Chinese, emoji, mixed), specials, streaming, save/load."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnkit.text import (
    BPETokenizer,
    CharTokenizer,
    StreamDecoder,
    WordTokenizer,
    build_tokenizer,
    load_tokenizer,
)
from attnkit.text.base import SPECIALS

MIXED = "To be, or not to be 生存还是毁灭，这是一个问题 😀👍🏽👨‍👩‍👧 naïve café Ωμέγα\n"
# Text without U+FFFD (the decoder's marker for an incomplete character) or surrogates.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffd"), max_size=60)


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train([MIXED * 20, "hello world " * 50], vocab_size=400, min_frequency=2)


@given(text=TEXT)
def test_char_round_trip_any_text(text):
    tok = CharTokenizer.train(text + "x")
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_bpe_round_trip_any_text(bpe, text):
    ids = bpe.encode(text)
    assert bpe.unk_id not in ids  # byte-level: nothing is unknown
    assert bpe.decode(ids) == text


@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_streaming_never_splits_a_character(bpe, text):
    dec = StreamDecoder(bpe)
    chunks = [dec.push(i) for i in bpe.encode(text)]
    chunks.append(dec.flush())
    assert "".join(chunks) == text
    assert all("\ufffd" not in c for c in chunks)


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_special_token_text_is_plain_text(kind, bpe):
    text = "say <bos> then <eos> and <pad>"
    tok = bpe if kind == "bpe" else CharTokenizer.train(text)
    ids = tok.encode(text)
    assert tok.bos_id not in ids and tok.eos_id not in ids and tok.pad_id not in ids
    assert tok.decode(ids) == text


def test_mixed_chinese_emoji_round_trip(bpe):
    assert bpe.decode(bpe.encode(MIXED)) == MIXED
    char = CharTokenizer.train(MIXED)
    assert char.decode(char.encode(MIXED)) == MIXED
    multi_byte = [i for i in bpe.encode("😀") if len(bpe.decode([i])) == 0 or "\ufffd" in bpe.decode([i])]
    assert multi_byte  # one emoji spans several byte-level tokens: the stream decoder is needed


@given(
    words=st.lists(
        # The word level reserves the special spellings: "<eos>" is its line break (WikiText's
        # convention), so a literal "<eos>" word decodes as one. Such words are not round-trip input.
        st.text(
            st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=8
        ).filter(lambda w: w not in SPECIALS),
        min_size=1,
        max_size=12,
    )
)
def test_word_round_trip_normalised_whitespace(words):
    text = " ".join(words) + "\n" + " ".join(reversed(words))
    tok = WordTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == text


def test_stream_with_prompt_prefix_emits_the_joining_space():
    tok = WordTokenizer.train("the cat sat\n")
    dec = StreamDecoder(tok, prefix=tok.encode("the"))
    assert [dec.push(i) for i in tok.encode("cat sat")] == [" cat", " sat"]
    char = CharTokenizer.train("ab")
    dec = StreamDecoder(char, prefix=char.encode("ab"))
    assert dec.push(char.encode("b")[0]) == "b"


def test_word_unknowns_eos_and_limits():
    tok = WordTokenizer.train("a a a b b c\n", min_freq=2)
    assert tok.encode("a c\nb") == [4, tok.unk_id, tok.eos_id, 5]
    assert tok.decode(tok.encode("a c\nb")) == "a <unk>\nb"
    assert WordTokenizer.train("a b c d", max_size=6).vocab_size == 6


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_specials_are_uniform_and_save_load_round_trips(kind, tmp_path):
    tok = build_tokenizer(kind, MIXED * 5, **({"vocab_size": 300} if kind == "bpe" else {}))
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    ids = tok.encode("To be 生存", add_bos=True, add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert "<bos>" not in tok.decode(ids) and "<eos>" not in tok.decode(ids)
    tok.save(tmp_path / "tok.json")
    back = load_tokenizer(tmp_path / "tok.json")
    assert type(back) is type(tok) and back.fingerprint() == tok.fingerprint()
    assert back.encode(MIXED) == tok.encode(MIXED)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer file not found"):
        load_tokenizer(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"kind": "sentencepiece"}')
    known = "bpe, char, hf, pair, word"
    with pytest.raises(ValueError, match=f"unknown tokenizer kind 'sentencepiece'; known: {known}"):
        load_tokenizer(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_bytes(b"\xff\x00")
    with pytest.raises(ValueError, match="not a valid tokenizer JSON"):
        load_tokenizer(tmp_path / "junk.json")
    with pytest.raises(ValueError, match="unknown tokenizer 'sp'"):
        build_tokenizer("sp", "x")
