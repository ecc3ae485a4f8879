"""Decoder-only search over left-padded prompts, on a tiny random RoPE decoder."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnkit.config import ModelConfig
from attnkit.decode.prompted import left_pad, prompted_beam_search, prompted_sample
from attnkit.models.factory import build_model

PROMPTS = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15]]
KW = {"pad_id": 0, "eos_id": 3, "max_new": 8}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=40, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64,
                      positions="rope")  # fmt: skip
    return build_model(cfg, "decoder").eval()


def test_left_pad_masks_and_positions():
    ids, mask, pos = left_pad([[4, 5, 6], [7]], pad_id=0)
    assert ids.tolist() == [[4, 5, 6], [0, 0, 7]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]
    assert pos.tolist() == [[0, 1, 2], [0, 0, 0]]
    with pytest.raises(ValueError, match="at least one token"):
        left_pad([[1], []], 0)


def test_rows_decode_as_alone_and_beam_one_is_greedy(model):
    greedy = prompted_sample(model, PROMPTS, **KW)
    assert greedy == [prompted_sample(model, [p], **KW)[0] for p in PROMPTS]
    assert all(len(g) == 7 for g in greedy)  # the cap counts <eos>: 7 tokens, then <eos>
    assert prompted_beam_search(model, PROMPTS, beam_size=1, **KW) == greedy
    # greedy is the argmax of a full recompute at every step
    seq = list(PROMPTS[0])
    for tok in greedy[0]:
        logits = model(torch.tensor([seq])).logits[0, -1]
        assert int(logits.argmax()) == tok
        seq.append(tok)


def test_cached_beams_equal_recomputed_beams(model):
    kw = {**KW, "beam_size": 3, "no_repeat_ngram": 2}
    cached = prompted_beam_search(model, PROMPTS, **kw)
    assert cached == prompted_beam_search(model, PROMPTS, use_cache=False, **kw)
    for hyp in cached:  # no bigram repeats within a hypothesis
        grams = list(itertools.pairwise(hyp))
        assert len(grams) == len(set(grams))
    with pytest.raises(ValueError, match="beam_size and max_new must be >= 1"):
        prompted_beam_search(model, PROMPTS, beam_size=0, **KW)


def test_sampling_is_seeded(model):
    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        return prompted_sample(model, PROMPTS, temperature=1.0, top_k=5, generator=g, **KW)

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
