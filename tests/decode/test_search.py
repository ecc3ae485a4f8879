"""Encoder-decoder search: beam 1 = greedy, cache = no cache, batch = single, n-gram blocking."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnkit.config import ModelConfig
from attnkit.decode.greedy import greedy_seq2seq
from attnkit.decode.search import banned_tokens, beam_search, greedy_search, sample_search
from attnkit.models.factory import build_model

BOS, EOS, PAD = 2, 3, 0


def _model(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig(
        arch=arch,
        vocab_size=40,
        d_model=32,
        n_heads=4,
        n_layers=2,
        max_seq_len=64,
        pad_id=PAD,
        tie_embeddings=False,
    )
    m = build_model(cfg, "seq2seq").eval()
    # Random init gives near-uniform logits; sharpen them so searches make distinct choices.
    with torch.no_grad():
        head = m.decoder.lm_head if hasattr(m, "decoder") else m.lm_head
        head.weight.mul_(40.0)
    return m


def _sources(n: int = 6, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 9, (n,), generator=g)
    src = torch.full((n, int(lengths.max())), PAD, dtype=torch.long)
    for i, n_i in enumerate(lengths.tolist()):
        src[i, :n_i] = torch.randint(4, 40, (n_i,), generator=g)
        src[i, n_i - 1] = EOS
    return src, src != PAD


def _greedy_no_cache(model, src, mask, max_len: int) -> list[list[int]]:
    """Reference: re-run the whole decoder on the full prefix every step."""
    out = []
    for i in range(src.shape[0]):
        s = src[i : i + 1, : int(mask[i].sum())]
        ids = torch.tensor([[BOS]])
        for step in range(max_len):
            nxt = int(model(s, ids).logits[0, -1].argmax()) if step < max_len - 1 else EOS
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
            if nxt == EOS:
                break
        seq = ids[0, 1:].tolist()
        out.append(seq[: seq.index(EOS)] if EOS in seq else seq)
    return out


@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_beam_one_equals_greedy(arch):
    model = _model(arch)
    src, mask = _sources(8)
    greedy = greedy_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=12)
    beam1 = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=12, beam_size=1)
    assert beam1 == greedy
    assert any(len(g) > 0 for g in greedy)


@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_cached_greedy_equals_uncached(arch):
    model = _model(arch)
    src, mask = _sources(5)
    cached = greedy_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=10)
    assert cached == _greedy_no_cache(model, src, mask, 10)


@pytest.mark.parametrize("arch", ["transformer", "rnn"])
@pytest.mark.parametrize("beam", [1, 4])
def test_batched_equals_single(arch, beam):
    model = _model(arch)
    src, mask = _sources(6)
    batched = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=12, beam_size=beam)
    for i in range(src.shape[0]):
        n = int(mask[i].sum())
        single = beam_search(
            model, src[i : i + 1, :n], mask[i : i + 1, :n], bos_id=BOS, eos_id=EOS, max_len=12, beam_size=beam
        )
        assert single[0] == batched[i]


@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_masked_positions_change_nothing_in_any_search(arch):
    # The source mask must reach the encoder and the cross-attention. Masked positions hold
    # random real tokens rather than <pad> (whose embedding may be near zero), so a search that
    # ignored the mask would see them.
    model = _model(arch, seed=2)  # a seed whose sources decode differently for both archs
    src, mask = _sources(6)
    noise = torch.randint(4, 40, src.shape, generator=torch.Generator().manual_seed(9))
    noisy = torch.where(mask, src, noise)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=12)
    greedy = greedy_search(model, noisy, mask, **kw)
    beam = beam_search(model, noisy, mask, beam_size=3, **kw)
    seq2seq = greedy_seq2seq(model, noisy, BOS, 11, src_mask=mask)
    for i in range(src.shape[0]):
        n = int(mask[i].sum())
        s, m = src[i : i + 1, :n], mask[i : i + 1, :n]
        assert greedy_search(model, s, m, **kw)[0] == greedy[i]
        assert beam_search(model, s, m, beam_size=3, **kw)[0] == beam[i]
        assert torch.equal(greedy_seq2seq(model, s, BOS, 11, src_mask=m)[0], seq2seq[i])
    assert len({tuple(g) for g in greedy}) > 1  # the sources really decode differently
    assert greedy_search(model, noisy, torch.ones_like(mask), **kw) != greedy  # the noise shows


def test_searches_take_no_mask_as_all_visible():
    model = _model("transformer")
    src = torch.randint(4, 40, (3, 5))
    full = torch.ones_like(src, dtype=torch.bool)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=8)
    assert beam_search(model, src, None, **kw) == beam_search(model, src, full, **kw)
    assert greedy_search(model, src, None, **kw) == greedy_search(model, src, full, **kw)


@torch.no_grad()
def _logprob(model, src, mask, hyp: list[int]) -> float:
    ids = torch.tensor([[BOS, *hyp]])
    tgt = torch.tensor([[*hyp, EOS]])
    lp = torch.log_softmax(model(src, ids, src_mask=mask).logits.float(), -1)
    return float(lp[0].gather(1, tgt[0][:, None]).sum())


def test_beam_scores_at_least_greedy_with_no_length_penalty():
    model = _model("transformer", seed=3)
    src, mask = _sources(6, seed=4)
    greedy = greedy_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=12)
    beam = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=12, beam_size=6, length_penalty=0.0)
    wins = 0
    for i in range(src.shape[0]):
        n = int(mask[i].sum())
        s, m = src[i : i + 1, :n], mask[i : i + 1, :n]
        g, b = _logprob(model, s, m, greedy[i]), _logprob(model, s, m, beam[i])
        assert b >= g - 1e-4
        wins += b > g + 1e-4
    assert wins >= 1  # the search found something better than greedy somewhere


def test_banned_tokens():
    assert banned_tokens([5, 6, 7, 5, 6], 3) == {7}
    assert banned_tokens([5, 6, 7, 5], 2) == {6}
    assert banned_tokens([5, 6], 3) == set()
    assert banned_tokens([1, 2, 1], 1) == {1, 2}
    assert banned_tokens([5, 5], 2) == {5}  # the shortest sequence that can repeat a bigram
    assert banned_tokens([5, 5], 0) == banned_tokens([5, 5], -1) == set()  # blocking off


def test_no_repeat_ngram_blocks_repeats():
    model = _model("transformer", seed=5)
    src, mask = _sources(8, seed=6)
    out = beam_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=20, beam_size=3, no_repeat_ngram=2)
    for hyp in out:
        bigrams = list(itertools.pairwise(hyp))
        assert len(bigrams) == len(set(bigrams))


def test_length_cap_counts_eos():
    model = _model("transformer")
    src, mask = _sources(4)
    for fn in (greedy_search, beam_search):
        out = fn(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=3)
        assert all(len(h) <= 2 for h in out)


def test_sampling_is_seeded_and_respects_top_k():
    model = _model("transformer")
    src, mask = _sources(4)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=10, temperature=1.0)
    a = sample_search(model, src, mask, generator=torch.Generator().manual_seed(0), **kw)
    b = sample_search(model, src, mask, generator=torch.Generator().manual_seed(0), **kw)
    assert a == b
    top1 = sample_search(model, src, mask, top_k=1, generator=torch.Generator().manual_seed(1), **kw)
    assert top1 == greedy_search(model, src, mask, bos_id=BOS, eos_id=EOS, max_len=10)
