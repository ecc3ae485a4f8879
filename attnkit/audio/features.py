"""WAV files -> log-mel frames, with the standard library's ``wave`` and ``torch.stft``.

- :func:`read_wav`: mono 16-bit PCM as float32 in [-1, 1]; anything else is a clear error.
- :func:`normalize_loudness`: scale each recording to a fixed RMS, because recordings of one
  corpus can differ 5x in level (FSDD), which a model would otherwise have to learn around.
- :func:`log_mel`: power STFT (Hann window) -> triangular mel filters (HTK mel scale) -> log.
  Frames are ``(T, n_mels)``, T = 1 + len // hop (centred frames).
- :func:`spec_augment`: random time and frequency masks for training (Park et al. 2019).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 8000
    n_fft: int = 256
    """STFT window length in samples (32 ms at 8 kHz)."""
    hop: int = 80
    """Frame step in samples (10 ms at 8 kHz)."""
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float | None = None
    """Highest filter edge; None = Nyquist."""
    target_rms: float = 0.1
    """Loudness each recording is scaled to."""
    max_seconds: float = 10.0
    """Longer audio is refused (a clear error, not a slow model)."""


def read_wav(path: str | Path, *, sample_rate: int | None = None, max_seconds: float | None = None) -> Tensor:
    """Samples ``(N,)`` float32 in [-1, 1] from a mono 16-bit PCM WAV file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a WAV file, not mono 16-bit PCM, another sample rate than asked, empty,
            or longer than ``max_seconds``, each naming the file and the fix.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"audio file not found: {p}")
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{p} is not a readable WAV file ({e}); convert it to 16-bit PCM WAV") from None
    if channels != 1 or width != 2:
        raise ValueError(
            f"{p}: {channels} channel(s) of {8 * width}-bit samples; attnkit reads mono 16-bit PCM "
            "(e.g. `sox in.wav -c 1 -b 16 out.wav`)"
        )
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(f"{p}: sample rate {rate} Hz, expected {sample_rate} Hz; resample it first")
    if n == 0:
        raise ValueError(f"{p}: the recording is empty")
    if max_seconds is not None and n / rate > max_seconds:
        raise ValueError(f"{p}: {n / rate:.1f} s of audio, more than the {max_seconds:g} s limit")
    samples = torch.frombuffer(bytearray(raw), dtype=torch.int16).float()
    return samples / 32768.0


def normalize_loudness(x: Tensor, target_rms: float = 0.1, eps: float = 1e-8) -> Tensor:
    """``x`` scaled so that its RMS is ``target_rms`` (silence stays silence)."""
    rms = x.pow(2).mean(-1, keepdim=True).sqrt()
    return x * (target_rms / rms.clamp_min(eps))


def _hz_to_mel(f: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def _mel_to_hz(m: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(cfg: FeatureConfig) -> Tensor:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters, equally spaced on the mel scale."""
    f_max = cfg.f_max or cfg.sample_rate / 2
    if not 0 <= cfg.f_min < f_max <= cfg.sample_rate / 2:
        raise ValueError(
            f"need 0 <= f_min < f_max <= Nyquist ({cfg.sample_rate / 2}), got {cfg.f_min}, {f_max}"
        )
    n_bins = cfg.n_fft // 2 + 1
    freqs = torch.linspace(0, cfg.sample_rate / 2, n_bins)  # (F,)
    edges = _mel_to_hz(
        torch.linspace(_hz_to_mel(torch.tensor(cfg.f_min)), _hz_to_mel(torch.tensor(f_max)), cfg.n_mels + 2)
    )
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1) each
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0.0)  # (M, F)


def log_mel(x: Tensor, cfg: FeatureConfig = FeatureConfig()) -> Tensor:
    """``(N,)`` samples -> ``(T, n_mels)`` log-mel frames (natural log of power + 1e-6)."""
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"expected a non-empty (N,) waveform, got shape {tuple(x.shape)}")
    window = torch.hann_window(cfg.n_fft, device=x.device)
    # Reflect padding needs more samples than half a window; very short clips pad with zeros.
    pad = "reflect" if x.numel() > cfg.n_fft // 2 else "constant"
    spec = torch.stft(
        x, cfg.n_fft, cfg.hop, window=window, center=True, pad_mode=pad, return_complex=True
    )  # (F, T)
    power = spec.abs().pow(2)
    mel = mel_filterbank(cfg).to(x.device) @ power  # (M, F) @ (F, T) -> (M, T)
    return torch.log(mel + 1e-6).t()  # (M, T) -> (T, M)


def spec_augment(
    feats: Tensor, generator: torch.Generator, *, time_masks: int = 2, time_width: int = 10,
    freq_masks: int = 2, freq_width: int = 6,
) -> Tensor:  # fmt: skip
    """A copy of ``(T, M)`` features with random time and frequency bands set to their mean."""
    out = feats.clone()
    t, m = out.shape
    fill = out.mean()
    for _ in range(time_masks):
        w = int(torch.randint(0, time_width + 1, (1,), generator=generator))
        s = int(torch.randint(0, max(t - w, 0) + 1, (1,), generator=generator))
        out[s : s + w] = fill
    for _ in range(freq_masks):
        w = int(torch.randint(0, freq_width + 1, (1,), generator=generator))
        s = int(torch.randint(0, max(m - w, 0) + 1, (1,), generator=generator))
        out[:, s : s + w] = fill
    return out


def mel_center_hz(cfg: FeatureConfig) -> Tensor:
    """Centre frequency of each mel filter, ``(n_mels,)``."""
    f_max = cfg.f_max or cfg.sample_rate / 2
    m = torch.linspace(_hz_to_mel(torch.tensor(cfg.f_min)), _hz_to_mel(torch.tensor(f_max)), cfg.n_mels + 2)
    return _mel_to_hz(m[1:-1])
