"""The energy voice-activity detector that cuts strings of words for the one-word baseline."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.audio import SilenceConfig, frame_levels, speech_spans, split_on_silence

RATE = 8000


def _tone(ms: float, amp: float = 0.5, hz: float = 440.0) -> torch.Tensor:
    t = torch.arange(round(RATE * ms / 1000)) / RATE
    return amp * torch.sin(2 * math.pi * hz * t)


def _quiet(ms: float, amp: float = 0.0) -> torch.Tensor:
    n = round(RATE * ms / 1000)
    return amp * torch.randn(n, generator=torch.Generator().manual_seed(0))


def test_frame_levels_are_db_below_the_loudest_frame():
    x = torch.cat([_tone(100, 0.5), _tone(100, 0.05)])  # second half 20 dB quieter
    lv = frame_levels(x, RATE, 10.0)
    assert lv.shape == (20,)
    assert float(lv[:10].max()) == pytest.approx(0.0, abs=1e-4)
    assert float(lv[10:].mean()) == pytest.approx(-20.0, abs=0.1)
    with pytest.raises(ValueError, match=r"mono samples \(N,\)"):
        frame_levels(x.reshape(2, -1), RATE)


def test_spans_find_words_at_pauses_and_bridge_dips_inside_them():
    cfg = SilenceConfig(threshold_db=-45, min_silence_ms=40, min_speech_ms=120, pad_ms=0)
    x = torch.cat(
        [
            _quiet(100, 1e-4),  # a noise floor well under the threshold (-74 dB)
            _tone(200),  # word 1: samples 800..2400
            _quiet(100),  # a pause: cut here
            _tone(150),
            _quiet(20),  # a 20 ms dip (a stop closure): bridged, one word 3200..4560
            _tone(150),
            _quiet(80),
            _tone(50),  # a 50 ms click: dropped
            _quiet(80),
        ]
    )
    assert speech_spans(x, RATE, cfg) == [(800, 2400), (3200, 5760)]
    pieces = split_on_silence(x, RATE, cfg)
    assert [p.numel() for p in pieces] == [1600, 2560]
    assert torch.equal(pieces[0], x[800:2400])


def test_spans_are_padded_within_the_signal_and_silence_has_none():
    x = torch.cat([_tone(200), _quiet(100), _tone(200)])
    spans = speech_spans(x, RATE, SilenceConfig(pad_ms=20))  # 160 samples each side
    assert spans == [(0, 1760), (2240, 4000)]  # 160 samples of padding, clipped at both ends
    assert speech_spans(torch.zeros(4000), RATE) == []
    assert speech_spans(torch.zeros(0), RATE) == []
    assert torch.equal(frame_levels(torch.zeros(800), RATE), torch.full((10,), float("-inf")))
    (whole,) = split_on_silence(_tone(300), RATE)  # one word and no pause: the input itself
    assert torch.equal(whole, _tone(300))
