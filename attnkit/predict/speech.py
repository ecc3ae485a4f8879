"""Speech models: WAV files or waveforms in, transcripts out."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import torch

from attnkit.audio.segment import SilenceConfig, speech_spans
from attnkit.predict.base import Predictor

Audio = str | os.PathLike | bytes | torch.Tensor


def checked_wave(wave: torch.Tensor, fcfg: Any) -> torch.Tensor:
    """``wave`` as float ``(N,)`` samples, refused if empty, not 1-D, or over ``fcfg.max_seconds``."""
    if wave.dim() != 1 or wave.numel() == 0:
        raise ValueError(f"expected non-empty (N,) samples, got shape {tuple(wave.shape)}")
    if wave.numel() > fcfg.max_seconds * fcfg.sample_rate:
        raise ValueError(f"{wave.numel() / fcfg.sample_rate:.1f} s of audio, more than the "
                         f"{fcfg.max_seconds:g} s limit; cut it into shorter pieces")  # fmt: skip
    return wave.float()


class SpeechPredictor(Predictor):
    @property
    def features_config(self) -> Any:
        from attnkit.tasks.speech import feature_config

        return feature_config(self.lm.cfg.data)

    def audio_waveform(self, audio: str | os.PathLike | bytes) -> torch.Tensor:
        """The ``(N,)`` samples of a WAV path (or the file's bytes) at this checkpoint's rate, mono."""
        from attnkit.audio import load_audio

        return load_audio(audio, self.features_config)

    def audio_features(self, audio: Audio) -> torch.Tensor:
        """The ``(T, n_mels)`` frames the model reads for a WAV path (or the file's bytes) or
        ``(N,)`` samples at its sample rate (files are mixed to mono and resampled; see
        :func:`attnkit.audio.load_audio`)."""
        from attnkit.audio import featurize

        fcfg = self.features_config
        wave = audio if isinstance(audio, torch.Tensor) else self.audio_waveform(audio)
        return featurize(checked_wave(wave, fcfg), fcfg)

    def transcribe(
        self, audio: Sequence[Audio], *, split_on_silence: bool | SilenceConfig = False, **decode: Any
    ) -> list[str]:
        """The transcript of each WAV file (or ``(N,)`` waveform).

        ``split_on_silence`` (True, or a :class:`SilenceConfig`) cuts each input at its pauses
        and joins the pieces' transcripts with spaces (see :meth:`transcribe_pieces`)."""
        if not split_on_silence:
            return self.transcribe_frames([self.audio_features(a) for a in audio], **decode)
        silence = split_on_silence if isinstance(split_on_silence, SilenceConfig) else None
        return [" ".join(t for _, _, t in ps) for ps in self.transcribe_pieces(audio, silence, **decode)]

    def transcribe_pieces(
        self, audio: Sequence[Audio], silence: SilenceConfig | None = None, **decode: Any
    ) -> list[list[tuple[float, float, str]]]:
        """Each input cut at its pauses (:func:`attnkit.audio.speech_spans`), every piece
        transcribed on its own: ``[(start s, end s, transcript)]`` per input, none for silence.
        How a model trained on single words reads a string of them. Every input is read and
        checked before any decoding."""
        fcfg = self.features_config
        sr = fcfg.sample_rate
        waves = [
            checked_wave(a if isinstance(a, torch.Tensor) else self.audio_waveform(a), fcfg) for a in audio
        ]
        spans = [speech_spans(w, sr, silence or SilenceConfig()) for w in waves]
        frames = [self.audio_features(w[s:e]) for w, sp in zip(waves, spans, strict=True) for s, e in sp]
        said = iter(self.transcribe_frames(frames, **decode))
        return [[(s / sr, e / sr, next(said)) for s, e in sp] for sp in spans]

    def transcribe_frames(self, frames: Sequence[torch.Tensor], **decode: Any) -> list[str]:
        """The transcript of each ``(T, n_mels)`` feature tensor (from :meth:`audio_features`)."""
        from attnkit.decode.speech import transcribe

        cfg = dataclasses.replace(self.lm.cfg.decode, **decode)
        return transcribe(self.lm.model, self.lm.tokenizer, frames, cfg)

    def decoded_scores(self, split: str, limit: int | None, **decode: Any) -> dict:
        """Transcripts of the split (first ``limit``) with accuracy/WER/CER, under ``"hypotheses"``."""
        task = self.lm.task
        hyps = self.transcribe_frames(task.features(split)[:limit], **decode)
        return {**task.score(hyps, split), "hypotheses": hyps}
