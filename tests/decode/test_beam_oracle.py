"""Beam search against hand-worked and exhaustive answers, on a scripted decoder.

The scripted decoder's next-token distribution is a table lookup on (source, prefix), so the
score of every hypothesis is known in closed form. Its cache is the prefix itself, so a beam
reorder that picks the wrong rows shows up as a wrong lookup. Written for the mutants that
survived `make mutate MODULE=attnkit/decode` (docs/testing.md): the length-penalty formula,
the fairseq finishing rule, per-source bookkeeping in a batch and the reorder of the cache.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from attnkit.decode.search import beam_search, greedy_search, sample_search

BOS, EOS, A, B, C, D, E, F = range(8)
V = 8
FLOOR = -30.0  # the logit of every token a table row does not list


class _PrefixCache:
    def __init__(self, rows: int) -> None:
        self.prefixes: list[list[int]] = [[] for _ in range(rows)]

    def reorder(self, index: torch.Tensor) -> None:
        self.prefixes = [list(self.prefixes[i]) for i in index.tolist()]


class Scripted(nn.Module):
    """``table[(source id, prefix)] = {token: probability}``; unlisted prefixes end at once."""

    def __init__(self, table: dict[tuple[int, tuple[int, ...]], dict[int, float]]) -> None:
        super().__init__()
        self.table = table
        self.anchor = nn.Parameter(torch.zeros(1))  # a device for callers that ask

    def encode(self, src, mask):
        return src.float(), mask

    def new_cache(self, rows: int, max_len: int) -> _PrefixCache:
        return _PrefixCache(rows)

    def logits_for(self, source: int, prefix: tuple[int, ...]) -> torch.Tensor:
        row = torch.full((V,), FLOOR, dtype=torch.float64)
        for tok, p in self.table.get((source, prefix), {EOS: 1.0}).items():
            row[tok] = math.log(p)
        return row

    def decode(self, ids, memory, key_mask, cache):
        rows = []
        for r in range(ids.shape[0]):
            cache.prefixes[r].append(int(ids[r, -1]))
            rows.append(self.logits_for(int(memory[r, 0]), tuple(cache.prefixes[r][1:])))
        return SimpleNamespace(logits=torch.stack(rows)[:, None].float())  # (B, 1, V)


def _src(*sources: int) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.tensor([[s, EOS] for s in sources])
    return src, torch.ones_like(src, dtype=torch.bool)


def _log_p(model: Scripted, source: int, hyp: tuple[int, ...]) -> float:
    """Summed log-probability of ``hyp`` followed by <eos>, as the search computes it."""
    total, seq = 0.0, (*hyp, EOS)
    for t, tok in enumerate(seq):
        total += float(torch.log_softmax(model.logits_for(source, seq[:t]).float(), -1)[tok])
    return total


# Source 7: <eos> at once (0.5) against "a <eos>" (0.5 * 0.7): summed log-probs -0.693 and -1.050,
# per token (length 1 and 2 with <eos>) -0.693 and -0.525.
SHORT_OR_LONG = {(7, ()): {EOS: 0.5, A: 0.5}, (7, (A,)): {EOS: 0.7, B: 0.3}, (7, (A, B)): {EOS: 1.0}}


@pytest.mark.parametrize(("length_penalty", "best"), [(0.0, []), (0.5, []), (1.0, [A]), (2.0, [A])])
def test_length_penalty_divides_by_length_to_the_power(length_penalty, best):
    # lp 0.5: -0.693 / 1 against -1.050 / sqrt(2) = -0.742, so the empty output still wins.
    model = Scripted(SHORT_OR_LONG)
    src, mask = _src(7)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=5, beam_size=2)
    out = beam_search(model, src, mask, length_penalty=length_penalty, **kw)
    assert out == [best]


# Source 8: greedy takes "a" (0.6) and then "c" (0.55): log 0.33 = -1.109; "b <eos>" has log 0.4.
GREEDY_TRAP = {
    (8, ()): {A: 0.6, B: 0.4},
    (8, (A,)): {C: 0.55, B: 0.45},
    (8, (A, C)): {EOS: 1.0},
    (8, (A, B)): {EOS: 1.0},
    (8, (B,)): {EOS: 1.0},
}


def test_beam_finds_what_greedy_misses_and_beam_one_is_greedy():
    model = Scripted(GREEDY_TRAP)
    src, mask = _src(8)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=5)
    assert greedy_search(model, src, mask, **kw) == [[A, C]]
    assert beam_search(model, src, mask, beam_size=1, length_penalty=0.0, **kw) == [[A, C]]
    assert beam_search(model, src, mask, beam_size=2, length_penalty=0.0, **kw) == [[B]]


def test_each_source_in_a_batch_keeps_its_own_beams():
    model = Scripted({**SHORT_OR_LONG, **GREEDY_TRAP})
    src, mask = _src(8, 7, 8)
    out = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=5, beam_size=2, length_penalty=0.0)
    assert out == [[B], [], [B]]


def test_only_endings_ranked_in_the_top_k_finish():
    # Beam 1 from source 9: "a" (0.9) beats "<eos>" (0.1) at step one, so that ending is ranked
    # second and must not finish, although log 0.1 = -2.30 beats the only output a beam of one
    # can reach: "a b c <eos>" at log(0.9 * 0.96 * 0.95 * 0.01) = -4.80.
    table = {
        (9, ()): {A: 0.9, EOS: 0.1},
        (9, (A,)): {B: 0.96, EOS: 0.04},
        (9, (A, B)): {C: 0.95, EOS: 0.05},
        (9, (A, B, C)): {A: 0.99, EOS: 0.01},
    }
    model = Scripted(table)
    src, mask = _src(9)
    out = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=4, beam_size=1, length_penalty=0.0)
    assert out == [[A, B, C]]


def _random_table(source: int, seed: int, depth: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    table = {}
    for n in range(depth):
        for prefix in itertools.product((A, B, C), repeat=n):
            p = torch.rand(4, generator=g) + 0.05
            p = (p / p.sum()).tolist()
            table[(source, prefix)] = dict(zip((EOS, A, B, C), p, strict=True))
    return table


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0, 2.0])
def test_a_beam_wider_than_the_tree_finds_the_exhaustive_best(seed, length_penalty):
    # max_len 3: at most 3**2 = 9 live prefixes and 27 real extensions a step, so a beam of 32
    # keeps every one and the search is exhaustive; the answer is the best of all 13 outputs.
    max_len = 3
    model = Scripted(_random_table(11, seed, max_len))
    src, mask = _src(11)
    hyps = [h for n in range(max_len) for h in itertools.product((A, B, C), repeat=n)]
    scored = [(_log_p(model, 11, h) / (len(h) + 1) ** length_penalty, h) for h in hyps]
    best = max(scored)[1]
    out = beam_search(
        model, src, mask, bos_id=BOS, eos_id=EOS, max_len=max_len, beam_size=32, length_penalty=length_penalty
    )
    assert out == [list(best)]


def test_sampling_stops_rows_at_eos_and_caps_the_length():
    # Source 7 always ends after at most two tokens; source 12 never ends until the cap.
    table = {**SHORT_OR_LONG, **{(12, (A,) * n): {A: 1.0} for n in range(10)}}
    model = Scripted(table)
    src, mask = _src(7, 12)
    out = sample_search(
        model, src, mask, bos_id=BOS, eos_id=EOS, max_len=4, generator=torch.Generator().manual_seed(0)
    )
    assert out[0] in ([], [A]) and out[1] == [A, A, A]  # the cap counts <eos>
    out = sample_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=4, temperature=0.0)
    assert out == [[], [A, A, A]]  # greedy: <eos> and "a" tie at 0.5; argmax takes the first


class _Counting(Scripted):
    def __init__(self, table) -> None:
        super().__init__(table)
        self.calls = 0

    def decode(self, ids, memory, key_mask, cache):
        self.calls += 1
        return super().decode(ids, memory, key_mask, cache)


def test_sampling_stops_decoding_once_every_row_has_ended():
    # Every source ends at its second token at the latest, so 2 decoder steps suffice of the 10.
    model = _Counting({(7, ()): {A: 1.0}, (7, (A,)): {EOS: 1.0}})
    src, mask = _src(7, 7)
    assert sample_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=10, temperature=0.0) == [[A], [A]]
    assert model.calls == 2


def test_sampling_default_temperature_is_one_and_top_p_is_applied():
    # One step: <eos> 0.25, "a" 0.75. 8,000 sources; the standard error of the frequency is 0.005.
    table = {(7, ()): {EOS: 0.25, A: 0.75}, (7, (A,)): {EOS: 1.0}}
    src, mask = _src(*[7] * 8000)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=3)
    out = sample_search(Scripted(table), src, mask, generator=torch.Generator().manual_seed(0), **kw)
    assert sum(h == [] for h in out) / len(out) == pytest.approx(0.25, abs=0.02)  # at T=2 it is 0.37
    gen = torch.Generator().manual_seed(0)
    out = sample_search(Scripted(table), src, mask, top_p=0.5, generator=gen, **kw)
    assert all(h == [A] for h in out)


def test_defaults_are_four_beams_and_length_penalty_one():
    # Five first tokens; only the fifth-ranked, "e" (0.17), ends surely (log 0.17 = -1.77); the
    # others go on with "f" and end at 0.01 at best (log 0.24 + log 0.01 = -6.0). Four beams
    # never keep "e"; five do.
    first = {A: 0.24, B: 0.2, C: 0.2, D: 0.19, E: 0.17}
    table = {(14, ()): first, (14, (E,)): {EOS: 1.0}}
    for t in (A, B, C, D):
        for n in range(4):
            table[(14, (t, *[F] * n))] = {F: 0.99, EOS: 0.01}
    src, mask = _src(14)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=5, length_penalty=0.0)
    assert beam_search(Scripted(table), src, mask, beam_size=5, **kw) == [[E]]
    assert beam_search(Scripted(table), src, mask, **kw)[0][0] in (A, B, C, D)
    # "a" then <eos> at 0.3: length penalty 1 prefers ending now (-0.69 against
    # (-0.69 - 1.20) / 2 = -0.95), length penalty 2 the longer output (-1.90 / 4 = -0.47).
    lp_table = {(15, ()): {EOS: 0.5, A: 0.5}, (15, (A,)): {EOS: 0.3, B: 0.7}, (15, (A, B)): {B: 1.0}}
    src, mask = _src(15)
    model = Scripted(lp_table)
    assert beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=3, length_penalty=2.0) == [[A]]
    assert beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=3) == [[]]


def test_beam_size_below_one_is_refused():
    src, mask = _src(7)
    with pytest.raises(ValueError, match="beam_size must be >= 1, got 0"):
        beam_search(Scripted(SHORT_OR_LONG), src, mask, bos_id=BOS, eos_id=EOS, max_len=3, beam_size=0)


def test_a_finished_source_does_not_stop_the_ones_after_it():
    # Source 20 ends at once; source 12 never ends before the cap (its <eos> is never ranked
    # first), so the batch keeps decoding source 12 after source 20 is done.
    table = {(20, ()): {EOS: 1.0}, **{(12, (A,) * n): {A: 1.0} for n in range(10)}}
    src, mask = _src(20, 12)
    out = beam_search(Scripted(table), src, mask, bos_id=BOS, eos_id=EOS, max_len=4, beam_size=1)
    assert out == [[], [A, A, A]]


def test_no_repeat_ngram_counts_from_the_first_generated_token():
    # The likely output is "a b a b" (0.81); the second "a b" repeats a bigram that starts at the
    # first generated token, and the second "a" repeats a unigram. Blocked, the best left is
    # "a b c" (0.1), just ahead of "a b a c" (0.09).
    table = {
        (13, ()): {A: 1.0},
        (13, (A,)): {B: 1.0},
        (13, (A, B)): {A: 0.9, C: 0.1},
        (13, (A, B, A)): {B: 0.9, C: 0.1},
        (13, (A, B, A, B)): {EOS: 1.0},
    }
    src, mask = _src(13)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=6, beam_size=2, length_penalty=0.0)
    assert beam_search(Scripted(table), src, mask, **kw) == [[A, B, A, B]]
    assert beam_search(Scripted(table), src, mask, no_repeat_ngram=2, **kw) == [[A, B, C]]
    assert beam_search(Scripted(table), src, mask, no_repeat_ngram=1, **kw) == [[A, B, C]]
