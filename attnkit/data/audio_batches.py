"""Batches of audio frames, and digit strings joined from single recordings.

- :func:`pad_frames`: right-pad ``(T_i, M)`` feature tensors into ``(B, T, M)`` plus the
  ``(B, T)`` bool mask (True = real frame), the one mask convention.
- :func:`draw_string`: which recordings form one joined example, and the silences between them,
  drawn from a seeded generator. Joined strings are *synthetic*: real recordings, concatenated
  with silent gaps, not continuous speech; coarticulation across words is absent.
- :func:`join_waveforms`: the samples of such an example.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def pad_frames(frames: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """``[(T_i, M)]`` -> ``(B, max T, M)`` zeros-padded frames and the ``(B, max T)`` mask."""
    if not frames:
        raise ValueError("pad_frames needs at least one example")
    m = frames[0].shape[-1]
    if any(f.dim() != 2 or f.shape[-1] != m for f in frames):
        raise ValueError(f"every example must be (T, {m}) frames; got {[tuple(f.shape) for f in frames]}")
    t = max(f.shape[0] for f in frames)
    out = frames[0].new_zeros(len(frames), t, m)
    mask = torch.zeros(len(frames), t, dtype=torch.bool)
    for i, f in enumerate(frames):
        out[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return out, mask


def draw_string(
    n_recordings: int,
    gen: torch.Generator,
    *,
    min_words: int,
    max_words: int,
    min_gap: int,
    max_gap: int,
) -> tuple[list[int], list[int]]:
    """Recording indices (``min_words``..``max_words`` of them, uniform, repeats allowed) and
    the ``len - 1`` gaps between them in samples (uniform in ``[min_gap, max_gap]``)."""
    if not 1 <= min_words <= max_words:
        raise ValueError(f"need 1 <= min_words <= max_words, got {min_words} and {max_words}")
    if not 0 <= min_gap <= max_gap:
        raise ValueError(f"need 0 <= min_gap <= max_gap, got {min_gap} and {max_gap}")
    k = int(torch.randint(min_words, max_words + 1, (1,), generator=gen))
    idx = torch.randint(0, n_recordings, (k,), generator=gen).tolist()
    gaps = torch.randint(min_gap, max_gap + 1, (k - 1,), generator=gen).tolist()
    return idx, gaps


def join_waveforms(pieces: Sequence[Tensor], gaps: Sequence[int]) -> Tensor:
    """``pieces[0], gaps[0] zeros, pieces[1], ...`` as one ``(N,)`` waveform."""
    if len(gaps) != len(pieces) - 1:
        raise ValueError(f"{len(pieces)} pieces need {len(pieces) - 1} gaps, got {len(gaps)}")
    out = [pieces[0]]
    for g, p in zip(gaps, pieces[1:], strict=True):
        out += [p.new_zeros(g), p]
    return torch.cat(out)
