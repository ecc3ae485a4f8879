"""MultiHeadAttention against torch.nn.MultiheadAttention and the seed article's module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnkit.attention import capture_attention
from attnkit.data import masks
from attnkit.layers import MultiHeadAttention, SelfAttention

C, H = 32, 4


def _from_torch(ref: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy torch's packed in_proj [q; k; v] into attnkit's separate projections."""
    mha = MultiHeadAttention(C, H)
    wq, wk, wv = ref.in_proj_weight.detach().chunk(3)
    bq, bk, bv = ref.in_proj_bias.detach().chunk(3)
    with torch.no_grad():
        for lin, w, b in ((mha.q_proj, wq, bq), (mha.k_proj, wk, bk), (mha.v_proj, wv, bv)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mha.out_proj.weight.copy_(ref.out_proj.weight)
        mha.out_proj.bias.copy_(ref.out_proj.bias)
    return mha


@pytest.mark.parametrize("backend", ["reference", "sdpa"])
def test_self_attention_with_key_padding_matches_torch(backend):
    ref = nn.MultiheadAttention(C, H, batch_first=True).eval()
    mha = _from_torch(ref).eval()
    mha.set_backend(backend)
    x = torch.randn(3, 7, C)
    lengths = torch.tensor([7, 4, 1])
    keep = masks.lengths_to_padding_mask(lengths, 7)  # True = real token
    # torch's key_padding_mask has the opposite polarity: True = ignore.
    want, want_w = ref(x, x, x, key_padding_mask=~keep, need_weights=True, average_attn_weights=False)
    with capture_attention(mha) as cap:
        got = mha(x, mask=masks.expand_padding(keep))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cap.records[""][0], want_w, atol=1e-6, rtol=1e-5)


def test_causal_attn_mask_and_cross_attention_match_torch():
    ref = nn.MultiheadAttention(C, H, batch_first=True).eval()
    mha = _from_torch(ref).eval()
    x, ctx = torch.randn(2, 5, C), torch.randn(2, 9, C)
    # torch's bool attn_mask: True = not allowed.
    causal = masks.causal_mask(5)
    want, _ = ref(x, x, x, attn_mask=~causal)
    torch.testing.assert_close(mha(x, is_causal=True), want, atol=1e-5, rtol=1e-5)
    want, _ = ref(x, ctx, ctx)
    torch.testing.assert_close(mha(x, ctx), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_seed_article_module_equals_multihead_attention(causal):
    seed = SelfAttention(C, H).eval()
    mha = MultiHeadAttention(C, H).eval()
    with torch.no_grad():
        for src, dst in (
            (seed.q_linear, mha.q_proj),
            (seed.k_linear, mha.k_proj),
            (seed.v_linear, mha.v_proj),
            (seed.out, mha.out_proj),
        ):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    x = torch.randn(2, 6, C)
    keep = masks.expand_padding(torch.tensor([[True] * 6, [True] * 3 + [False] * 3]))
    torch.testing.assert_close(
        seed(x, keep, causal=causal), mha(x, mask=keep, is_causal=causal), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(seed(x), mha(x), atol=1e-5, rtol=1e-5)


def test_seed_module_fully_masked_row_is_zero_not_nan():
    seed = SelfAttention(8, 2)
    x = torch.randn(1, 3, 8, requires_grad=True)
    out = seed(x, torch.zeros(1, 1, 1, 3, dtype=torch.bool))
    torch.testing.assert_close(out, seed.out.bias.expand(1, 3, 8))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_gqa_projection_sizes_and_output(n_kv_heads):
    mha = MultiHeadAttention(C, H, n_kv_heads, bias=False)
    assert mha.k_proj.weight.shape == (n_kv_heads * C // H, C)
    assert mha.q_proj.bias is None
    # GQA equals full MHA whose K/V projections repeat each kv head for its query group.
    full = MultiHeadAttention(C, H, bias=False)
    d = C // H
    with torch.no_grad():
        full.q_proj.weight.copy_(mha.q_proj.weight)
        full.out_proj.weight.copy_(mha.out_proj.weight)
        for src, dst in ((mha.k_proj, full.k_proj), (mha.v_proj, full.v_proj)):
            w = src.weight.view(n_kv_heads, d, C).repeat_interleave(H // n_kv_heads, 0)
            dst.weight.copy_(w.reshape(C, C))
    x = torch.randn(2, 5, C)
    torch.testing.assert_close(mha(x, is_causal=True), full(x, is_causal=True), atol=1e-5, rtol=1e-5)


def test_bad_configuration_and_input_errors():
    with pytest.raises(ValueError, match="d_model=30 is not divisible by n_heads=4"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="n_heads=4 is not divisible by n_kv_heads=3"):
        MultiHeadAttention(32, 4, 3)
    with pytest.raises(ValueError, match="unknown attention backend 'nope'"):
        MultiHeadAttention(32, 4, backend="nope")
    with pytest.raises(ValueError, match="embed_dim=30 is not divisible by num_heads=4"):
        SelfAttention(30, 4)
    mha = MultiHeadAttention(32, 4)
    with pytest.raises(ValueError, match=r"expected x of shape \(B, T, 32\), got \(2, 5, 16\)"):
        mha(torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 1, 4\) does not broadcast"):
        mha(torch.randn(2, 5, 32), mask=torch.ones(2, 1, 1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"context must be \(B=2, S, C_kv\)"):
        mha(torch.randn(2, 5, 32), torch.randn(3, 4, 32))
