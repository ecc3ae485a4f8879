"""Frames in, text out: what ``attnkit transcribe`` and speech evaluation run.

``transcribe(model, tokenizer, frames, dcfg)`` decodes each ``(T, M)`` feature tensor in
length-sorted batches and returns one transcript per input, in order. The encoder-decoder uses
the same searches as translation (beam search by default, KV-cached); the ``logreg`` baseline
returns its most probable class name. Each output has at most ``max_len_a * S + max_len_b``
characters (S = encoder frames after subsampling), ``<eos>`` included.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from attnkit.config.run import DecodeConfig
from attnkit.data.audio_batches import pad_frames
from attnkit.decode.search import beam_search, sample_search
from attnkit.models.speech import PooledFeatureClassifier
from attnkit.text.base import Tokenizer


def transcribe(
    model: nn.Module,
    tokenizer: Tokenizer,
    frames: Sequence[Tensor],
    dcfg: DecodeConfig,
    *,
    batch_size: int = 64,
) -> list[str]:
    model.eval()
    device = next(model.parameters()).device
    out = [""] * len(frames)
    order = sorted(range(len(frames)), key=lambda i: frames[i].shape[0])
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        x, mask = pad_frames([frames[i] for i in chunk])
        x, mask = x.to(device), mask.to(device)
        if isinstance(model, PooledFeatureClassifier):
            with torch.no_grad():  # the searches below run under no_grad themselves
                best = model(x, mask).argmax(-1).tolist()
            texts = [model.cfg.labels[j] for j in best]
        else:
            width = -(-x.shape[1] // model.cfg.subsample)  # ceil: encoder frames after subsampling
            common = {
                "bos_id": tokenizer.bos_id,
                "eos_id": tokenizer.eos_id,
                "max_len": max(1, int(dcfg.max_len_a * width + dcfg.max_len_b)),
            }
            if dcfg.sample:
                ids = sample_search(model, x, mask, temperature=dcfg.temperature, top_k=dcfg.top_k,
                                    top_p=dcfg.top_p, **common)  # fmt: skip
            else:
                ids = beam_search(model, x, mask, beam_size=dcfg.beam_size,
                                  length_penalty=dcfg.length_penalty, **common)  # fmt: skip
            texts = [tokenizer.decode(h).strip() for h in ids]
        for i, t in zip(chunk, texts, strict=True):
            out[i] = t
    return out
