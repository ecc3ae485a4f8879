"""Audio front end: WAV reading and log-mel features, beside ``text/`` as the other input modality."""

from attnkit.audio.features import (
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
from attnkit.audio.segment import SilenceConfig, frame_levels, speech_spans, split_on_silence

__all__ = [
    "FeatureConfig",
    "SilenceConfig",
    "change_speed",
    "cmvn",
    "featurize",
    "frame_levels",
    "load_audio",
    "log_mel",
    "mel_center_hz",
    "mel_filterbank",
    "normalize_loudness",
    "read_wav",
    "resample",
    "spec_augment",
    "speech_spans",
    "split_on_silence",
    "wav_info",
]
