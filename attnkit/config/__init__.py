"""Configuration: dataclasses + YAML + dotted overrides (see base.py)."""

from attnkit.config.base import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from attnkit.config.model import ModelConfig
from attnkit.config.run import DataConfig, DecodeConfig, RunConfig, TrainConfig

__all__ = [
    "DataConfig",
    "DecodeConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "from_dict",
    "load_yaml",
    "save_yaml",
    "to_dict",
]
