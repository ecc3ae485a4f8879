"""WAV files -> log-mel frames, with the standard library's ``wave`` and ``torch.stft``.

- :func:`read_wav`: mono 16-bit PCM as float32 in [-1, 1]; anything else is a clear error.
- :func:`normalize_loudness`: scale each recording to a fixed RMS, because recordings of one
  corpus can differ 5x in level (FSDD), which a model would otherwise have to learn around.
- :func:`log_mel`: power STFT (Hann window) -> triangular mel filters (HTK mel scale) -> log.
  Frames are ``(T, n_mels)``, T = 1 + len // hop (centred frames).
- :func:`featurize`: the whole chain a speech model sees: loudness -> log-mel -> optionally
  per-recording mean/variance normalisation of each mel band (:func:`cmvn`).
- :func:`change_speed`: speed perturbation for training (Ko et al. 2015).
- :func:`spec_augment`: random time and frequency masks for training (Park et al. 2019).
"""

from __future__ import annotations

import io
import struct
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
    cmvn: bool = False
    """Normalise each band to mean 0, variance 1 over the recording (:func:`cmvn`). Off, the
    frames keep their average spectrum, which tells short words apart; models then normalise
    with corpus-wide statistics instead."""


def _source(source: str | Path | bytes) -> tuple[str | io.BytesIO, str]:
    """What ``wave.open`` reads, and how errors name it."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), "the uploaded audio"
    p = Path(source)
    if not p.is_file():
        raise FileNotFoundError(f"audio file not found: {p}")
    return str(p), str(p)


def _not_wav(where: str, e: Exception) -> ValueError:
    return ValueError(f"{where} is not a readable WAV file ({e}); convert it to 16-bit PCM WAV")


# What the stdlib reader raises on a malformed header: its own error, a short file, a chunk whose
# size runs past the end (RuntimeError from the chunk reader), a field that does not unpack.
_BAD_WAV = (wave.Error, EOFError, RuntimeError, struct.error)


def wav_info(source: str | Path | bytes) -> tuple[int, int, int, int]:
    """``(channels, sample width in bytes, sample rate, frames)`` of a WAV file or its bytes."""
    handle, where = _source(source)
    try:
        with wave.open(handle, "rb") as w:
            info = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    except _BAD_WAV as e:
        raise _not_wav(where, e) from None
    if info[2] <= 0:
        raise ValueError(f"{where}: the header says {info[2]} Hz; a WAV file needs a positive sample rate")
    return info


def _read(
    source: str | Path | bytes, sample_rate: int | None, max_seconds: float | None, mix: bool
) -> tuple[Tensor, int]:
    """Samples and their rate; the header is checked before any sample is read."""
    handle, p = _source(source)
    try:
        with wave.open(handle, "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            if (channels != 1 and not mix) or width != 2:
                raise ValueError(
                    f"{p}: {channels} channel(s) of {8 * width}-bit samples; attnkit reads mono 16-bit "
                    "PCM (e.g. `sox in.wav -c 1 -b 16 out.wav`)"
                )
            if rate <= 0:
                raise ValueError(f"{p}: the header says {rate} Hz; a WAV file needs a positive sample rate")
            if sample_rate is not None and rate != sample_rate:
                raise ValueError(f"{p}: sample rate {rate} Hz, expected {sample_rate} Hz; resample it first")
            if n == 0:
                raise ValueError(f"{p}: the recording is empty")
            if max_seconds is not None and n / rate > max_seconds:
                raise ValueError(f"{p}: {n / rate:.1f} s of audio, more than the {max_seconds:g} s limit")
            raw = w.readframes(n)
    except _BAD_WAV as e:
        raise _not_wav(p, e) from None
    n = len(raw) // (2 * channels)  # a truncated file holds fewer frames than its header says
    if n == 0:
        raise ValueError(f"{p}: the recording is empty (or truncated before its first sample)")
    samples = torch.frombuffer(bytearray(raw[: 2 * channels * n]), dtype=torch.int16).float() / 32768.0
    return (
        samples.view(n, channels).mean(1) if channels > 1 else samples
    ), rate  # (N*ch,) -> (N, ch) -> (N,)


def read_wav(
    path: str | Path | bytes, *, sample_rate: int | None = None, max_seconds: float | None = None,
    mix: bool = False,
) -> Tensor:  # fmt: skip
    """Samples ``(N,)`` float32 in [-1, 1] from a mono 16-bit PCM WAV file (or its bytes);
    ``mix`` also accepts stereo and other channel counts, averaged to mono.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a WAV file, not mono 16-bit PCM, another sample rate than asked, empty,
            or longer than ``max_seconds``, each naming the file and the fix.
    """
    return _read(path, sample_rate, max_seconds, mix)[0]


def resample(x: Tensor, from_rate: int, to_rate: int) -> Tensor:
    """Band-limited resampling of ``(N,)`` samples by cutting or zero-padding the spectrum
    (content above the lower Nyquist frequency is dropped, which is the anti-aliasing)."""
    if from_rate == to_rate:
        return x
    n = x.numel()
    m = max(1, round(n * to_rate / from_rate))
    spec = torch.fft.rfft(x.double())
    keep = min(spec.numel(), m // 2 + 1)
    out = torch.zeros(m // 2 + 1, dtype=spec.dtype)
    out[:keep] = spec[:keep]
    return (torch.fft.irfft(out, n=m) * (m / n)).to(x.dtype)


def load_audio(source: str | Path | bytes, cfg: FeatureConfig = FeatureConfig()) -> Tensor:
    """Any mono or multi-channel 16-bit PCM WAV (path or bytes) as ``(N,)`` samples at
    ``cfg.sample_rate``, at most ``cfg.max_seconds`` long (what a user's own file goes through
    before :func:`featurize`)."""
    samples, rate = _read(source, None, cfg.max_seconds, True)
    return resample(samples, rate, cfg.sample_rate)


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


def cmvn(feats: Tensor, eps: float = 1e-5) -> Tensor:
    """``(T, M)`` frames with each band shifted to mean 0 and scaled to variance 1 over time."""
    mean = feats.mean(0, keepdim=True)
    std = feats.std(0, keepdim=True, unbiased=False) if feats.shape[0] > 1 else torch.ones_like(mean)
    return (feats - mean) / (std + eps)


def featurize(samples: Tensor, cfg: FeatureConfig = FeatureConfig()) -> Tensor:
    """``(N,)`` samples -> ``(T, n_mels)`` loudness-normalised log-mel frames (the model's
    input), band-normalised per recording when ``cfg.cmvn``."""
    feats = log_mel(normalize_loudness(samples, cfg.target_rms), cfg)
    return cmvn(feats) if cfg.cmvn else feats


def change_speed(x: Tensor, factor: float, sample_rate: int) -> Tensor:
    """``x`` played ``factor`` times faster (tempo and pitch together, as speed perturbation in
    speech recognition does): read as if recorded at ``factor * rate``, resampled to ``rate``."""
    return resample(x, round(factor * sample_rate), sample_rate)
