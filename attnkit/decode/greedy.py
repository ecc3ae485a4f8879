"""Greedy decoding for the Decoder (continue a prompt) and the EncoderDecoder (translate).

Both run with the KV cache by default, or recompute the whole prefix each step with
``use_cache=False``; the two must produce identical tokens, which the tests check.

No-grad regions are ``with`` blocks rather than decorators throughout ``attnkit.decode``:
mutmut, the mutation tester (docs/testing.md), does not mutate decorated functions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnkit.models.decoder import Decoder
from attnkit.models.seq2seq import EncoderDecoder


def greedy_generate(model: Decoder, prompt: Tensor, max_new_tokens: int, *, use_cache: bool = True) -> Tensor:
    """Append ``max_new_tokens`` argmax tokens to ``prompt`` ``(B, T0)``; returns ``(B, T0 + N)``."""
    total = prompt.shape[1] + max_new_tokens
    if total > model.cfg.max_seq_len:
        raise ValueError(
            f"prompt length {prompt.shape[1]} + max_new_tokens {max_new_tokens} = {total} "
            f"exceeds the model's max_seq_len={model.cfg.max_seq_len}"
        )
    ids = prompt
    cache = model.new_cache(prompt.shape[0], total) if use_cache else None
    step_input = prompt
    with torch.no_grad():
        for _ in range(max_new_tokens):
            out = model(step_input if use_cache else ids, cache=cache)
            nxt = out.logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, T, V) -> (B, 1)
            ids = torch.cat([ids, nxt], dim=1)
            step_input = nxt
    return ids


def greedy_seq2seq(
    model: EncoderDecoder,
    src_ids: Tensor,
    bos_id: int,
    max_new_tokens: int,
    *,
    src_mask: Tensor | None = None,
    use_cache: bool = True,
) -> Tensor:
    """Greedy target ids ``(B, 1 + N)`` starting with ``bos_id`` for sources ``(B, S)``."""
    b = src_ids.shape[0]
    ids = torch.full((b, 1), bos_id, dtype=torch.long, device=src_ids.device)
    cache = model.new_cache(b, max_new_tokens + 1) if use_cache else None
    step_input = ids
    with torch.no_grad():
        memory, key_mask = model.encode(src_ids, src_mask)
        for _ in range(max_new_tokens):
            out = model.decode(step_input if use_cache else ids, memory, key_mask, cache=cache)
            nxt = out.logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, T, V) -> (B, 1)
            ids = torch.cat([ids, nxt], dim=1)
            step_input = nxt
    return ids
