"""ModelConfig: every architectural choice of attnkit's Encoder, Decoder and EncoderDecoder.

Named sizes live in :mod:`attnkit.models.presets`; this file only says what each knob means and
which combinations are valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attnkit.attention.registry import get_backend


@dataclass
class ModelConfig:
    """Architecture of a Transformer stack (or of both stacks of an encoder-decoder)."""

    arch: Literal["transformer", "lstm", "rnn", "cnn", "fasttext", "logreg"] = "transformer"
    """Transformer stacks; or the baselines with the same interfaces: ``lstm`` (language model, or
    BiLSTM classifier), ``rnn`` (GRU encoder-decoder with Bahdanau attention), ``cnn`` (Kim 2014
    classifier, or a causal dilated-convolution language model), ``fasttext`` (n-gram bag
    classifier) and ``logreg`` (speech: logistic regression on pooled audio features)."""
    vocab_size: int = 256
    """Target/LM vocabulary size V (for the encoder-decoder: the decoder's)."""
    d_model: int = 64
    """Residual stream width C."""
    n_layers: int = 2
    """Blocks in the stack (for the encoder-decoder: decoder blocks)."""
    n_heads: int = 4
    """Query heads H; must divide d_model."""
    n_kv_heads: int | None = None
    """Key/value heads Hkv (GQA/MQA); None = n_heads. Must divide n_heads."""
    d_ff: int | None = None
    """Feed-forward hidden size; None = 4 * d_model (gelu) or the LLaMA 8/3 * d_model (swiglu)."""
    max_seq_len: int = 512
    """Longest sequence the position table covers."""
    dropout: float = 0.0
    """Dropout on embeddings, residual branches and the MLP hidden layer."""
    attn_dropout: float = 0.0
    """Dropout on attention probabilities."""
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    """Normalisation layer."""
    norm_eps: float = 1e-5
    """Epsilon of the norm layers."""
    norm_position: Literal["pre", "post"] = "pre"
    """Pre-norm (GPT-2/LLaMA, stable) or post-norm (original Transformer, BERT)."""
    mlp: Literal["gelu", "gelu_tanh", "swiglu"] = "gelu"
    """Feed-forward kind (gelu_tanh: the tanh approximation GPT-2 uses)."""
    positions: Literal["sinusoidal", "learned", "rope", "none"] = "learned"
    """Position information."""
    rope_theta: float = 10000.0
    """RoPE base frequency."""
    bias: bool = True
    """Biases in projections and LayerNorm (LLaMA-style models turn them off)."""
    tie_embeddings: bool = True
    """Share the output head with the (target) token embedding (Press & Wolf 2017)."""
    embed_scale: bool = False
    """Multiply token embeddings by sqrt(d_model) (original Transformer)."""
    type_vocab_size: int = 0
    """Token-type (segment) embeddings added to the input, as in BERT; 0 = none."""
    embed_norm: bool = False
    """Normalise the summed embeddings before the first block (BERT's embedding LayerNorm)."""
    attn_backend: str = "sdpa"
    """Attention backend name from the registry (see attnkit.attention.list_backends())."""
    pad_id: int | None = None
    """Padding id; when set, encoders derive their padding mask from the input ids."""
    n_encoder_layers: int | None = None
    """Encoder-decoder only: encoder blocks; None = n_layers."""
    src_vocab_size: int | None = None
    """Encoder-decoder only: source vocabulary; None = vocab_size."""
    share_embeddings: bool = False
    """Encoder-decoder only: one embedding table for source and target (needs equal vocabs)."""
    labels: list[str] | None = None
    """Classifiers only: class names in output order (set from the training data)."""
    pooling: Literal["cls", "mean", "max"] = "cls"
    """Transformer classifier: read the first (<bos>) position, average the real tokens, or take
    each feature's maximum over the real tokens (as Kim's CNN reads its filters)."""
    ngram_buckets: int = 0
    """fastText classifier: hash buckets for word bigrams (0 = unigrams only)."""
    init: Literal["gpt2", "fan_in"] = "gpt2"
    """Weight init: GPT-2's N(0, 0.02), or N(0, 1/fan_in) with N(0, 1) embeddings, which trains
    small models (d_model <= 128) much faster on content lookups (see AttnkitModel.init_weights)."""
    lora_rank: int = 0
    """LoRA adapters of this rank on the ``lora_targets`` projections (0 = none); with adapters,
    training updates only them and the task head."""
    lora_alpha: float = 16.0
    """LoRA scale numerator: the update is (lora_alpha / lora_rank) * B A x."""
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    """Names of the linear layers that get adapters (suffix match)."""
    grad_checkpoint: bool = False
    """Decoder training: recompute each block's activations in the backward pass instead of
    keeping them (less memory for long sequences, about a third more compute)."""
    input_dim: int = 0
    """Speech models: feature channels per input frame (n_mels); the encoder reads frames, not ids."""
    input_mean: list[float] | None = None
    """Speech models: per-channel mean of the training frames, subtracted first (None = 0)."""
    input_std: list[float] | None = None
    """Speech models: per-channel standard deviation of the training frames (None = 1)."""
    subsample: int = 4
    """Speech encoder: the front end's stride-2 convolutions shorten the frames this many times
    (1, 2, 4 or 8) before the first block, which cuts attention cost by its square."""
    conv_kernel: int = 3
    """CNN language model: width of each causal convolution."""
    conv_dilation: int = 2
    """CNN language model: layer i dilates by conv_dilation**i (1 = a plain stack). The receptive
    field is 1 + (conv_kernel - 1) * sum(conv_dilation**i)."""

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "d_model",
            "n_layers",
            "n_heads",
            "max_seq_len",
            "conv_kernel",
            "conv_dilation",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.subsample not in (1, 2, 4, 8):
            raise ValueError(f"subsample must be 1, 2, 4 or 8, got {self.subsample}")
        if self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size must be >= 0, got {self.type_vocab_size}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.kv_heads <= 0 or self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads={self.n_heads} is not divisible by n_kv_heads={self.n_kv_heads}")
        if self.positions == "rope" and self.head_dim % 2:
            raise ValueError(f"RoPE needs an even head_dim, got d_model/n_heads={self.head_dim}")
        for name in ("dropout", "attn_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.share_embeddings and self.src_vocab_size not in (None, self.vocab_size):
            raise ValueError(
                f"share_embeddings needs src_vocab_size == vocab_size, got "
                f"{self.src_vocab_size} and {self.vocab_size}"
            )
        get_backend(self.attn_backend)  # raises, listing the registered names

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def ffn_dim(self) -> int:
        if self.d_ff is not None:
            return self.d_ff
        if self.mlp == "swiglu":
            # 2/3 of 4C keeps SwiGLU's three matrices at the MLP's parameter count; round to 8.
            return 8 * ((8 * self.d_model // 3 + 7) // 8)
        return 4 * self.d_model
