"""Named model sizes. A preset is a dict of ModelConfig overrides; anything can be overridden.

| name  | C   | L | H | FFN  | what it is for                                        |
|-------|-----|---|---|------|-------------------------------------------------------|
| tiny  | 64  | 2 | 4 | 256  | tests and demos: trains in seconds on a laptop CPU    |
| small | 256 | 4 | 4 | 1024 | CPU experiments (tinyshakespeare, Multi30k) in minutes |
| base  | 512 | 6 | 8 | 2048 | Transformer-base (Vaswani et al. 2017, table 3)        |
"""

from __future__ import annotations

from typing import Any

from attnkit.config.model import ModelConfig

MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 256},
    "small": {"d_model": 256, "n_layers": 4, "n_heads": 4, "max_seq_len": 512},
    "base": {"d_model": 512, "n_layers": 6, "n_heads": 8, "max_seq_len": 1024},
}


def model_config(preset: str = "tiny", **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a named preset plus keyword overrides.

    Raises:
        ValueError: for an unknown preset (listing the names) or invalid overrides.
    """
    if preset not in MODEL_PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; available: {', '.join(MODEL_PRESETS)}")
    return ModelConfig(**{**MODEL_PRESETS[preset], **overrides})
