"""Build the model a config names: ``(family, cfg.arch)`` -> class."""

from __future__ import annotations

from typing import Literal

from attnkit.config.model import ModelConfig
from attnkit.models.base import AttnkitModel
from attnkit.models.classifier import CNNClassifier, FastTextClassifier, LSTMClassifier, TransformerClassifier
from attnkit.models.conv_lm import ConvLanguageModel
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder
from attnkit.models.lstm import LSTMLanguageModel
from attnkit.models.rnn_seq2seq import GRUSeq2Seq
from attnkit.models.seq2seq import EncoderDecoder
from attnkit.models.speech import PooledFeatureClassifier, SpeechEncoderDecoder

Family = Literal["decoder", "encoder", "seq2seq", "classifier", "speech"]

_BUILDERS = {
    ("decoder", "transformer"): Decoder,
    ("decoder", "lstm"): LSTMLanguageModel,
    ("decoder", "cnn"): ConvLanguageModel,
    ("encoder", "transformer"): Encoder,
    ("seq2seq", "transformer"): EncoderDecoder,
    ("seq2seq", "rnn"): GRUSeq2Seq,
    ("classifier", "transformer"): TransformerClassifier,
    ("classifier", "cnn"): CNNClassifier,
    ("classifier", "lstm"): LSTMClassifier,
    ("classifier", "fasttext"): FastTextClassifier,
    ("speech", "transformer"): SpeechEncoderDecoder,
    ("speech", "logreg"): PooledFeatureClassifier,
}


def build_model(cfg: ModelConfig, family: Family = "decoder") -> AttnkitModel:
    """Instantiate the model for ``family`` and ``cfg.arch``.

    Raises:
        ValueError: for a combination that does not exist, listing those that do.
    """
    try:
        cls = _BUILDERS[(family, cfg.arch)]
    except KeyError:
        have = ", ".join(f"{f}/{a}" for f, a in _BUILDERS)
        raise ValueError(f"no {cfg.arch!r} model for the {family!r} family; available: {have}") from None
    model = cls(cfg)
    if cfg.lora_rank:
        from attnkit.layers.lora import apply_lora, freeze_for_lora

        apply_lora(model, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets)
        freeze_for_lora(model, keep=("head.",))  # a classifier's head trains with the adapters
    return model
