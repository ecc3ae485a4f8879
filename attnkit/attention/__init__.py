"""Attention core: the backend registry, its backends, capture, KV cache and positions."""

from attnkit.attention import linear, reference, sdpa, tiled, triton_flash  # noqa: F401  (registers the backends)
from attnkit.attention.capture import AttentionCapture, capture_attention, current_capture
from attnkit.attention.kv_cache import KVCache, LayerKVCache, StaticKV
from attnkit.attention.positional import LearnedPositions, RotaryEmbedding, SinusoidalPositions
from attnkit.attention.reference import attention_weights, reference_attention
from attnkit.attention.registry import (
    BACKENDS,
    Backend,
    Capabilities,
    get_backend,
    list_backends,
    register_backend,
    register_family,
)
from attnkit.attention.sdpa import sdpa_attention

__all__ = [
    "BACKENDS",
    "AttentionCapture",
    "Backend",
    "Capabilities",
    "KVCache",
    "LayerKVCache",
    "LearnedPositions",
    "RotaryEmbedding",
    "SinusoidalPositions",
    "StaticKV",
    "attention_weights",
    "capture_attention",
    "current_capture",
    "get_backend",
    "list_backends",
    "reference_attention",
    "register_backend",
    "register_family",
    "sdpa_attention",
]
