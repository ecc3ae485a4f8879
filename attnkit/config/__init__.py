"""Configuration: dataclasses + YAML + dotted overrides (see base.py)."""

from attnkit.config.base import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from attnkit.config.model import ModelConfig

__all__ = ["ModelConfig", "apply_overrides", "from_dict", "load_yaml", "save_yaml", "to_dict"]
