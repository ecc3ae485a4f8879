"""Position-wise feed-forward layers: the Transformer's GELU MLP and the gated SwiGLU.

- MLP: Linear(C, F) -> GELU -> Linear(F, C) (Vaswani et al. 2017 used ReLU; GPT-2 and BERT GELU).
- SwiGLU: (SiLU(x W_gate) * x W_up) W_down (Shazeer 2020, "GLU Variants Improve Transformer"),
  as in LLaMA. With three matrices instead of two, a SwiGLU of hidden size 2F/3 costs the same as
  an MLP of hidden size F.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.layers.dropout import Dropout

MlpKind = Literal["gelu", "gelu_tanh", "swiglu"]


class MLP(nn.Module):
    """Linear -> GELU -> dropout -> Linear over the last dim ``C``."""

    def __init__(
        self, d_model: int, d_ff: int, *, bias: bool = True, dropout: float = 0.0, approximate: str = "none"
    ) -> None:
        super().__init__()
        self.approximate = approximate  # "tanh" reproduces GPT-2's gelu_new
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(self.dropout(F.gelu(self.up_proj(x), approximate=self.approximate)))


class SwiGLU(nn.Module):
    """SiLU-gated linear unit: down(silu(gate(x)) * up(x))."""

    def __init__(self, d_model: int, d_ff: int, *, bias: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(self.dropout(F.silu(self.gate_proj(x)) * self.up_proj(x)))


def build_ffn(kind: MlpKind, d_model: int, d_ff: int, *, bias: bool, dropout: float) -> nn.Module:
    """The feed-forward layer named by ``kind``."""
    if kind in ("gelu", "gelu_tanh"):
        approximate = "tanh" if kind == "gelu_tanh" else "none"
        return MLP(d_model, d_ff, bias=bias, dropout=dropout, approximate=approximate)
    if kind == "swiglu":
        return SwiGLU(d_model, d_ff, bias=bias, dropout=dropout)
    raise ValueError(f"unknown mlp {kind!r}; choose 'gelu', 'gelu_tanh' or 'swiglu'")
