"""Audio front end: WAV reading and log-mel features, beside ``text/`` as the other input modality."""

from attnkit.audio.features import (
    FeatureConfig,
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
)

__all__ = [
    "FeatureConfig",
    "cmvn",
    "featurize",
    "load_audio",
    "log_mel",
    "mel_center_hz",
    "mel_filterbank",
    "normalize_loudness",
    "read_wav",
    "resample",
    "spec_augment",
]
