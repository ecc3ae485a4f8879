"""Encoder, Decoder, EncoderDecoder: shapes, loss, parameter counts, caches and greedy decoding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attnkit.config import ModelConfig
from attnkit.decode import greedy_generate, greedy_seq2seq
from attnkit.models import Decoder, Encoder, EncoderDecoder, model_config

V = 50
DECODER_VARIANTS = {
    "learned": {},
    "sinusoidal+embed_scale": {"positions": "sinusoidal", "embed_scale": True},
    "rope+gqa+rmsnorm+swiglu": {
        "positions": "rope",
        "n_kv_heads": 2,
        "norm": "rmsnorm",
        "mlp": "swiglu",
        "bias": False,
    },
    "mqa+post-norm": {"n_kv_heads": 1, "norm_position": "post"},
    "reference-backend": {"attn_backend": "reference"},
}


@pytest.mark.parametrize("variant", DECODER_VARIANTS)
def test_decoder_greedy_tokens_identical_with_and_without_cache(variant):
    model = Decoder(model_config("tiny", vocab_size=V, **DECODER_VARIANTS[variant])).eval()
    prompt = torch.randint(0, V, (3, 5))
    cached = greedy_generate(model, prompt, 20)
    full = greedy_generate(model, prompt, 20, use_cache=False)
    assert cached.shape == (3, 25)
    assert torch.equal(cached, full)


@pytest.mark.parametrize("variant", DECODER_VARIANTS)
def test_decoder_incremental_logits_equal_full_recompute(variant):
    model = Decoder(model_config("tiny", vocab_size=V, **DECODER_VARIANTS[variant])).eval()
    ids = torch.randint(0, V, (2, 12))
    with torch.no_grad():
        full = model(ids).logits
        cache = model.new_cache(2, 12)
        # A 5-token prefill, a 3-token chunk (T < S with offset), then single steps.
        parts = [model(ids[:, :5], cache=cache).logits, model(ids[:, 5:8], cache=cache).logits]
        parts += [model(ids[:, i : i + 1], cache=cache).logits for i in range(8, 12)]
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


def test_seq2seq_greedy_tokens_identical_with_and_without_cache():
    cfg = model_config(
        "tiny",
        vocab_size=V,
        src_vocab_size=60,
        pad_id=0,
        n_encoder_layers=3,
        positions="sinusoidal",
        n_kv_heads=2,
    )
    model = EncoderDecoder(cfg).eval()
    src = torch.randint(1, 60, (3, 11))
    src[1, 7:] = 0
    src[2, 2:] = 0
    cached = greedy_seq2seq(model, src, bos_id=1, max_new_tokens=15)
    full = greedy_seq2seq(model, src, bos_id=1, max_new_tokens=15, use_cache=False)
    assert cached.shape == (3, 16)
    assert torch.equal(cached, full)


def test_seq2seq_cross_attention_kv_computed_once():
    model = EncoderDecoder(model_config("tiny", vocab_size=V)).eval()
    src = torch.randint(0, V, (2, 6))
    memory, key_mask = model.encode(src)
    cache = model.new_cache(2, 4)
    with torch.no_grad():
        model.decode(torch.ones(2, 1, dtype=torch.long), memory, key_mask, cache=cache)
        k_first = cache.cross[0].k
        model.decode(torch.ones(2, 1, dtype=torch.long), memory, key_mask, cache=cache)
    assert cache.cross[0].k is k_first  # reused, not recomputed
    assert k_first.shape == (2, 4, 6, 16)


def test_beam_reorder_matches_per_beam_recompute():
    model = Decoder(model_config("tiny", vocab_size=V, positions="rope")).eval()
    ids = torch.randint(0, V, (3, 6))
    beam_idx = torch.tensor([2, 0, 0])
    nxt = torch.randint(0, V, (3, 1))
    with torch.no_grad():
        cache = model.new_cache(3, 7)
        model(ids, cache=cache)
        cache.reorder(beam_idx)
        stepped = model(nxt, cache=cache).logits[:, -1]
        fresh = model(torch.cat([ids[beam_idx], nxt], 1)).logits[:, -1]
    torch.testing.assert_close(stepped, fresh, atol=1e-5, rtol=1e-5)


def test_loss_is_cross_entropy_over_non_ignored_targets():
    model = Decoder(model_config("tiny", vocab_size=V))
    ids = torch.randint(0, V, (2, 8))
    targets = torch.randint(0, V, (2, 8))
    targets[1, 5:] = -100
    out = model(ids, targets)
    keep = targets != -100
    want = F.cross_entropy(out.logits[keep], targets[keep])
    torch.testing.assert_close(out.loss, want)
    assert out.logits.shape == (2, 8, V) and out.hidden.shape == (2, 8, 64)
    with pytest.raises(ValueError, match=r"targets \(2, 7\) must match logits \(2, 8\)"):
        model(ids, targets[:, :7])


def test_encoder_padding_is_ignored_and_all_pad_rows_stay_finite():
    model = Encoder(model_config("tiny", vocab_size=V, pad_id=0)).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0], [0, 0, 0, 0, 0]])
    out = model(ids).hidden
    alone = model(ids[:1, :3]).hidden
    torch.testing.assert_close(out[0, :3], alone[0], atol=1e-5, rtol=1e-5)  # padding changes nothing
    model.train()
    emb = model.embed.tok.weight
    loss = model(ids).hidden.pow(2).sum()
    loss.backward()
    assert torch.isfinite(out).all() and torch.isfinite(emb.grad).all()


def test_parameter_count_matches_formula_and_tying():
    c, n_layers, v, p = 64, 2, V, 256
    model = Decoder(model_config("tiny", vocab_size=v))
    attn = 4 * (c * c + c)
    mlp = c * 4 * c + 4 * c + 4 * c * c + c
    norms = 2 * 2 * c
    expected = v * c + p * c + n_layers * (attn + mlp + norms) + 2 * c
    assert model.num_parameters() == expected
    assert model.lm_head.weight is model.embed.tok.weight
    assert model.num_parameters(exclude_embeddings=True) == expected - v * c - p * c
    untied = Decoder(model_config("tiny", vocab_size=v, tie_embeddings=False))
    assert untied.num_parameters() == expected + v * c


def test_shared_embeddings_in_seq2seq():
    model = EncoderDecoder(model_config("tiny", vocab_size=V, share_embeddings=True))
    assert model.decoder.embed.tok.weight is model.encoder.embed.tok.weight
    assert model.decoder.lm_head.weight is model.encoder.embed.tok.weight
    separate = EncoderDecoder(model_config("tiny", vocab_size=V))
    assert separate.num_parameters() - model.num_parameters() == V * 64


def test_backends_give_the_same_model_outputs():
    model = EncoderDecoder(model_config("tiny", vocab_size=V, pad_id=0)).eval()
    src, tgt = torch.randint(1, V, (2, 7)), torch.randint(1, V, (2, 5))
    src[0, 4:] = 0
    with torch.no_grad():
        fast = model(src, tgt).logits
        model.set_attn_backend("reference")
        slow = model(src, tgt).logits
    assert model.encoder.cfg.attn_backend == "reference"
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_bfloat16_model_runs_close_to_float32():
    model = Decoder(model_config("tiny", vocab_size=V)).eval()
    ids = torch.randint(0, V, (2, 10))
    with torch.no_grad():
        ref = model(ids).logits
        low = model.to(torch.bfloat16)(ids).logits.float()
    torch.testing.assert_close(low, ref, atol=5e-2, rtol=5e-2)


def test_presets_and_input_errors():
    small = model_config("small", vocab_size=V)
    assert (small.d_model, small.n_layers, small.n_heads) == (256, 4, 4)
    with pytest.raises(ValueError, match="unknown model preset 'huge'; available: tiny, small, base"):
        model_config("huge")
    model = Decoder(model_config("tiny", vocab_size=V, max_seq_len=16)).eval()
    with pytest.raises(ValueError, match=r"token id out of range \[0, 50\)"):
        model(torch.tensor([[1, 50]]))
    with pytest.raises(ValueError, match="position 16 is out of range: max_seq_len=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected ids of shape \(B, T\), got \(5,\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="exceeds the model's max_seq_len=16"):
        greedy_generate(model, torch.zeros(1, 10, dtype=torch.long), 7)
    cache = model.new_cache(2, 4)
    with pytest.raises(ValueError, match=r"cache batch 2 != ids batch 1"):
        model(torch.zeros(1, 2, dtype=torch.long), cache=cache)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"d_model": 30, "n_heads": 4}, "d_model=30 is not divisible by n_heads=4"),
        ({"n_kv_heads": 3}, "n_heads=4 is not divisible by n_kv_heads=3"),
        ({"attn_backend": "nope"}, "unknown attention backend 'nope'; available: linear, local:<arg>"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"share_embeddings": True, "src_vocab_size": 7}, "share_embeddings needs src_vocab_size"),
        ({"d_model": 12, "n_heads": 4, "positions": "rope"}, "RoPE needs an even head_dim"),
    ],
)
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)


def test_seq2seq_padding_on_both_sides_changes_nothing():
    """A pair padded on source and target inside a batch gives the logits it gives alone."""
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, d_model=32, n_heads=4, n_layers=2, max_seq_len=32, pad_id=0)
    m = EncoderDecoder(cfg).eval()
    src, tgt = torch.randint(4, 50, (1, 5)), torch.randint(4, 50, (1, 4))
    alone = m(src, tgt).logits
    long_src, long_tgt = torch.randint(4, 50, (1, 9)), torch.randint(4, 50, (1, 7))
    pad = lambda x, n: torch.cat([x, torch.zeros(1, n - x.shape[1], dtype=torch.long)], 1)  # noqa: E731
    batch = m(torch.cat([pad(src, 9), long_src]), torch.cat([pad(tgt, 7), long_tgt])).logits
    torch.testing.assert_close(batch[:1, :4], alone, atol=1e-5, rtol=1e-5)
    # and the padding really was masked: attending to pad embeddings would change the output
    unmasked = m(pad(src, 9), tgt, src_mask=torch.ones(1, 9, dtype=torch.bool)).logits
    assert (unmasked - alone).abs().max() > 1e-3
