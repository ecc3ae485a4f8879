"""Speech to text: the encoder-decoder with an audio front end, and a non-attention baseline.

    frames (B, T, M) -> AudioFrontEnd (stride-2 convolutions, s = cfg.subsample) -> (B, T/s, C)
                     -> Encoder blocks -> memory (B, T/s, C)
    chars  (B, U)    -> Decoder (causal self-attention + cross-attention to memory) -> (B, U, V)

:class:`SpeechEncoderDecoder` is :class:`EncoderDecoder` with :class:`AudioFrontEnd` in place of
the source token embedding; blocks, masks, the KV cache and beam search are the same code.
Its ``encode(frames, frame_mask)`` returns the subsampled key mask, so everything downstream
sees ordinary ``(B, S)`` memory and mask. Cross-attention rows are output characters and its
columns are audio frames (each covering ``subsample`` feature frames).

:class:`PooledFeatureClassifier` (``arch: logreg``) is the baseline with no attention and no
sequence model: per-band mean and standard deviation over the recording plus the means of its
three thirds, then one linear layer over the classes (logistic regression).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.attention.positional import position_table
from attnkit.config.model import ModelConfig
from attnkit.layers.dropout import Dropout
from attnkit.models.base import AttnkitModel
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder
from attnkit.models.seq2seq import EncoderDecoder


def check_frames(feats: Tensor, mask: Tensor | None, input_dim: int) -> Tensor:
    """The ``(B, T)`` frame mask for ``feats`` ``(B, T, M)`` (all True when None), or a ValueError."""
    if feats.dim() != 3 or feats.shape[-1] != input_dim:
        raise ValueError(f"expected frames (B, T, {input_dim}), got {tuple(feats.shape)}")
    if mask is None:
        return torch.ones(feats.shape[:2], dtype=torch.bool, device=feats.device)
    if mask.shape != feats.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"frame mask must be bool {tuple(feats.shape[:2])} (B, T), got {tuple(mask.shape)}")
    return mask


class InputNorm(nn.Module):
    """``(x - mean) / std`` per feature channel with the training set's statistics (buffers
    from ``cfg.input_mean`` / ``cfg.input_std``, so a checkpoint carries its own normalisation)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        m = cfg.input_dim
        if m <= 0:  # every speech model starts here
            raise ValueError("speech models need model.input_dim (the feature channels, e.g. 40 mels)")
        for name, values, default in (("mean", cfg.input_mean, 0.0), ("std", cfg.input_std, 1.0)):
            if values is not None and len(values) != m:
                raise ValueError(f"model.input_{name} has {len(values)} values for input_dim={m}")
            t = torch.tensor(values, dtype=torch.float32) if values is not None else torch.full((m,), default)
            self.register_buffer(name, t, persistent=False)  # rebuilt from the config on load

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class AudioFrontEnd(nn.Module):
    """Frames ``(B, T, M)`` -> ``(B, ceil(T/s), C)`` with positions, and the matching key mask.

    Each stride-2 convolution (kernel 3, padding 1) maps frame i of its output to input frames
    2i-1..2i+1, so output i is real when input 2i is: the mask subsamples as ``mask[:, ::2]``.
    Padded frames are zeroed before and after every convolution, so a recording's encoding does
    not depend on how much padding its batch added.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c, n = cfg.d_model, int(math.log2(cfg.subsample))
        self.input_dim = cfg.input_dim
        self.norm = InputNorm(cfg)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.input_dim if i == 0 else c, c, 3, 2, 1) for i in range(n))
        self.proj = nn.Linear(cfg.input_dim if n == 0 else c, c)
        self.pos = position_table(cfg.positions, c, cfg.max_seq_len)  # RoPE acts inside the blocks
        self.dropout = Dropout(cfg.dropout)

    def forward(self, feats: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Returns ``x`` ``(B, S, C)``, its key mask ``(B, S)`` and positions ``(S,)``."""
        mask = check_frames(feats, mask, self.input_dim)
        x = self.norm(feats).masked_fill(~mask[..., None], 0.0).transpose(1, 2)  # (B, T, M) -> (B, M, T)
        for conv in self.convs:
            mask = mask[:, ::2]
            x = F.gelu(conv(x)) * mask[:, None]  # (B, C_in, T) -> (B, C, ceil(T/2))
        x = self.proj(x.transpose(1, 2))  # (B, C, S) -> (B, S, C)
        positions = torch.arange(x.shape[1], device=x.device)
        if self.pos is not None:
            x = x + self.pos(positions)
        return self.dropout(x), mask, positions


class AudioEncoder(Encoder):
    """The Transformer encoder over audio frames: :class:`AudioFrontEnd` then the same blocks."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.embed = AudioFrontEnd(cfg)  # replaces the token table the base class built
        self.init_weights()

    def encode(self, feats: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(B, T, M)`` frames -> memory ``(B, S, C)`` and its ``(B, S)`` key mask."""
        x, key_mask, positions = self.embed(feats, mask)
        return self.run_blocks(x, key_mask, positions), key_mask


class SpeechEncoderDecoder(EncoderDecoder):
    """Audio frames in, characters out (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        AttnkitModel.__init__(self)
        self.cfg = cfg
        enc_cfg = dataclasses.replace(
            cfg, n_layers=cfg.n_encoder_layers or cfg.n_layers, n_encoder_layers=None, share_embeddings=False
        )
        self.encoder = AudioEncoder(enc_cfg)
        self.decoder = Decoder(cfg, cross_attention=True)

    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """``src_ids`` here are frames ``(B, T, M)`` with their ``(B, T)`` mask; the returned
        mask is the subsampled ``(B, S)`` one that cross-attention uses."""
        return self.encoder.encode(src_ids, src_mask)


class PooledFeatureClassifier(AttnkitModel):
    """Logistic regression on pooled frames: ``(B, T, M)`` -> ``(B, K)`` class logits."""

    SEGMENTS = 3

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if not cfg.labels:
            raise ValueError("the logreg baseline needs model.labels (set from the training data)")
        self.norm = InputNorm(cfg)
        self.head = nn.Linear((2 + self.SEGMENTS) * cfg.input_dim, len(cfg.labels))

    def pool(self, feats: Tensor, mask: Tensor | None = None) -> Tensor:
        """``(B, T, M)`` -> ``(B, 5M)``: mean, std, and the mean of each third of the real frames."""
        mask = check_frames(feats, mask, self.cfg.input_dim)
        feats = self.norm(feats)
        lengths = mask.sum(1, keepdim=True).clamp(min=1)  # (B, 1)
        t = torch.arange(feats.shape[1], device=feats.device)[None]  # (1, T)
        seg = torch.div(t * self.SEGMENTS, lengths, rounding_mode="floor")  # (B, T): which third
        parts = []
        for k in [None, *range(self.SEGMENTS)]:
            w = (mask if k is None else mask & (seg == k)).to(feats.dtype)[..., None]  # (B, T, 1)
            n = w.sum(1).clamp(min=1)
            mean = (feats * w).sum(1) / n
            parts.append(mean)
            if k is None:
                parts.append((((feats - mean[:, None]) ** 2 * w).sum(1) / n).sqrt())
        return torch.cat(parts, dim=-1)

    def forward(self, feats: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.head(self.pool(feats, mask))
