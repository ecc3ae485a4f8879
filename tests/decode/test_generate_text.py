"""``generate_ids`` / ``generate_text`` on a scripted language model.

The scripted model ignores its input and emits a fixed script of token ids, one per step, so
every chunk that ``generate_text`` yields is known: the exact chunk boundaries (no empty
chunks, nothing held back without a stop string, stop strings anywhere in the text, the tail
held back for a stop string and released at the end), and ``generate_ids``' checks of its
prompt and its context policy. Written for the mutants that survived `make mutate
MODULE=attnkit/decode` (docs/testing.md).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from attnkit.config import DecodeConfig
from attnkit.decode import generate_ids, generate_text
from attnkit.text import CharTokenizer, WordTokenizer

CHARS = CharTokenizer.train("abcdefghxyz.")


class _Steps:
    def __init__(self) -> None:
        self.n = 0


class ScriptLM(nn.Module):
    """Emits ``script[i]`` at generation step ``i`` (then <eos>), whatever the prompt; records
    every prompt it is prefilled with."""

    def __init__(self, script: list[int], eos: int, vocab: int, context_limit: int | None = None):
        super().__init__()
        self.script, self.eos, self.vocab = script, eos, vocab
        self.anchor = nn.Parameter(torch.zeros(1))
        self.prefills: list[list[int]] = []
        if context_limit is not None:
            self.context_limit = context_limit

    def new_cache(self, rows: int, max_len: int) -> _Steps:
        return _Steps()

    def forward(self, ids, cache):
        if cache.n == 0:
            self.prefills.append(ids[0].tolist())
        i = cache.n
        cache.n += 1
        tok = self.script[i] if i < len(self.script) else self.eos
        logits = torch.full((ids.shape[0], ids.shape[1], self.vocab), -20.0)
        logits[:, -1, tok] = 20.0
        return SimpleNamespace(logits=logits)


def _lm(text: str, tok=CHARS, **kw) -> ScriptLM:
    return ScriptLM(tok.encode(text), tok.eos_id, tok.vocab_size, **kw)


def _chunks(text: str, prompt: str = "a", tok=CHARS, **cfg) -> list[str]:
    dcfg = DecodeConfig(**{"max_new_tokens": 20, "temperature": 0, **cfg})
    return list(generate_text(_lm(text, tok), tok, prompt, dcfg))


def test_without_stop_strings_every_character_comes_out_at_once():
    assert _chunks("abc") == ["a", "b", "c"]


def test_a_stop_string_holds_back_only_what_could_start_it():
    # stop "xyz" (3 chars): the last 2 characters wait until they cannot start it; at <eos> the
    # held tail comes out.
    assert _chunks("abcd", stop=["xyz"]) == ["a", "b", "cd"]
    # ...and at max_new_tokens too.
    assert _chunks("abcdefgh", stop=["xyz"], max_new_tokens=4) == ["a", "b", "cd"]


def test_text_stops_before_the_stop_string_wherever_it_is():
    assert _chunks("abxyzcd", stop=["xyz"]) == ["a", "b"]
    assert _chunks("xyzabc", stop=["xyz"]) == []  # at the very start: nothing at all
    assert _chunks("abcxyz", stop=["b", "xyz"]) == ["a"]  # the earliest of several
    assert _chunks("a.b.c", stop=["."]) == ["a"]


def test_word_continuations_start_with_their_space_and_multi_stop_tokens_cut_at_the_first():
    words = WordTokenizer.train("hello there my friend x.y.z")
    assert _chunks("there my", prompt="hello", tok=words) == [" there", " my"]
    assert "".join(_chunks("there x.y.z friend", prompt="hello", tok=words, stop=["."])) == " there x"


def test_an_empty_prompt_starts_from_bos():
    lm = _lm("ab")
    out = "".join(generate_text(lm, CHARS, "", DecodeConfig(max_new_tokens=5, temperature=0)))
    assert out == "ab" and lm.prefills == [[CHARS.bos_id]]


@pytest.mark.parametrize("shape", [(3,), (1, 0), (2, 1, 1)])
def test_prompt_must_be_rows_of_at_least_one_token(shape):
    want = re.escape(f"prompt must be (B, T) with T >= 1, got {tuple(shape)}")
    with pytest.raises(ValueError, match=want):
        next(generate_ids(_lm("ab"), torch.zeros(shape, dtype=torch.long), DecodeConfig(temperature=0)))
    one = next(generate_ids(_lm("ab"), torch.zeros(2, 1, dtype=torch.long), DecodeConfig(temperature=0)))
    assert one.tolist() == [CHARS.encode("a")[0]] * 2


def test_a_prompt_over_the_context_is_truncated_or_refused_as_configured():
    prompt = torch.arange(1, 11)[None]  # 10 tokens, context 6
    lm = _lm("ab", context_limit=6)
    list(generate_ids(lm, prompt, DecodeConfig(max_new_tokens=1, temperature=0)))
    assert lm.prefills == [list(range(6, 11))]  # its last context - 1 tokens
    with pytest.raises(ValueError, match="prompt of 10 tokens does not fit the model's context of 6"):
        next(generate_ids(_lm("ab", context_limit=6), prompt, DecodeConfig(prompt_overflow="error")))
    free = _lm("ab")  # no context_limit attribute: no limit at all
    list(generate_ids(free, prompt, DecodeConfig(max_new_tokens=1, temperature=0)))
    assert free.prefills == [list(range(1, 11))]


class RowScriptLM(ScriptLM):
    """Row ``r`` emits ``scripts[r][i]`` at step ``i``."""

    def forward(self, ids, cache):
        i = cache.n
        cache.n += 1
        logits = torch.full((ids.shape[0], ids.shape[1], self.vocab), -20.0)
        for r, script in enumerate(self.script):
            logits[r, -1, script[i] if i < len(script) else self.eos] = 20.0
        return SimpleNamespace(logits=logits)


def test_rows_that_stopped_keep_yielding_the_stop_id_and_all_stopped_ends_the_run():
    a, b, c, eos = (*CHARS.encode("abc"), CHARS.eos_id)
    lm = RowScriptLM([[a, eos, b, b, b, b], [a, b, c, eos, c, c]], eos, CHARS.vocab_size)
    prompt = torch.full((2, 1), a)
    cfg = DecodeConfig(max_new_tokens=6, temperature=0)
    steps = [s.tolist() for s in generate_ids(lm, prompt, cfg, stop_ids=(eos,))]
    assert steps == [[a, a], [eos, b], [eos, c], [eos, eos]]  # and nothing after both stopped
    free = [s.tolist() for s in generate_ids(lm, prompt, cfg)]
    assert len(free) == 6 and free[2] == [b, c]  # no stop ids: every row runs on


class SoftLM(ScriptLM):
    """Every step: logits 2.0 for "a", 1.9 for "b", -20 for the rest."""

    def forward(self, ids, cache):
        logits = torch.full((ids.shape[0], ids.shape[1], self.vocab), -20.0)
        logits[:, -1, CHARS.encode("a")[0]] = 2.0
        logits[:, -1, CHARS.encode("b")[0]] = 1.9
        return SimpleNamespace(logits=logits)


def test_generate_applies_repetition_penalty_top_p_and_temperature():
    a, b = CHARS.encode("ab")
    lm = SoftLM([], CHARS.eos_id, CHARS.vocab_size)
    rows = torch.full((400, 1), a)  # the prompt has "a" in every row
    first = lambda **kw: next(generate_ids(lm, rows, DecodeConfig(max_new_tokens=1, seed=0, **kw)))  # noqa: E731
    # Penalty 4 takes "a" from 2.0 to 0.5; at temperature 0.01 "b" (1.9) then wins every draw.
    assert set(first(temperature=0.01, repetition_penalty=4.0).tolist()) == {b}
    assert set(first(temperature=0.01).tolist()) == {a}
    # Top-p 0.5 keeps only "a" (p = 0.525); without it "b" (0.475) turns up about half the time.
    assert set(first(temperature=1.0, top_p=0.5).tolist()) == {a}
    share_b = float((first(temperature=1.0) == b).double().mean())
    assert share_b == pytest.approx(0.475, abs=0.08)
