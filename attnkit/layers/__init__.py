"""Building blocks: attention, feed-forward, norms, embeddings, Transformer blocks."""

from attnkit.layers.attention import MultiHeadAttention
from attnkit.layers.block import DecoderBlock, EncoderBlock, TransformerBlock
from attnkit.layers.embedding import Embeddings
from attnkit.layers.feedforward import MLP, SwiGLU, build_ffn
from attnkit.layers.norms import RMSNorm, build_norm
from attnkit.layers.seed_attention import SelfAttention

__all__ = [
    "MLP",
    "DecoderBlock",
    "Embeddings",
    "EncoderBlock",
    "MultiHeadAttention",
    "RMSNorm",
    "SelfAttention",
    "SwiGLU",
    "TransformerBlock",
    "build_ffn",
    "build_norm",
]
