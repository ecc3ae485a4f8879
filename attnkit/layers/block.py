"""Transformer blocks: self-attention, optional cross-attention, feed-forward, each residual.

Pre-norm (GPT-2, LLaMA): x = x + f(norm(x)); trains stably without warmup tricks, needs a final
norm after the stack. Post-norm (Vaswani et al. 2017, BERT): x = norm(x + f(x)).

An encoder block is a block without cross-attention, called with ``is_causal=False``; a decoder
block is called with ``is_causal=True`` and may have cross-attention to an encoder's output.
Shapes: x ``(B, T, C)``; context ``(B, S, C)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from attnkit.attention.kv_cache import LayerKVCache, StaticKV
from attnkit.attention.positional import RotaryEmbedding
from attnkit.config.model import ModelConfig
from attnkit.layers.attention import MultiHeadAttention
from attnkit.layers.dropout import Dropout
from attnkit.layers.feedforward import build_ffn
from attnkit.layers.norms import build_norm


class TransformerBlock(nn.Module):
    """One layer: self-attention [+ cross-attention] + feed-forward, pre- or post-norm."""

    def __init__(
        self,
        cfg: ModelConfig,
        *,
        cross_attention: bool = False,
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.pre_norm = cfg.norm_position == "pre"

        def attn(rope_: RotaryEmbedding | None) -> MultiHeadAttention:
            return MultiHeadAttention(
                cfg.d_model,
                cfg.n_heads,
                cfg.n_kv_heads,
                bias=cfg.bias,
                dropout=cfg.attn_dropout,
                backend=cfg.attn_backend,
                rope=rope_,
            )

        def norm() -> nn.Module:
            return build_norm(cfg.norm, cfg.d_model, cfg.norm_eps, bias=cfg.bias)

        self.self_attn = attn(rope)
        self.self_attn_norm = norm()
        self.cross_attn = attn(None) if cross_attention else None  # positions live in the queries
        self.cross_attn_norm = norm() if cross_attention else None
        self.ffn = build_ffn(cfg.mlp, cfg.d_model, cfg.ffn_dim, bias=cfg.bias, dropout=cfg.dropout)
        self.ffn_norm = norm()
        self.dropout = Dropout(cfg.dropout)

    def _residual(self, x: Tensor, norm: nn.Module, fn: Callable[[Tensor], Tensor]) -> Tensor:
        if self.pre_norm:
            return x + self.dropout(fn(norm(x)))
        return norm(x + self.dropout(fn(x)))

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | None = None,
        is_causal: bool = False,
        positions: Tensor | None = None,
        cache: LayerKVCache | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        cross_cache: StaticKV | None = None,
    ) -> Tensor:
        x = self._residual(
            x,
            self.self_attn_norm,
            lambda h: self.self_attn(h, mask=mask, is_causal=is_causal, positions=positions, cache=cache),
        )
        if self.cross_attn is not None:
            if context is None and not (cross_cache is not None and cross_cache.filled):
                raise ValueError("this block has cross-attention: pass context (B, S, C)")
            x = self._residual(
                x,
                self.cross_attn_norm,
                lambda h: self.cross_attn(h, context, mask=context_mask, cache=cross_cache),
            )
        return self._residual(x, self.ffn_norm, self.ffn)


class EncoderBlock(TransformerBlock):
    """Bidirectional block: self-attention + feed-forward."""

    def __init__(self, cfg: ModelConfig, *, rope: RotaryEmbedding | None = None) -> None:
        super().__init__(cfg, cross_attention=False, rope=rope)


class DecoderBlock(TransformerBlock):
    """Causal block: masked self-attention [+ cross-attention to an encoder] + feed-forward."""

    def __init__(
        self, cfg: ModelConfig, *, cross_attention: bool = False, rope: RotaryEmbedding | None = None
    ) -> None:
        super().__init__(cfg, cross_attention=cross_attention, rope=rope)
