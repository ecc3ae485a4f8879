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

__all__ = [
    "FeatureConfig",
    "change_speed",
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
    "wav_info",
]
