"""Generation for decoder language models (Transformer or LSTM): KV-cached sampling and streams.

``generate_ids`` is a generator: it yields each new token id ``(B,)`` as soon as it is chosen,
so callers can stream. The model is run once on the prompt (prefill), then one token at a time
with the cache.

Context limits (learned or sinusoidal positions cover ``max_seq_len`` positions):

- A prompt longer than the context: with ``prompt_overflow="truncate"`` (the default) it keeps
  its last ``context - 1`` tokens and a warning is logged; with ``"error"`` it raises.
- On a CUDA device a decoder-only Transformer replays each step as a CUDA graph
  (:mod:`attnkit.decode.graphs`; ``DecodeConfig.cuda_graphs``), with the same tokens; on the CPU
  ``DecodeConfig.compile`` runs the same fixed-shape step through ``torch.compile``.
- Generating past the context slides the window, as nanoGPT does by cropping: when the cache is
  full, the last ``context // 2`` tokens are re-encoded from position 0 into a fresh cache and
  decoding continues. Models without a limit (LSTM, RoPE) never truncate or slide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from attnkit.config.run import DecodeConfig
from attnkit.decode.graphs import StepGraph, can_graph
from attnkit.decode.processors import choose_next
from attnkit.text.base import Tokenizer
from attnkit.text.stream import StreamDecoder

log = logging.getLogger(__name__)

# Capturing a step costs about as much as a few dozen eager steps; shorter runs stay eager.
GRAPH_MIN_TOKENS = 16
COMPILE_BUCKET = 256


def fit_prompt(prompt: Tensor, limit: int | None, policy: str) -> Tensor:
    """Apply the prompt-overflow policy; returns the (possibly truncated) ``(B, T)`` prompt."""
    if limit is None or prompt.shape[1] < limit:
        return prompt
    if policy == "error":
        raise ValueError(
            f"prompt of {prompt.shape[1]} tokens does not fit the model's context of {limit} "
            "(one position must stay free to generate); shorten the prompt or set "
            "decode.prompt_overflow=truncate"
        )
    log.warning(
        "prompt of %d tokens truncated to its last %d to fit the context of %d",
        prompt.shape[1],
        limit - 1,
        limit,
    )
    return prompt[:, -(limit - 1) :]


@torch.no_grad()
def _last_logits(model: nn.Module, ids: Tensor, cache) -> Tensor:
    return model(ids, cache=cache).logits[:, -1]  # (B, T, V) -> (B, V)


def generate_ids(
    model: nn.Module, prompt: Tensor, cfg: DecodeConfig, *, stop_ids: tuple[int, ...] = ()
) -> Iterator[Tensor]:
    """Yield ``(B,)`` next-token ids, up to ``cfg.max_new_tokens`` or until every row stopped.

    Rows that emitted a stop id keep yielding it (so batch rows stay aligned). Every model call
    runs under ``torch.no_grad`` (the graph's own steps included).
    """
    if prompt.dim() != 2 or prompt.shape[1] == 0:
        raise ValueError(f"prompt must be (B, T) with T >= 1, got {tuple(prompt.shape)}")
    model.eval()
    limit = getattr(model, "context_limit", None)
    prompt = fit_prompt(prompt, limit, cfg.prompt_overflow)
    b = prompt.shape[0]
    device = next(model.parameters()).device
    prompt = prompt.to(device)
    gen = torch.Generator(device=device)
    if cfg.seed is not None:
        gen.manual_seed(cfg.seed)
    else:
        gen.seed()
    total = prompt.shape[1] + cfg.max_new_tokens
    cache_len = total if limit is None else min(total, limit)
    graphed = None
    if cfg.cuda_graphs and cfg.max_new_tokens >= GRAPH_MIN_TOKENS and can_graph(model, device):
        graphed = StepGraph(model, b, cache_len)
        logits = graphed.prefill(prompt)
    elif cfg.compile and can_graph(model, device, "cpu"):
        # Cache lengths rounded up to a multiple of 256, so that most generations reuse one
        # compiled shape instead of compiling again for each prompt length.
        bucket = -(-cache_len // COMPILE_BUCKET) * COMPILE_BUCKET
        cache_len = bucket if limit is None else min(bucket, limit)
        graphed = StepGraph(model, b, cache_len, capture=False, compile=True)
        logits = graphed.prefill(prompt)
    else:
        cache = model.new_cache(b, cache_len)
        logits = _last_logits(model, prompt, cache)  # prefill
    length = prompt.shape[1]  # positions cached so far
    history = prompt
    done = torch.zeros(b, dtype=torch.bool, device=device)
    stops = torch.tensor(stop_ids, dtype=torch.long, device=device)
    for _ in range(cfg.max_new_tokens):
        nxt = choose_next(
            logits,
            history,
            temperature=cfg.temperature,
            top_k=cfg.top_k,
            top_p=cfg.top_p,
            penalty=cfg.repetition_penalty,
            generator=gen,
        )
        if stops.numel():
            nxt = torch.where(done, stops[0], nxt)
            done |= torch.isin(nxt, stops)
        yield nxt
        if bool(done.all()):
            return
        history = torch.cat([history, nxt[:, None]], dim=1)
        if limit is not None and length >= limit:
            # Context full: slide the window and re-encode its second half from position 0.
            length = limit // 2
            if graphed is not None:
                logits = graphed.prefill(history[:, -length:])
            else:
                cache = model.new_cache(b, limit)
                logits = _last_logits(model, history[:, -length:], cache)
        elif graphed is not None:
            logits = graphed.step(nxt, length)
            length += 1
        else:
            logits = _last_logits(model, nxt[:, None], cache)
            length += 1


def generate_text(model: nn.Module, tokenizer: Tokenizer, prompt: str, cfg: DecodeConfig) -> Iterator[str]:
    """Stream the continuation of ``prompt`` as text chunks; honours ``cfg.stop`` strings.

    Chunks never split a character; the stop string itself is not emitted.
    """
    ids = tokenizer.encode(prompt)
    if not ids:
        ids = [tokenizer.bos_id]
    stream = StreamDecoder(tokenizer, prefix=ids)
    text = ""
    emitted = 0
    hold = max((len(s) for s in cfg.stop), default=1) - 1  # chars that might start a stop string
    for nxt in generate_ids(model, torch.tensor([ids]), cfg, stop_ids=(tokenizer.eos_id,)):
        tok = int(nxt[0])
        if tok == tokenizer.eos_id:
            break
        text += stream.push(tok)
        cut = min((text.find(s) for s in cfg.stop if s in text), default=-1)
        if cut >= 0:
            if cut > emitted:
                yield text[emitted:cut]
            return
        safe = len(text) - hold
        if safe > emitted:
            yield text[emitted:safe]
            emitted = safe
    text += stream.flush()
    if len(text) > emitted:
        yield text[emitted:]
