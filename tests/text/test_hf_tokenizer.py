"""HFTokenizer (a pretrained model's own tokenizer.json) on tiny vocabularies built here:
role ids wherever the vocabulary puts them, the fallbacks when a role is missing, padding and
truncation switched off, specials added only on request, and the refusals."""

from __future__ import annotations

import pytest
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

from attnkit.text import load_tokenizer
from attnkit.text.hf import HFTokenizer

VOCAB = {"[PAD]": 0, "hello": 1, "world": 2, "[UNK]": 3, "[CLS]": 4, "[SEP]": 5, "big": 6}
BERT = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[CLS]", "eos": "[SEP]"}


def _core(vocab=VOCAB, unk="[UNK]") -> Tokenizer:
    core = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.add_special_tokens([AddedToken(t, special=True) for t in ("[PAD]", "[CLS]", "[SEP]")])
    return core


def test_roles_take_the_vocabulary_s_own_ids():
    tok = HFTokenizer(_core(), BERT)
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 3, 4, 5)
    assert tok.vocab_size == 7 and tok.token_to_id("big") == 6 and tok.token_to_id("nope") is None
    assert tok.encode("hello big world") == [1, 6, 2]
    assert tok.encode("hello", add_bos=True, add_eos=True) == [4, 1, 5]
    assert tok.encode("hello nope") == [1, 3]
    assert tok.encode_batch(["hello", "big world"]) == [[1], [6, 2]]
    assert tok.special_tokens() == {0: "[PAD]", 4: "[CLS]", 5: "[SEP]", 3: "[UNK]"}
    assert tok.structural_ids == frozenset({0, 4, 5})


def test_decode_drops_the_structural_ids_unless_asked_and_keeps_unk():
    tok = HFTokenizer(_core(), BERT)
    assert tok.decode([4, 1, 3, 2, 5, 0]) == "hello [UNK] world"
    assert tok.decode([4, 1, 5], skip_special=False) == "[CLS] hello [SEP]"


def test_missing_roles_fall_back_to_eos_then_pad():
    tok = HFTokenizer(_core(), {"eos": "[SEP]"})
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (5, 5, 5, 5)
    tok = HFTokenizer(_core(), {"pad": "[PAD]", "eos": "[SEP]"})
    assert (tok.pad_id, tok.unk_id, tok.bos_id) == (0, 0, 5)


def test_padding_and_truncation_in_the_file_are_switched_off():
    core = _core()
    core.enable_padding(pad_id=0, pad_token="[PAD]", length=6)
    core.enable_truncation(max_length=2)
    tok = HFTokenizer(core, BERT)
    assert tok.encode("hello big world") == [1, 6, 2]
    assert core.padding is None and core.truncation is None


def test_refusals_name_the_token_and_the_role():
    with pytest.raises(ValueError) as err:
        HFTokenizer(_core(), {**BERT, "bos": "<s>"})
    assert str(err.value) == "special token '<s>' (the bos role) is not in this vocabulary"
    with pytest.raises(ValueError) as err:
        HFTokenizer(_core(), {"pad": "[PAD]"})
    assert str(err.value) == "a pretrained tokenizer needs an eos token (what ends an input)"


def test_save_load_and_from_file_round_trip(tmp_path):
    tok = HFTokenizer(_core(), BERT)
    tok.save(tmp_path / "t.json")
    again = load_tokenizer(tmp_path / "t.json")
    assert isinstance(again, HFTokenizer) and again.roles == BERT
    assert again.fingerprint() == tok.fingerprint() and again.encode("world big") == [2, 6]
    _core().save(str(tmp_path / "tokenizer.json"))
    from_file = HFTokenizer.from_file(tmp_path / "tokenizer.json", BERT)
    assert from_file.encode("hello", add_eos=True) == [1, 5] and from_file.eos_id == 5


def test_encode_never_applies_the_files_post_processor():
    from tokenizers import processors

    core = _core()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 4), ("[SEP]", 5)]
    )
    assert core.encode("hello").ids == [4, 1, 5]  # what the library would add on its own
    tok = HFTokenizer(core, BERT)
    assert tok.encode("hello") == [1] and tok.encode_batch(["hello", "world"]) == [[1], [2]]
    assert tok.encode("hello", add_bos=True, add_eos=True) == [4, 1, 5]


def test_single_template_is_the_post_processor_s_own():
    from tokenizers import processors

    tok = HFTokenizer(_core(), BERT)
    assert tok.single_template() == ([4], [])  # no post-processor: <bos> first, as attnkit's own
    core = _core()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 4), ("[SEP]", 5)]
    )
    assert HFTokenizer(core, BERT).single_template() == ([4], [5])
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] [PAD] $A [SEP] [SEP]", special_tokens=[("[CLS]", 4), ("[PAD]", 0), ("[SEP]", 5)]
    )
    assert HFTokenizer(core, BERT).single_template() == ([4, 0], [5, 5])
    core.post_processor = processors.TemplateProcessing(single="$A [SEP]", special_tokens=[("[SEP]", 5)])
    assert HFTokenizer(core, BERT).single_template() == ([], [5])
    from attnkit.text import build_tokenizer

    assert build_tokenizer("char", "ab").single_template() == ([2], [])  # attnkit's <bos> = 2


def test_single_template_refuses_a_post_processor_that_rewrites_the_text():
    class Rewrites:  # a stand-in core whose "post-processor" changes the text's own ids
        def encode(self, text, add_special_tokens=True):
            return type("E", (), {"ids": [4, 9, 5] if add_special_tokens else [1]})()

    tok = HFTokenizer(_core(), BERT)
    tok.core = Rewrites()
    with pytest.raises(ValueError) as err:
        tok.single_template()
    assert str(err.value) == (
        "this tokenizer's post-processor changes the text's own ids; cannot split its template"
    )
