"""Efficient backends against the float64 reference: tiled (exact), local:W (exact for its
band), linear (not exact: checked against its own O(T^2) formula, and its distance from softmax)."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import capture_attention, get_backend
from attnkit.attention.linear import linear_attention
from attnkit.attention.reference import reference_attention
from attnkit.attention.tiled import tiled_attention_core
from attnkit.config import ModelConfig
from attnkit.data.masks import sliding_window_mask
from attnkit.models import Decoder, Encoder


def _qkv(b=2, h=4, h_kv=2, t=11, s=11, d=8, dtype=torch.float64, grad=False):
    g = torch.Generator().manual_seed(0)
    mk = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(grad)  # noqa: E731
    return mk(b, h, t, d), mk(b, h_kv, s, d), mk(b, h_kv, s, d)


def _pad_mask(b, s, lengths):
    return (torch.arange(s)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]


CASES = [
    # (t, s, causal, masked)
    (11, 11, False, False),
    (11, 11, True, False),
    (5, 13, True, True),  # cached decoding: bottom-right causal
    (13, 13, False, True),
    (1, 9, True, False),
]


@pytest.mark.parametrize("t,s,causal,masked", CASES)
def test_tiled_equals_reference(t, s, causal, masked):
    q, k, v = _qkv(t=t, s=s, grad=True)
    mask = _pad_mask(2, s, [s, s - 4]) if masked else None
    ref, _ = reference_attention(q, k, v, mask=mask, is_causal=causal)
    out = tiled_attention_core(
        q, k, v, mask=mask, is_causal=causal, scale=None, dropout_p=0.0, block_q=4, block_k=3
    )
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    g_ref = torch.autograd.grad(ref.sum(), (q, k, v))
    g_out = torch.autograd.grad(out.sum(), (q, k, v))
    for a, b in zip(g_out, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_tiled_fully_masked_rows_are_zero_and_registered_backend_matches():
    q, k, v = _qkv(t=6, s=6)
    mask = torch.ones(2, 1, 6, 6, dtype=torch.bool)
    mask[0, :, 2] = False  # query 2 of batch 0 sees nothing
    out, w = get_backend("tiled")(q, k, v, mask=mask)
    ref, _ = reference_attention(q, k, v, mask=mask)
    assert w is None and float(out[0, :, 2].abs().max()) == 0.0
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("window", [1, 3, 8])
def test_local_equals_reference_with_the_band_mask(causal, window):
    q, k, v = _qkv(t=17, s=17)
    pad = _pad_mask(2, 17, [17, 12])
    band = sliding_window_mask(17, window, causal=causal)
    ref, _ = reference_attention(q, k, v, mask=pad & band, is_causal=causal)
    out = tiled_attention_core(
        q, k, v, mask=pad, is_causal=causal, scale=None, dropout_p=0.0, window=window, block_q=4, block_k=5
    )
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    # the registered family, with its default blocks and its weights fallback, agrees
    be = get_backend(f"local:{window}")
    torch.testing.assert_close(be(q, k, v, mask=pad, is_causal=causal)[0], ref, atol=1e-12, rtol=1e-12)
    _, w = be(q, k, v, mask=pad, is_causal=causal, need_weights=True)
    assert not w[..., ~band].any()


def test_local_family_names_and_errors():
    assert get_backend("local:64") is get_backend("local:64")
    assert get_backend("local:64").name == "local:64"
    with pytest.raises(ValueError, match="positive window, as in 'local:64'; got 'local:x'"):
        get_backend("local:x")
    with pytest.raises(
        ValueError, match=r"unknown attention backend 'lokal:3'; available: linear, local:<arg>"
    ):
        get_backend("lokal:3")
    q, k, v = _qkv(t=6, s=4)
    with pytest.raises(ValueError, match="needs S >= T"):
        get_backend("local:2")(q, k, v)


@pytest.mark.parametrize(
    "t,s,causal", [(70, 70, True), (9, 9, False), (5, 12, True), (1, 7, True), (300, 310, True)]
)
def test_linear_matches_its_quadratic_form(t, s, causal):
    q, k, v = _qkv(t=t, s=s)
    mask = _pad_mask(2, s, [s, s - 3])
    out, w = linear_attention(q, k, v, mask=mask, is_causal=causal, need_weights=True)
    expect = w @ torch.repeat_interleave(v, 2, dim=1)  # (B, H, T, S) @ (B, H, S, D)
    torch.testing.assert_close(out, expect, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-6, rtol=0)
    assert float(w.min()) >= 0.0 and not w[1, ..., s - 3 :].any()


def test_linear_is_not_softmax_and_rejects_what_it_cannot_do():
    q, k, v = _qkv(t=32, s=32, dtype=torch.float32)
    exact, _ = reference_attention(q, k, v, is_causal=True)
    approx, _ = linear_attention(q, k, v, is_causal=True)
    rel = float((approx - exact).norm() / exact.norm())
    assert 0.05 < rel < 1.0  # a different function, of the same scale (documented in RESULTS.md)
    with pytest.raises(ValueError, match="only key-padding masks"):
        linear_attention(q, k, v, mask=torch.ones(32, 32, dtype=torch.bool))
    with pytest.raises(ValueError, match="no attention dropout"):
        linear_attention(q, k, v, dropout_p=0.1)


@pytest.mark.parametrize("backend", ["tiled", "local:1000", "reference"])
def test_models_select_backends_by_config(backend):
    torch.manual_seed(0)
    kw = dict(vocab_size=50, d_model=32, n_heads=4, n_layers=2, max_seq_len=64)
    ids = torch.randint(0, 50, (2, 20))
    base = Decoder(ModelConfig(**kw)).eval()
    other = Decoder(ModelConfig(**kw, attn_backend=backend)).eval()
    other.load_state_dict(base.state_dict())
    # a window wider than the sequence changes nothing
    torch.testing.assert_close(other(ids).logits, base(ids).logits, atol=1e-5, rtol=1e-5)


def test_capture_records_what_the_backend_uses():
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (1, 12))
    local = Decoder(ModelConfig(vocab_size=50, d_model=32, n_heads=4, attn_backend="local:3")).eval()
    with capture_attention(local) as cap:
        local(ids)
    w = cap.stack()
    assert w.shape == (2, 1, 4, 12, 12) and not w[..., ~sliding_window_mask(12, 3)].any()
    lin = Encoder(ModelConfig(vocab_size=50, d_model=32, n_heads=4, attn_backend="linear")).eval()
    soft = Encoder(ModelConfig(vocab_size=50, d_model=32, n_heads=4)).eval()
    soft.load_state_dict(lin.state_dict())
    maps = []
    for enc in (lin, soft):
        with capture_attention(enc, layers=[0]) as cap:
            enc(ids)
        maps.append(cap.stack())
    assert maps[0].shape == (1, 1, 4, 12, 12)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(1, 1, 4, 12), atol=1e-5, rtol=0)
    assert float((maps[0] - maps[1]).abs().max()) > 1e-3  # linear weights, not softmax ones


@pytest.mark.parametrize("block", [1, 2])
def test_linear_blocks_of_chunks_carry_the_state(monkeypatch, block):
    # 300 queries after a 10-key prefix are 3 chunks: with 1 or 2 chunks per block the running
    # state crosses block boundaries, and the output must not change.
    from attnkit.attention import linear

    q, k, v = _qkv(t=300, s=310)
    whole, w = linear_attention(q, k, v, is_causal=True, need_weights=True)
    monkeypatch.setattr(linear, "BLOCK", block)
    blocked, _ = linear_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(blocked, whole, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(blocked, w @ torch.repeat_interleave(v, 2, dim=1), atol=1e-9, rtol=1e-9)
