"""Tokenizer rules pinned by hand: specials, vocabulary building, decoding, chat prompts, files.

Written for `make mutate MODULE=attnkit/text` (docs/testing.md): each rule in the module
docstrings is checked on an input where breaking it changes the answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnkit.text import BPETokenizer, CharTokenizer, WordTokenizer, load_tokenizer
from attnkit.text.base import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID
from attnkit.text.bpe import has_cjk
from attnkit.text.chat import chat_messages, chatml, format_chat
from attnkit.text.pair import PairTokenizer


def test_the_four_specials_sit_at_ids_0_to_3_in_every_kind():
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert SPECIALS == ("<pad>", "<unk>", "<bos>", "<eos>")
    bpe = BPETokenizer.train(["hello world"] * 4, vocab_size=300)
    for tok in (CharTokenizer.train("ab"), WordTokenizer.train("a b"), bpe):
        assert tok.special_tokens() == {0: "<pad>", 1: "<unk>", 2: "<bos>", 3: "<eos>"}
        assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
        assert tok.encode("a", add_bos=True, add_eos=True)[0] == 2
        assert tok.encode("a", add_bos=True, add_eos=True)[-1] == 3
        assert tok.encode_batch(["a", "b a"]) == [tok.encode("a"), tok.encode("b a")]


def test_char_vocabulary_is_sorted_after_the_specials_and_unknowns_map_to_unk():
    tok = CharTokenizer.train("cabbage")
    assert tok.itos == [*SPECIALS, "a", "b", "c", "e", "g"]
    assert tok.encode("cab?") == [6, 4, 5, UNK_ID] and tok.vocab_size == 9
    assert tok.decode([6, PAD_ID, BOS_ID, 4, UNK_ID, EOS_ID]) == "ca<unk>"
    assert tok.decode([6, PAD_ID, 4], skip_special=False) == "c<pad>a"


def test_word_vocabulary_orders_by_count_then_spelling_and_respects_limits():
    text = "b a c a b a d"
    assert WordTokenizer.train(text).itos == [*SPECIALS, "a", "b", "c", "d"]
    assert WordTokenizer.train(text, min_freq=2).itos == [*SPECIALS, "a", "b"]
    assert WordTokenizer.train(text, max_size=6).itos == [*SPECIALS, "a", "b"]
    assert WordTokenizer.train(text, max_size=2).itos == list(SPECIALS)  # never below the specials
    assert WordTokenizer.train("<eos> x <unk> x").itos == [*SPECIALS, "x"]  # specials are not words


def test_word_lines_end_with_eos_and_decode_back_to_lines():
    tok = WordTokenizer.train("a b c")
    ids = tok.encode("a b\nc\n")
    assert ids == [4, 5, EOS_ID, 6, EOS_ID]
    assert tok.decode(ids) == "a b\nc\n"
    assert tok.decode([4, PAD_ID, 5, BOS_ID]) == "a b"
    assert tok.decode([4, PAD_ID, 5], skip_special=False) == "a <pad> b"


def test_vocabularies_without_the_specials_or_with_duplicates_are_refused():
    with pytest.raises(ValueError) as err:
        CharTokenizer(["a", "b"])
    assert str(err.value) == f"vocabulary must start with the special tokens {SPECIALS}"
    with pytest.raises(ValueError) as err:
        WordTokenizer([*SPECIALS, "x", "x"])
    assert str(err.value) == "vocabulary has duplicate tokens"


def test_fingerprints_follow_the_id_mapping(tmp_path):
    a, b = CharTokenizer.train("ab"), CharTokenizer.train("ba")
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 64
    assert CharTokenizer.train("abc").fingerprint() != a.fingerprint()
    a.save(tmp_path / "sub" / "tok.json")
    saved = json.loads((tmp_path / "sub" / "tok.json").read_text(encoding="utf-8"))
    assert saved == {"kind": "char", "vocab": a.itos}
    assert load_tokenizer(tmp_path / "sub" / "tok.json").fingerprint() == a.fingerprint()
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["tok.json"]  # no temporary left


def test_load_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_tokenizer(tmp_path / "none.json")
    assert str(err.value) == f"tokenizer file not found: {tmp_path / 'none.json'}"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "morse", "vocab": []}))
    with pytest.raises(ValueError) as err:
        load_tokenizer(bad)
    assert str(err.value) == f"{bad}: unknown tokenizer kind 'morse'; known: bpe, char, hf, pair, word"
    for text in ("[1, 2]", '{"vocab": []}'):  # not a dict; a dict without "kind"
        bad.write_text(text)
        with pytest.raises(ValueError, match="unknown tokenizer kind None"):
            load_tokenizer(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match=r"bad\.json is not a valid tokenizer JSON file"):
        load_tokenizer(bad)


def test_has_cjk_needs_a_tenth_of_the_characters():
    assert has_cjk(["abcdefghi我"])  # 1 of 10
    assert not has_cjk(["abcdefghij我"])  # 1 of 11
    assert not has_cjk([]) and not has_cjk([""])
    assert has_cjk(["㐀", "abc"]) and has_cjk(["丽"]) and has_cjk(["，"])  # ext. A, compat, punct
    assert not has_cjk(["ab", "我我我"], sample=1)  # only the first text is sampled


def test_bpe_refuses_a_vocabulary_without_the_specials_first():
    from tokenizers import Tokenizer as HF
    from tokenizers import models

    hf = HF(models.BPE(vocab={"a": 0, "<pad>": 1, "<unk>": 2, "<bos>": 3, "<eos>": 4}, merges=[]))
    with pytest.raises(ValueError) as err:
        BPETokenizer(hf)
    assert str(err.value) == "BPE vocabulary must map <pad> to id 0"


def test_bpe_keeps_special_spellings_as_text_and_skips_specials_on_request():
    tok = BPETokenizer.train(["a <eos> b"] * 5, vocab_size=300)
    ids = tok.encode("<eos>")
    assert EOS_ID not in ids and tok.decode(ids) == "<eos>"
    assert tok.decode([BOS_ID, *tok.encode("a b"), EOS_ID]) == "a b"
    assert tok.decode([BOS_ID, *tok.encode("a")], skip_special=False) == "<bos>a"


def test_chatml_prompt_exactly():
    msgs = chat_messages(["Hi", "Hello!", "How are you?"], system="Be brief.")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert chatml(msgs) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert chatml(msgs[:2], add_generation_prompt=False).endswith("Hi<|im_end|>\n")
    assert format_chat("chatml", ["Hi"], None) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(ValueError) as err:
        chatml([{"role": "tool", "content": "x"}])
    assert str(err.value) == "chat role must be system, user or assistant, got 'tool'"
    with pytest.raises(ValueError) as err:
        format_chat("llama", ["Hi"], None)
    assert str(err.value) == "unknown chat format 'llama'; known: ('chatml',)"


def test_has_cjk_samples_the_first_texts_and_sums_their_lengths():
    assert has_cjk(["我"] * 3000) is True  # more texts than the sample: still a plain bool
    assert not has_cjk(["abc"] * 2000 + ["我" * 100_000])  # the 2001st text is not sampled
    assert not has_cjk(["abcdefghijklmnopqrst", "我"])  # 1 of 21 characters


def test_pair_tokenizer_defaults_and_its_saved_form():
    src, tgt = CharTokenizer.train("abc"), CharTokenizer.train("xyz")
    pair = PairTokenizer(src, tgt)
    assert pair.encode("xy") == tgt.encode("xy")  # no specials unless asked
    assert pair.encode("xy", add_eos=True) == [*tgt.encode("xy"), EOS_ID]
    assert pair.decode([BOS_ID, *tgt.encode("xz"), EOS_ID]) == "xz"
    assert pair.decode([BOS_ID, *tgt.encode("x")], skip_special=False) == "<bos>x"
    assert pair.to_dict() == {
        "joint": False,
        "src": {"kind": "char", "vocab": src.itos},
        "tgt": {"kind": "char", "vocab": tgt.itos},
    }
    assert PairTokenizer(tgt, tgt).to_dict() == {"joint": True, "tgt": {"kind": "char", "vocab": tgt.itos}}
    bad = {"joint": True, "tgt": {"kind": "morse", "vocab": []}}
    with pytest.raises(ValueError) as err:
        PairTokenizer.from_dict(bad)
    assert str(err.value) == "pair tokenizer: unknown inner tokenizer kind 'morse'"
    with pytest.raises(ValueError, match="unknown inner tokenizer kind 'pair'"):  # no pairs in pairs
        PairTokenizer.from_dict({"joint": True, "tgt": {"kind": "pair", **pair.to_dict()}})


def test_format_chat_puts_the_system_turn_first():
    assert format_chat("chatml", ["Hi"], "Be brief.") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_stream_flush_releases_a_held_partial_character_and_the_stream_goes_on():
    from attnkit.text.stream import StreamDecoder

    bpe = BPETokenizer.train(["plain ascii text"] * 4, vocab_size=300)
    ids = bpe.encode("我a")  # three byte tokens for 我, then "a"
    stream = StreamDecoder(bpe)
    assert stream.push(ids[0]) == ""  # the first byte of 我 is held back
    assert stream.flush() == "\ufffd"  # what is left, shown as the replacement character
    assert stream.push(ids[-1]) == "a"  # and later tokens still stream


def test_word_vocabulary_is_by_count_before_spelling():
    assert WordTokenizer.train("z z z a b b").itos == [*SPECIALS, "z", "b", "a"]


def test_bpe_training_settings_reach_the_trainer(monkeypatch):
    import attnkit.text.bpe as bpe_module

    trainers = bpe_module.trainers  # the module object bpe.py calls (other imports may rebind the name)
    seen = {}
    real = trainers.BpeTrainer

    def spy(**kw):
        seen.update(kw)
        return real(**kw)

    monkeypatch.setattr(trainers, "BpeTrainer", spy)
    BPETokenizer.train(["ab ab"])
    assert (seen["vocab_size"], seen["min_frequency"], seen["show_progress"]) == (8000, 2, False)
    assert seen["special_tokens"] == list(SPECIALS)


def test_bpe_merges_words_not_spaces_and_chinese_runs_unless_split():
    twice = BPETokenizer.train(["ab ab"], vocab_size=300)
    assert len(twice.encode("ab")) == 1  # a pair seen twice merges at the default min_frequency 2
    spaced = BPETokenizer.train(["a b"] * 10, vocab_size=300)
    assert len(spaced.encode("a b")) >= 2  # the GPT-2 split keeps words apart
    run = BPETokenizer.train(["我们"] * 10, vocab_size=300)
    split = BPETokenizer.train(["我们"] * 10, vocab_size=300, split_cjk=True)
    assert len(run.encode("我们")) == 1 and len(split.encode("我们")) == 2


def test_build_tokenizer_by_kind():
    from attnkit.text import build_tokenizer

    assert build_tokenizer("char", "ba").itos == [*SPECIALS, "a", "b"]
    assert build_tokenizer("word", "x x y", min_freq=2).itos == [*SPECIALS, "x"]
    bpe = build_tokenizer("bpe", "ab ab\nab ab\n", vocab_size=261)  # 256 bytes + 4 specials + 1 merge
    assert bpe.vocab_size == 261 and bpe.encode("ab") == [260]
    assert bpe.decode(bpe.encode("ab ab\n")) == "ab ab\n"
    with pytest.raises(ValueError) as err:
        build_tokenizer("morse", "x")
    assert str(err.value) == "unknown tokenizer 'morse'; choose char, word or bpe"


def test_the_fingerprint_is_the_sha256_of_the_documented_serialisation():
    import hashlib

    tok = CharTokenizer.train("我a")
    blob = json.dumps({"vocab": tok.itos}, sort_keys=True, ensure_ascii=False).encode()
    assert tok.fingerprint() == hashlib.sha256(blob).hexdigest()  # checkpoints store this value


def test_save_writes_a_temporary_beside_the_target_then_renames_it(tmp_path, monkeypatch):
    import attnkit.text.base as base

    moves = []
    real = base.os.replace
    monkeypatch.setattr(base.os, "replace", lambda src, dst: moves.append((src, dst)) or real(src, dst))
    target = tmp_path / "deep" / "er" / "tok.json"
    CharTokenizer.train("ab").save(target)
    (src, dst), = moves
    src = Path(src)
    assert Path(dst) == target and src.parent == target.parent
    assert src.name.startswith(".tok.json.") and src.name.endswith(".tmp")
    assert json.loads(target.read_text(encoding="utf-8"))["kind"] == "char"
