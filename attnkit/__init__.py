"""attnkit: self-attention for NLP, readable and measured.

The layers, bottom to top (ARCHITECTURE.md; tests/test_layering.py holds the code to it):
text -> data -> attention -> layers -> models -> tasks -> training/decode/fewshot -> predict ->
api -> viz -> quick/serve -> cli. Nothing imports anything above it.
"""

import importlib
from typing import Any

# What each public name is imported from. The import happens on first use (PEP 562), so
# ``import attnkit`` and ``attnkit --help`` stay fast: torch and the models load only when asked.
_WHERE = {
    "LoadedModel": "attnkit.api", "load": "attnkit.api", "load_config": "attnkit.api", "train": "attnkit.api",
    "capture_attention": "attnkit.attention", "get_backend": "attnkit.attention",
    "list_backends": "attnkit.attention", "ModelConfig": "attnkit.config", "RunConfig": "attnkit.config",
    "Decoder": "attnkit.models", "Encoder": "attnkit.models", "EncoderDecoder": "attnkit.models",
    "ModelOutput": "attnkit.models", "model_config": "attnkit.models",
    "few_shot": "attnkit.quick", "show_attention": "attnkit.quick", "zero_shot": "attnkit.quick",
    "explain": "attnkit.attribution",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'attnkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


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
    "explain",
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
