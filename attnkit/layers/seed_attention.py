"""The seed article's ``SelfAttention`` example (section 4), corrected and kept for teaching.

The article's sample fails as printed: it uses ``math.sqrt`` without ``import math``, and it has
no mask, so padding tokens are attended to and it cannot be used as a decoder. This version:

- imports ``math``;
- rejects an ``embed_dim`` that ``num_heads`` does not divide (the original silently truncated
  ``head_dim`` and then crashed in ``view``);
- takes an optional bool ``mask`` (True = may attend, broadcastable to (B, H, T, T)) and a
  ``causal`` flag; masked keys get zero weight, and fully-masked rows give 0 instead of NaN;
- otherwise keeps the article's structure line for line, so a reader can follow the text.

It computes exactly what :class:`attnkit.layers.MultiHeadAttention` computes: the tests copy the
weights across and compare outputs. Use ``MultiHeadAttention`` in real models: it also does
cross-attention, GQA, RoPE, a KV cache and fused kernels.
"""

from __future__ import annotations

import math  # missing in the article's listing

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    """Multi-head self-attention as in the seed article, with masks."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads

        # Linear maps from the input to Query, Key and Value
        self.q_linear = nn.Linear(embed_dim, embed_dim)
        self.k_linear = nn.Linear(embed_dim, embed_dim)
        self.v_linear = nn.Linear(embed_dim, embed_dim)

        # Output projection
        self.out = nn.Linear(embed_dim, embed_dim)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False
    ) -> torch.Tensor:
        batch_size, seq_len, _ = x.size()

        # Query, Key, Value: (B, T, C) -> (B, T, H, D) -> (B, H, T, D)
        q = self.q_linear(x).view(batch_size, seq_len, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        k = self.k_linear(x).view(batch_size, seq_len, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        v = self.v_linear(x).view(batch_size, seq_len, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

        # Scores: (B, H, T, D) @ (B, H, D, T) -> (B, H, T, T), scaled by 1/sqrt(d_k)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if causal:
            tri = torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device).tril()
            mask = tri if mask is None else mask & tri
        if mask is not None:
            # The most negative finite value, not -inf: a row with every key masked would be all
            # -inf and softmax would return NaN (in backward too). Such a query sees nothing.
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        attn_weights = F.softmax(scores, dim=-1)
        if mask is not None:
            attn_weights = attn_weights.masked_fill(~mask, 0.0)

        # Weighted sum of values: (B, H, T, T) @ (B, H, T, D) -> (B, H, T, D) -> (B, T, C)
        output = (
            torch.matmul(attn_weights, v)
            .transpose(1, 2)
            .contiguous()
            .view(batch_size, seq_len, self.embed_dim)
        )
        output = self.out(output)

        return output
