"""attnkit's Decoder against HF GPT-2 with copied weights (randomly initialised, tiny, offline)."""

from __future__ import annotations

import pytest
import torch
import transformers

from attnkit.decode import greedy_generate
from attnkit.pretrained import decoder_from_gpt2


def tiny_gpt2_pair(n_embd: int = 48, n_layer: int = 3):
    """A randomly initialised tiny HF GPT-2 (no dropout, 97 tokens, 64 positions) and attnkit's copy."""
    cfg = transformers.GPT2Config(
        vocab_size=97,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=4,
        n_positions=64,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    return hf, decoder_from_gpt2(hf).eval()


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    return tiny_gpt2_pair()


def test_logits_match_hf_gpt2(pair):
    hf, ours = pair
    ids = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        want = hf(ids).logits
        got = ours(ids).logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_loss_and_greedy_tokens_match_hf_gpt2(pair):
    hf, ours = pair
    ids = torch.randint(0, 97, (1, 8))
    with torch.no_grad():
        assert ours(ids[:, :-1], ids[:, 1:]).loss.item() == pytest.approx(
            hf(ids, labels=ids).loss.item(), rel=1e-5
        )
        hf_tokens = hf.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            min_new_tokens=12,
            do_sample=False,
            pad_token_id=0,
        )
    assert torch.equal(greedy_generate(ours, ids, 12), hf_tokens)


def test_unsupported_option_names_the_field():
    cfg = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, activation_function="relu")
    with pytest.raises(ValueError, match=r"GPT2Config\.activation_function='relu' is not supported"):
        decoder_from_gpt2(transformers.GPT2LMHeadModel(cfg))
