"""attnkit: self-attention for NLP, readable and measured.

The layers, bottom to top (ARCHITECTURE.md; tests/test_layering.py holds the code to it):
text -> data -> attention -> layers -> models -> tasks -> training/decode/fewshot -> predict ->
api -> viz -> quick/serve -> cli. Nothing imports anything above it.
"""

from attnkit.api import LoadedModel, load, load_config, train
from attnkit.attention import capture_attention, get_backend, list_backends
from attnkit.config import ModelConfig, RunConfig
from attnkit.models import Decoder, Encoder, EncoderDecoder, ModelOutput, model_config
from attnkit.quick import few_shot, show_attention, zero_shot

__version__ = "0.1.0"

__all__ = [
    "Decoder",
    "Encoder",
    "EncoderDecoder",
    "LoadedModel",
    "ModelConfig",
    "ModelOutput",
    "RunConfig",
    "__version__",
    "capture_attention",
    "few_shot",
    "get_backend",
    "list_backends",
    "load",
    "load_config",
    "model_config",
    "show_attention",
    "train",
    "zero_shot",
]
