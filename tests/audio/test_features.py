"""The audio front end: WAV reading, loudness, log-mel frames, SpecAugment."""

from __future__ import annotations

import math
import struct
import wave

import pytest
import torch

from attnkit.audio import (
    FeatureConfig,
    change_speed,
    cmvn,
    featurize,
    load_audio,
    log_mel,
    mel_center_hz,
    mel_filterbank,
    normalize_loudness,
    read_wav,
    resample,
    spec_augment,
    wav_info,
)


def _write_wav(path, samples, rate=8000, channels=1, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32767)) for s in samples))
        else:
            w.writeframes(bytes(len(samples) * width * channels))


def _sine(freq, seconds=0.5, rate=8000, amp=0.5):
    return [amp * math.sin(2 * math.pi * freq * i / rate) for i in range(int(seconds * rate))]


def test_read_wav_round_trips_samples(tmp_path):
    s = _sine(440, 0.1)
    _write_wav(tmp_path / "a.wav", s)
    x = read_wav(tmp_path / "a.wav", sample_rate=8000)
    assert x.dtype == torch.float32 and x.shape == (800,)
    torch.testing.assert_close(x, torch.tensor(s), atol=1 / 16000, rtol=0)


def test_read_wav_errors_name_the_problem(tmp_path):
    (tmp_path / "t.wav").write_text("not audio")
    cases = [
        (tmp_path / "missing.wav", FileNotFoundError, "audio file not found"),
        (tmp_path / "t.wav", ValueError, "not a readable WAV file"),
    ]
    _write_wav(tmp_path / "stereo.wav", [0.0] * 10, channels=2, width=1)
    cases.append((tmp_path / "stereo.wav", ValueError, "mono 16-bit PCM"))
    _write_wav(tmp_path / "empty.wav", [])
    cases.append((tmp_path / "empty.wav", ValueError, "empty"))
    for path, err, msg in cases:
        with pytest.raises(err, match=msg):
            read_wav(path)
    _write_wav(tmp_path / "r.wav", _sine(100, 0.2, rate=16000), rate=16000)
    with pytest.raises(ValueError, match="sample rate 16000 Hz, expected 8000 Hz"):
        read_wav(tmp_path / "r.wav", sample_rate=8000)
    with pytest.raises(ValueError, match=r"more than the 0\.1 s limit"):
        read_wav(tmp_path / "r.wav", max_seconds=0.1)


def test_loudness_normalisation_equalises_rms():
    quiet, loud = 0.02 * torch.randn(4000), 0.5 * torch.randn(4000)
    for x in (quiet, loud):
        assert abs(float(normalize_loudness(x, 0.1).pow(2).mean().sqrt()) - 0.1) < 1e-5
    assert torch.equal(normalize_loudness(torch.zeros(10)), torch.zeros(10))


def test_log_mel_shape_and_a_sine_peaks_in_its_band():
    cfg = FeatureConfig()
    x = torch.tensor(_sine(1000.0, 0.5))
    f = log_mel(x, cfg)
    assert f.shape == (1 + 4000 // cfg.hop, cfg.n_mels)  # (T, n_mels), centred frames
    peak = int(f[5:-5].mean(0).argmax())
    centres = mel_center_hz(cfg)
    assert int((centres - 1000.0).abs().argmin()) == peak  # the filter centred nearest 1 kHz
    fb = mel_filterbank(cfg)
    assert fb.shape == (cfg.n_mels, cfg.n_fft // 2 + 1) and float(fb.min()) == 0.0
    assert log_mel(torch.zeros(50)).shape == (1, cfg.n_mels)  # shorter than half a window
    with pytest.raises(ValueError, match="non-empty"):
        log_mel(torch.zeros(0))


def test_spec_augment_masks_bands_with_the_mean():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(100, 40)
    out = spec_augment(f, g, time_masks=1, time_width=10, freq_masks=1, freq_width=5)
    changed = out != f
    assert out.shape == f.shape and bool(changed.any())
    assert torch.all(out[changed] == f.mean())  # masked cells hold the mean, nothing else moved
    assert torch.equal(spec_augment(f, torch.Generator().manual_seed(0), time_masks=1, time_width=10,
                                    freq_masks=1, freq_width=5), out)  # fmt: skip


def test_featurize_ignores_level_and_optionally_normalises_each_band():
    x = torch.tensor(_sine(700.0, 0.4)) + 0.01 * torch.randn(3200)
    f = featurize(x)
    assert f.shape == (1 + 3200 // 80, 40)
    torch.testing.assert_close(featurize(0.05 * x), f, atol=1e-3, rtol=0)  # 20x quieter, same frames
    torch.testing.assert_close(f, log_mel(normalize_loudness(x, 0.1)))
    g = featurize(x, FeatureConfig(cmvn=True))
    torch.testing.assert_close(g.mean(0), torch.zeros(40), atol=1e-4, rtol=0)
    torch.testing.assert_close(g.std(0, unbiased=False), torch.ones(40), atol=1e-3, rtol=0)
    assert torch.equal(cmvn(torch.ones(1, 3)), torch.zeros(1, 3))  # one frame: shift only


def test_change_speed_scales_length_and_frequency():
    x = torch.tensor(_sine(500.0, 1.0))
    y = change_speed(x, 1.25, 8000)  # 25% faster: 0.8 s long, 625 Hz
    assert y.shape == (6400,)
    spec = torch.fft.rfft(y).abs()
    assert abs(int(spec.argmax()) / 0.8 - 625.0) <= 1.25  # bin k of 0.8 s is k / 0.8 Hz


def test_resample_keeps_a_sine_at_its_frequency():
    x = torch.tensor(_sine(440.0, 1.0, rate=16000))
    y = resample(x, 16000, 8000)
    assert y.shape == (8000,)
    spec = torch.fft.rfft(y).abs()
    assert int(spec.argmax()) == 440  # 1 s of audio: bin k is k Hz
    assert abs(float(y.pow(2).mean().sqrt()) - float(x.pow(2).mean().sqrt())) < 1e-3  # level kept
    assert resample(x, 16000, 16000) is x
    z = resample(torch.tensor(_sine(3000.0, 1.0, rate=16000)), 16000, 4000)  # above the new Nyquist
    assert float(z.abs().max()) < 1e-3


def test_wav_bytes_stereo_mix_truncation_and_load_audio(tmp_path):
    s = _sine(300, 0.1, rate=16000)
    _write_wav(tmp_path / "m.wav", s, rate=16000)
    data = (tmp_path / "m.wav").read_bytes()
    assert wav_info(data) == (1, 2, 16000, 1600)
    torch.testing.assert_close(read_wav(data), read_wav(tmp_path / "m.wav"), atol=0, rtol=0)
    x = load_audio(data)  # resampled to the default 8 kHz
    assert x.shape == (800,)
    with wave.open(str(tmp_path / "st.wav"), "wb") as w:  # left = +0.5, right = -0.25 -> mean 0.125
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<hh", 16384, -8192) * 100)
    with pytest.raises(ValueError, match="mono 16-bit PCM"):
        read_wav(tmp_path / "st.wav")
    torch.testing.assert_close(read_wav(tmp_path / "st.wav", mix=True), torch.full((100,), 0.125))
    cut = data[: 44 + 100]  # header says 1600 frames, 50 are there
    assert read_wav(cut).shape == (50,)
    with pytest.raises(ValueError, match="not a readable WAV"):
        read_wav(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match=r"more than the 10 s limit"):
        load_audio(b"".join([data[:40], struct.pack("<I", 16000 * 2 * 11)]) + bytes(16000 * 2 * 11))
