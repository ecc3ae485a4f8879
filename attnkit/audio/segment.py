"""Cut a recording into spoken pieces at its pauses: an energy voice-activity detector.

The non-attention speech baseline classifies one word at a time, so on a string of words it
needs the word boundaries from somewhere. :func:`split_on_silence` finds them the classic way:
frames whose level stays well below the recording's loudest frame, for long enough, are a
pause. The Transformer needs no such step; its cross-attention finds the words itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SilenceConfig:
    """When a stretch of audio counts as a pause between words.

    The defaults were chosen on FSDD's validation digit strings, never on test: thresholds and
    durations from a grid where every one of the 500 strings gets the right number of pieces;
    the padding by the one-word models' WER (wider padding takes in the strings' digital
    silence, which no training recording has: 50 ms doubled the logistic regression's WER)."""

    threshold_db: float = -45.0  # a frame is quiet below this level, relative to the loudest frame
    min_silence_ms: float = 40.0  # shorter quiet stretches are inside a word (stop closures: "six")
    min_speech_ms: float = 120.0  # shorter loud stretches are clicks or breaths, dropped
    frame_ms: float = 10.0
    pad_ms: float = 10.0  # kept on each side of a piece, so onsets and releases are not clipped


def frame_levels(x: Tensor, sample_rate: int, frame_ms: float = 10.0) -> Tensor:
    """Level of each non-overlapping ``frame_ms`` frame in dB relative to the loudest: ``(F,)``, max 0."""
    if x.dim() != 1:
        raise ValueError(f"expected mono samples (N,), got shape {tuple(x.shape)}")
    hop = max(1, round(sample_rate * frame_ms / 1000))
    n = x.numel() // hop
    if n == 0:
        return x.new_zeros(0)
    rms = x[: n * hop].reshape(n, hop).pow(2).mean(-1).sqrt()  # (N,) -> (F, hop) -> (F,)
    if float(rms.max()) == 0.0:  # digital silence throughout: nothing is loud, not everything
        return torch.full_like(rms, float("-inf"))
    return 20 * torch.log10(rms.clamp_min(1e-10) / rms.max())


def _runs(flags: list[bool]) -> list[tuple[bool, int, int]]:
    """``[(value, start, end)]`` for each maximal run of equal values."""
    out: list[tuple[bool, int, int]] = []
    for i, f in enumerate(flags):
        if out and out[-1][0] == f:
            out[-1] = (f, out[-1][1], i + 1)
        else:
            out.append((f, i, i + 1))
    return out


def speech_spans(x: Tensor, sample_rate: int, cfg: SilenceConfig = SilenceConfig()) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges of the spoken pieces of ``x``, in order.

    A quiet run shorter than ``min_silence_ms`` is bridged (it is part of a word); then loud runs
    shorter than ``min_speech_ms`` are dropped. An all-quiet (or empty) input has no pieces."""
    levels = frame_levels(x, sample_rate, cfg.frame_ms)
    if levels.numel() == 0 or float(levels.max()) == float("-inf"):  # empty, or digital silence
        return []
    hop = max(1, round(sample_rate * cfg.frame_ms / 1000))
    min_quiet = max(1, round(cfg.min_silence_ms / cfg.frame_ms))
    min_loud = max(1, round(cfg.min_speech_ms / cfg.frame_ms))
    loud = (levels > cfg.threshold_db).tolist()
    runs = _runs(loud)
    for k, (value, s, e) in enumerate(runs):  # bridge short pauses between loud runs
        if not value and 0 < k < len(runs) - 1 and e - s < min_quiet:
            loud[s:e] = [True] * (e - s)
    pad = round(sample_rate * cfg.pad_ms / 1000)
    return [
        (max(0, s * hop - pad), min(x.numel(), e * hop + pad))
        for value, s, e in _runs(loud)
        if value and e - s >= min_loud
    ]


def split_on_silence(x: Tensor, sample_rate: int, cfg: SilenceConfig = SilenceConfig()) -> list[Tensor]:
    """The spoken pieces of ``x`` (views of it), cut at its pauses; see :func:`speech_spans`."""
    return [x[s:e] for s, e in speech_spans(x, sample_rate, cfg)]
