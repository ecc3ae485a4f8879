"""Prompt templates for decoder-only pair tasks: the text they render and the ids they encode."""

from __future__ import annotations

import pytest

from attnkit.text import BPETokenizer, build_tokenizer
from attnkit.text.prompt import PromptTemplate

TEXTS = ["Tom lost his keys.", "Anna: are you coming?\nBen: yes, at eight.", "Summarize this.\n\n"]


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(TEXTS * 5, vocab_size=300)


def test_formats_render_as_documented():
    chat = PromptTemplate("chatml", "Summarize.", system="Be brief.")
    assert chat.head == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSummarize.\n\n"
    assert chat.tail == "<|im_end|>\n<|im_start|>assistant\n"
    assert PromptTemplate("chatml", "").head == "<|im_start|>user\n"  # no system, no instruction
    plain = PromptTemplate("plain", "Summarize.", answer="Summary:")
    assert plain.render("X") == "Summarize.\n\nX\nSummary:\n"
    assert PromptTemplate("plain", "").render("X") == "X\n"
    assert plain.to_fields() == {"prompt_format": "plain", "instruction": "Summarize.", "system": "",
                                 "answer": "Summary:"}  # fmt: skip
    with pytest.raises(ValueError, match="prompt format must be one of"):
        PromptTemplate("alpaca", "x")


def test_encode_is_head_source_tail_and_cuts_from_the_named_side(tok):
    t = PromptTemplate("plain", "Summarize.", answer="Summary:")
    head, tail, src = tok.encode(t.head), tok.encode(t.tail), tok.encode(TEXTS[1])
    assert t.encode(tok, TEXTS[1], 100) == ([tok.bos_id, *head, *src, *tail], False)
    assert t.encode(tok, src, 3) == ([tok.bos_id, *head, *src[:3], *tail], True)
    assert t.encode(tok, src, 3, keep="end") == ([tok.bos_id, *head, *src[-3:], *tail], True)
    assert t.encode(tok, src, len(src)) == ([tok.bos_id, *head, *src, *tail], False)  # exactly fits
    assert t.overhead(tok) == 1 + len(head) + len(tail)
    chat = PromptTemplate("chatml", "Summarize.")
    assert chat.encode(tok, src, 100)[0][: len(tok.encode(chat.head))] == tok.encode(chat.head)  # no <bos>
    assert chat.overhead(tok) == len(tok.encode(chat.head)) + len(tok.encode(chat.tail))
    t.check(tok)  # byte-level BPE spells any template
    chat.check(tok)


def test_a_template_the_tokenizer_cannot_spell_is_refused():
    words = build_tokenizer("word", "tom lost his keys")
    back = words.decode(words.encode("Summarize.\n\n"), skip_special=False)
    with pytest.raises(ValueError) as err:
        PromptTemplate("plain", "Summarize.").check(words)
    assert str(err.value) == (
        f"the plain prompt template's head 'Summarize.\\n\\n' does not round-trip through the tokenizer "
        f"(it reads back as {back!r}); use data.prompt_format=plain with a BPE tokenizer, or an "
        "instruction made of characters the tokenizer knows"
    )
    with pytest.raises(ValueError, match="chatml prompt template's tail"):
        PromptTemplate("chatml", "").check(build_tokenizer("char", "<|im_start|>user\n"))
