"""The speech encoder-decoder and the pooled-feature baseline: shapes, masks, search, attention."""

from __future__ import annotations

import pytest
import torch

from attnkit.config.model import ModelConfig
from attnkit.decode.search import beam_search, greedy_search
from attnkit.models.factory import build_model
from attnkit.models.speech import AudioFrontEnd, PooledFeatureClassifier, SpeechEncoderDecoder
from attnkit.viz.streams import capture_streams


def _cfg(**kw) -> ModelConfig:
    base = dict(vocab_size=20, d_model=32, n_heads=4, n_layers=2, n_encoder_layers=2, input_dim=8,
                max_seq_len=64, positions="sinusoidal", pad_id=0)  # fmt: skip
    return ModelConfig(**{**base, **kw})


@pytest.mark.parametrize("s", [1, 2, 4, 8])
def test_front_end_subsamples_frames_and_mask(s):
    fe = AudioFrontEnd(_cfg(subsample=s)).eval()
    x = torch.randn(2, 21, 8)
    mask = torch.ones(2, 21, dtype=torch.bool)
    mask[1, 13:] = False
    y, m, pos = fe(x, mask)
    n = 21
    for _ in range(len(fe.convs)):
        n = -(-n // 2)
    assert y.shape == (2, n, 32) and m.shape == (2, n) and pos.tolist() == list(range(n))
    real = 13
    for _ in range(len(fe.convs)):
        real = -(-real // 2)
    assert m[1].sum() == real and bool(m[0].all())


def test_encoding_does_not_depend_on_batch_padding():
    model = SpeechEncoderDecoder(_cfg()).eval()
    a, b = torch.randn(17, 8), torch.randn(30, 8)
    alone, _ = model.encode(a[None])
    x = torch.zeros(2, 30, 8)
    x[0, :17], x[1] = a, b
    mask = torch.zeros(2, 30, dtype=torch.bool)
    mask[0, :17], mask[1] = True, True
    x[0, 17:] = 99.0  # garbage in the padding must not leak through the convolutions
    batched, key_mask = model.encode(x, mask)
    n = alone.shape[1]
    assert key_mask[0].sum() == n
    torch.testing.assert_close(batched[0, :n], alone[0], atol=1e-5, rtol=1e-5)


def test_speech_model_trains_like_an_encoder_decoder_and_beam_1_is_greedy():
    torch.manual_seed(0)
    model = build_model(_cfg(), "speech")
    assert isinstance(model, SpeechEncoderDecoder)
    x, mask = torch.randn(3, 24, 8), torch.ones(3, 24, dtype=torch.bool)
    tgt = torch.randint(4, 20, (3, 6))
    out = model(x, tgt, tgt, src_mask=mask)
    assert out.logits.shape == (3, 6, 20) and out.loss is not None and torch.isfinite(out.loss)
    model.eval()
    g = greedy_search(model, x, mask, bos_id=1, eos_id=2, max_len=8)
    b = beam_search(model, x, mask, bos_id=1, eos_id=2, max_len=8, beam_size=1)
    assert g == b and len(g) == 3
    with pytest.raises(ValueError, match=r"expected frames \(B, T, 8\)"):
        model.encode(torch.randn(3, 24, 5))
    with pytest.raises(ValueError, match=r"need model\.input_dim"):
        SpeechEncoderDecoder(_cfg(input_dim=0))


def test_cross_attention_is_letters_by_encoder_frames():
    model = SpeechEncoderDecoder(_cfg(subsample=4)).eval()
    x = torch.randn(1, 40, 8)
    streams = capture_streams(model, x, torch.tensor([[1, 5, 6, 7]]))
    assert streams["cross"].weights.shape == (2, 1, 4, 4, 10)  # (L, B, H, letters, 40/4 frames)
    assert streams["encoder"].weights.shape == (2, 1, 4, 10, 10)
    torch.testing.assert_close(streams["cross"].weights.sum(-1), torch.ones(2, 1, 4, 4))


def test_pooled_baseline_is_logistic_regression_on_hand_pooled_features():
    m = PooledFeatureClassifier(_cfg(arch="logreg", labels=list("abc")))
    x = torch.randn(2, 9, 8)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False
    pooled = m.pool(x, mask)
    r = x[1, :6]  # the second example's real frames, in thirds of 2
    want = torch.cat([r.mean(0), r.std(0, unbiased=False), r[:2].mean(0), r[2:4].mean(0), r[4:6].mean(0)])
    torch.testing.assert_close(pooled[1], want, atol=1e-5, rtol=1e-5)
    assert m(x, mask).shape == (2, 3)
    assert not any(isinstance(mod, torch.nn.MultiheadAttention) for mod in m.modules())
    with pytest.raises(ValueError, match=r"needs model\.labels"):
        PooledFeatureClassifier(_cfg(arch="logreg"))


def test_input_norm_uses_the_stored_training_statistics():
    cfg = _cfg(input_mean=[1.0] * 8, input_std=[2.0] * 8)
    model = SpeechEncoderDecoder(cfg).eval()
    plain = SpeechEncoderDecoder(_cfg()).eval()
    plain.load_state_dict(model.state_dict())  # the statistics are config, not weights
    x = torch.randn(1, 12, 8)
    torch.testing.assert_close(model.encode(x)[0], plain.encode((x - 1.0) / 2.0)[0])
    with pytest.raises(ValueError, match="input_mean has 3 values for input_dim=8"):
        SpeechEncoderDecoder(_cfg(input_mean=[0.0] * 3))
