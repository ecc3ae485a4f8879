"""The GRU + Bahdanau attention baseline: shapes, masking, padding invariance, cached decoding."""

from __future__ import annotations

import torch

from attnkit.config import ModelConfig
from attnkit.models.rnn_seq2seq import AdditiveAttention, GRUSeq2Seq, RNNDecoderState


def _model(**kw) -> GRUSeq2Seq:
    cfg = ModelConfig(
        arch="rnn", vocab_size=30, src_vocab_size=25, d_model=16, n_layers=1, n_heads=1, pad_id=0
    )
    for k, v in kw.items():
        setattr(cfg, k, v)
    return GRUSeq2Seq(cfg).eval()


def test_shapes_and_loss():
    m = _model()
    src = torch.randint(1, 25, (3, 7))
    tgt = torch.randint(1, 30, (3, 5))
    out = m(src, tgt, targets=tgt)
    assert out.logits.shape == (3, 5, 30)
    assert out.loss is not None and out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert m.lm_head.weight is m.tgt_embed.weight  # tied by default


def test_additive_attention_masks_and_normalises():
    att = AdditiveAttention(8)
    q, k = torch.randn(2, 8), torch.randn(2, 5, 8)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    ctx, w = att(q, att.w_k(k), k, mask)
    assert ctx.shape == (2, 8)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    assert float(w[0, 3:].detach().abs().max()) == 0.0
    # the context is exactly the weighted sum of the values
    torch.testing.assert_close(ctx, torch.einsum("bs,bsc->bc", w, k))


def test_padding_does_not_change_outputs():
    m = _model()
    src = torch.randint(1, 25, (1, 6))
    tgt = torch.randint(1, 30, (1, 4))
    alone = m(src, tgt).logits
    padded_src = torch.cat([src, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    other = torch.randint(1, 25, (1, 11))
    batch = torch.cat([padded_src, other])
    both = m(batch, torch.cat([tgt, tgt])).logits
    torch.testing.assert_close(both[:1], alone, atol=1e-5, rtol=1e-5)


def test_stepwise_cached_decoding_equals_teacher_forcing():
    m = _model()
    src = torch.randint(1, 25, (2, 6))
    tgt = torch.randint(1, 30, (2, 5))
    full = m(src, tgt).logits
    memory, mask = m.encode(src)
    state = m.new_cache(2)
    steps = [m.decode(tgt[:, t : t + 1], memory, mask, cache=state).logits for t in range(5)]
    assert isinstance(state, RNNDecoderState) and state.length == 5
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_state_reorder_follows_beam_index():
    m = _model()
    memory, mask = m.encode(torch.randint(1, 25, (3, 4)))
    state = m.new_cache(3)
    m.decode(torch.randint(1, 30, (3, 1)), memory, mask, cache=state)
    h = state.h.clone()
    state.reorder(torch.tensor([2, 2, 0]))
    torch.testing.assert_close(state.h, h[[2, 2, 0]])
