"""Norms, feed-forward layers and blocks against their formulas (and torch where it has one)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attnkit.config import ModelConfig
from attnkit.layers import MLP, DecoderBlock, EncoderBlock, RMSNorm, SwiGLU, build_norm


def test_rmsnorm_matches_torch():
    x = torch.randn(3, 5, 16)
    ours = RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
    ref = torch.nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
    torch.testing.assert_close(ours(x), ref(x))


def test_layernorm_without_bias_and_unknown_norm():
    ln = build_norm("layernorm", 8, bias=False)
    assert ln.bias is None
    with pytest.raises(ValueError, match="unknown norm 'batchnorm'"):
        build_norm("batchnorm", 8)


def test_mlp_and_swiglu_formulas():
    x = torch.randn(2, 3, 8)
    mlp = MLP(8, 32)
    torch.testing.assert_close(mlp(x), mlp.down_proj(F.gelu(mlp.up_proj(x))))
    glu = SwiGLU(8, 24)
    want = glu.down_proj(F.silu(glu.gate_proj(x)) * glu.up_proj(x))
    torch.testing.assert_close(glu(x), want)


def _cfg(**kw) -> ModelConfig:
    return ModelConfig(d_model=16, n_heads=2, **kw)


def test_pre_norm_block_formula():
    blk = EncoderBlock(_cfg(norm_position="pre")).eval()
    x = torch.randn(2, 4, 16)
    h = x + blk.self_attn(blk.self_attn_norm(x))
    want = h + blk.ffn(blk.ffn_norm(h))
    torch.testing.assert_close(blk(x), want)


def test_post_norm_block_formula():
    blk = EncoderBlock(_cfg(norm_position="post", norm="rmsnorm", mlp="swiglu")).eval()
    x = torch.randn(2, 4, 16)
    h = blk.self_attn_norm(x + blk.self_attn(x))
    want = blk.ffn_norm(h + blk.ffn(h))
    torch.testing.assert_close(blk(x), want)


def test_decoder_block_with_cross_attention():
    blk = DecoderBlock(_cfg(), cross_attention=True).eval()
    x, ctx = torch.randn(2, 4, 16), torch.randn(2, 7, 16)
    h = x + blk.self_attn(blk.self_attn_norm(x), is_causal=True)
    h = h + blk.cross_attn(blk.cross_attn_norm(h), ctx)
    want = h + blk.ffn(blk.ffn_norm(h))
    torch.testing.assert_close(blk(x, is_causal=True, context=ctx), want)
    with pytest.raises(ValueError, match="has cross-attention: pass context"):
        blk(x, is_causal=True)
    assert EncoderBlock(_cfg()).cross_attn is None
