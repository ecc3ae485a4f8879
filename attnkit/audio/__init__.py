"""Audio front end: WAV reading and log-mel features, beside ``text/`` as the other input modality."""

from attnkit.audio.features import (
    FeatureConfig,
    log_mel,
    mel_filterbank,
    normalize_loudness,
    read_wav,
    spec_augment,
)

__all__ = ["FeatureConfig", "log_mel", "mel_filterbank", "normalize_loudness", "read_wav", "spec_augment"]
