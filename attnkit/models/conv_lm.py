"""Causal dilated-convolution language model: the CNN baseline with the Decoder's interface.

    ids (B, T) -> embedding -> N x [norm -> causal conv (GLU) -> +res; norm -> MLP -> +res]
               -> norm -> tied head -> (B, T, V)

The block is a Transformer block with the attention replaced by a causal 1-D convolution (the
gated linear unit of Dauphin et al. 2017), and layer i dilated by ``conv_dilation**i`` as in
WaveNet/TCN (Bai et al. 2018). Position ``t`` sees exactly the ``receptive_field`` positions
``t - R + 1 .. t``: information from further back cannot reach it, however long it trains. That
is the point of the baseline: a CNN links two tokens only through enough layers (or dilation),
where one attention layer links any two. It has no positional embedding (the convolution is
position-aware by construction) and no cache; it is trained and scored, not sampled from.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.layers.feedforward import build_ffn
from attnkit.layers.norms import build_norm
from attnkit.models.base import AttnkitModel, ModelOutput, check_ids, final_norm, lm_loss


def receptive_field(cfg: ModelConfig) -> int:
    """How many positions (itself included) one output position depends on."""
    return 1 + (cfg.conv_kernel - 1) * sum(cfg.conv_dilation**i for i in range(cfg.n_layers))


class CausalConvBlock(nn.Module):
    def __init__(self, cfg: ModelConfig, dilation: int) -> None:
        super().__init__()
        self.pad = dilation * (cfg.conv_kernel - 1)  # left padding only: no position sees its future
        self.norm1 = build_norm(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias)
        self.conv = nn.Conv1d(cfg.d_model, 2 * cfg.d_model, cfg.conv_kernel, dilation=dilation, bias=cfg.bias)
        self.norm2 = build_norm(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias)
        self.mlp = build_ffn(cfg.mlp, cfg.d_model, cfg.ffn_dim, bias=cfg.bias, dropout=cfg.dropout)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x).transpose(1, 2)  # (B, T, C) -> (B, C, T)
        h = F.glu(self.conv(F.pad(h, (self.pad, 0))), dim=1)  # (B, C, T+pad) -> (B, 2C, T) -> (B, C, T)
        x = x + self.dropout(h.transpose(1, 2))  # (B, C, T) -> (B, T, C)
        return x + self.dropout(self.mlp(self.norm2(x)))


class ConvLanguageModel(AttnkitModel):
    """Causal CNN LM (``arch: cnn`` in the decoder family); see the module docstring."""

    context_limit: int | None = None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.dropout = Dropout(cfg.dropout)
        self.layers = nn.ModuleList(CausalConvBlock(cfg, cfg.conv_dilation**i) for i in range(cfg.n_layers))
        self.norm = final_norm(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.init_weights()
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok.weight

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.cfg)

    def forward(
        self,
        ids: Tensor,
        targets: Tensor | None = None,
        *,
        padding_mask: Tensor | None = None,
        positions: Tensor | None = None,
    ) -> ModelOutput:
        """Next-token logits for ``ids`` ``(B, T)``. Right padding needs no mask: the convolution is
        causal, so padding after a token never reaches it."""
        check_ids(ids, self.cfg.vocab_size)
        x = self.dropout(self.tok(ids))  # (B, T) -> (B, T, C)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        logits = self.lm_head(x)  # (B, T, C) -> (B, T, V)
        loss = lm_loss(logits, targets) if targets is not None else None
        return ModelOutput(hidden=x, logits=logits, loss=loss)

    def new_cache(self, *_: object, **__: object) -> None:
        raise ValueError(
            "the CNN language model is a baseline for training and scoring; it has no decoding cache. "
            "Use arch: transformer or lstm to generate text."
        )
