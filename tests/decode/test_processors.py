"""Logits processors and the next-token choice, against hand-computed values.

Written to kill the mutants that survived `make mutate MODULE=attnkit/decode` (docs/testing.md):
each boundary (k = 0, k = V, p = 1, mass exactly p), each default, and the order and direction
of every transform is pinned here with numbers worked out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.decode.processors import choose_next, process, repetition_penalty, top_k, top_p

LOGITS = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
INF = float("-inf")


@pytest.mark.parametrize("k", [0, -3, 4, 9])
def test_top_k_outside_1_to_v_minus_1_keeps_every_logit(k):
    assert torch.equal(top_k(LOGITS, k), LOGITS)


def test_top_k_masks_per_row():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0], [9.0, 0.0, 8.0, 7.0]])
    assert top_k(logits, 3).tolist() == [[INF, 5.0, 3.0, 4.0], [9.0, INF, 8.0, 7.0]]
    assert top_k(logits, 1).tolist() == [[INF, 5.0, INF, INF], [9.0, INF, INF, INF]]


def test_top_p_one_keeps_even_vanishing_tokens():
    # softmax([10, 0, -100]): the mass before the last token rounds to exactly 1.0 in float32.
    logits = torch.tensor([[10.0, 0.0, -100.0]])
    assert torch.equal(top_p(logits, 1.0), logits)


def test_top_p_drops_a_token_once_the_mass_before_it_reaches_p_exactly():
    # probabilities 0.5, 0.25, 0.25 are exact in float64; the first two already hold p = 0.75.
    logits = torch.tensor([[0.5, 0.25, 0.25]], dtype=torch.float64).log()
    out = top_p(logits, 0.75)
    assert torch.isfinite(out).tolist() == [[True, True, False]]
    assert out[0, :2].tolist() == logits[0, :2].tolist()  # the survivors keep their values


def test_top_p_restores_the_original_order_per_row():
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.7, 0.05, 0.25]])
    out = top_p(probs.log(), 0.8)
    assert torch.isfinite(out).tolist() == [[False, True, True], [True, False, True]]
    assert torch.allclose(out[torch.isfinite(out)], probs.log()[torch.isfinite(out)])


def test_process_defaults_change_nothing():
    hist = torch.tensor([[0, 3]])
    assert torch.equal(process(LOGITS, hist), LOGITS)


@pytest.mark.parametrize("temperature", [0.5, 2.0, 4.0])
def test_temperature_divides_the_logits(temperature):
    out = process(LOGITS, torch.zeros(1, 0, dtype=torch.long), temperature=temperature)
    assert out.tolist() == [[x / temperature for x in LOGITS[0].tolist()]]


def test_process_order_penalty_then_temperature_then_top_k():
    # Seen ids 0 (2.0 -> 2/2 = 1.0) and 1 (-1.0 -> -1*2 = -2.0); then /2; then keep the top 2.
    out = process(LOGITS, torch.tensor([[0, 1]]), temperature=2.0, k=2, penalty=2.0)
    assert out.tolist() == [[0.5, INF, INF, 1.5]]
    # Top-p after temperature: at T=0.5 the top token alone holds > 0.9 of the mass.
    out = process(LOGITS, torch.zeros(1, 0, dtype=torch.long), temperature=0.5, p=0.5)
    assert torch.isfinite(out).tolist() == [[False, False, False, True]]


def test_repetition_penalty_touches_only_seen_ids_in_each_row():
    logits = torch.tensor([[2.0, -2.0, 1.0], [2.0, -2.0, 1.0]])
    out = repetition_penalty(logits, torch.tensor([[2, 2], [1, 0]]), 4.0)
    assert out.tolist() == [[2.0, -2.0, 0.25], [0.5, -8.0, 1.0]]
    assert torch.equal(repetition_penalty(logits, torch.zeros(2, 0, dtype=torch.long), 4.0), logits)


def test_choose_next_greedy_is_the_argmax_per_row():
    logits = torch.tensor([[0.1, 0.9, 0.0], [5.0, -1.0, 4.0]])
    assert choose_next(logits, torch.zeros(2, 0, dtype=torch.long), temperature=0).tolist() == [1, 0]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_frequencies_follow_softmax_of_logits_over_temperature(temperature):
    # 40,000 draws in one call (one row each); the standard error of each frequency is at most
    # sqrt(0.25 / 40000) = 0.0025, so 0.01 is four of them. Fixed seed, so the test is exact.
    n = 40_000
    logits = torch.tensor([1.0, 0.0, -1.0, 0.5])
    gen = torch.Generator().manual_seed(1234)
    ids = choose_next(
        logits.expand(n, 4), torch.zeros(n, 0, dtype=torch.long), temperature=temperature, generator=gen
    )
    freq = torch.bincount(ids, minlength=4).double() / n
    z = [math.exp(x / temperature) for x in logits.tolist()]
    expect = torch.tensor([e / sum(z) for e in z], dtype=torch.float64)
    assert torch.allclose(freq, expect, atol=0.01), (freq, expect)


def test_sampling_never_draws_a_filtered_token():
    n = 5_000
    gen = torch.Generator().manual_seed(0)
    hist = torch.zeros(n, 0, dtype=torch.long)
    ids = choose_next(LOGITS.expand(n, 4), hist, temperature=1.0, top_k=2, generator=gen)
    assert set(ids.tolist()) == {0, 3}
    ids = choose_next(LOGITS.expand(n, 4), hist, temperature=1.0, top_p=0.5, generator=gen)
    assert set(ids.tolist()) == {3}  # softmax puts 0.63 on the top token
