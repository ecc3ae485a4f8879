"""Model families built from the same blocks: Encoder, Decoder, EncoderDecoder."""

from attnkit.models.base import IGNORE_INDEX, AttnkitModel, ModelOutput
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder
from attnkit.models.presets import MODEL_PRESETS, model_config
from attnkit.models.seq2seq import EncoderDecoder

__all__ = [
    "IGNORE_INDEX",
    "MODEL_PRESETS",
    "AttnkitModel",
    "Decoder",
    "Encoder",
    "EncoderDecoder",
    "ModelOutput",
    "model_config",
]
