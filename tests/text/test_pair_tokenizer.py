"""Pair tokenizers: joint/separate vocabularies, CJK-aware BPE, save/load, fingerprints."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from attnkit.text import BPETokenizer, PairTokenizer, has_cjk, load_tokenizer

ZH = ["我们今天去北京。", "他喜欢吃苹果和香蕉。", "你好，世界！", "这是一个测试句子。"] * 30
EN = ["We go to Beijing today.", "He likes apples and bananas.", "Hello, world!", "A test."] * 30


def test_split_cjk_never_merges_across_characters():
    tok = BPETokenizer.train(ZH, vocab_size=400, split_cjk=True)
    merged = BPETokenizer.train(ZH, vocab_size=400, split_cjk=False)
    for text in ZH[:4]:
        pieces = [tok.decode([i]) for i in tok.encode(text)]
        assert all(len(p) <= 1 for p in pieces if p and has_cjk([p])), pieces
        assert tok.decode(tok.encode(text)) == text
    # without the split, BPE learns multi-character Chinese tokens
    assert any(len(merged.decode([i])) > 1 for t in ZH[:4] for i in merged.encode(t))


@given(st.text(max_size=40))
def test_cjk_bpe_round_trips_any_text(text):
    tok = _TOK
    assert tok.decode(tok.encode(text)) == text


_TOK = BPETokenizer.train(ZH + EN, vocab_size=500, split_cjk=True)


def test_pair_tokenizer_joint_and_separate_save_load(tmp_path):
    joint = PairTokenizer(_TOK, _TOK)
    sep = PairTokenizer(BPETokenizer.train(ZH, 400, split_cjk=True), BPETokenizer.train(EN, 300))
    assert joint.joint and not sep.joint
    assert sep.src_vocab_size != sep.vocab_size
    for tok in (joint, sep):
        tok.save(tmp_path / "t.json")
        back = load_tokenizer(tmp_path / "t.json")
        assert isinstance(back, PairTokenizer) and back.joint == tok.joint
        assert back.fingerprint() == tok.fingerprint()
        assert back.encode_source(ZH[0]) == tok.encode_source(ZH[0])
        assert back.encode_source(ZH[0])[-1] == tok.eos_id
        assert back.encode(EN[0], add_bos=True)[0] == tok.bos_id
    assert joint.fingerprint() != sep.fingerprint()


def test_has_cjk():
    assert has_cjk(ZH) and not has_cjk(EN) and not has_cjk([])
