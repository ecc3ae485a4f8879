"""Text in, text out for encoder-decoders: what ``attnkit translate`` / ``summarize`` run.

``transduce(model, tokenizer, texts, decode_cfg, data_cfg)`` encodes each source, decodes in
length-sorted batches with the configured search, and returns one output per input, in order.

Limits, stated once:

- A source longer than ``data.max_src_len`` tokens (the length the model was trained with,
  ``<eos>`` included) keeps its first ``max_src_len - 1`` tokens; a warning says how many inputs
  were cut.
- Each output has at most ``min(max_len_a * source_tokens + max_len_b, 2 * data.max_tgt_len)``
  tokens, ``<eos>`` included.
- An empty (or whitespace-only) input gives an empty output without running the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

from attnkit.config.run import DataConfig, DecodeConfig
from attnkit.data.seq2seq import pad_batch
from attnkit.decode.search import beam_search, sample_search
from attnkit.text.pair import PairTokenizer

log = logging.getLogger(__name__)


CHARS_PER_TOKEN = 64
"""No source token spans more characters than this, so a source is cut to ``max_src_len * 64``
characters before tokenizing: a 50 MB line costs its bytes, not a tokenizer run over all of them."""


def encode_sources(
    tokenizer: PairTokenizer, texts: Sequence[str], data: DataConfig, numbers: Sequence[int] | None = None
) -> list[list[int]]:
    """Source ids (``<eos>``-terminated, truncated to ``data.max_src_len``), warning on cuts;
    ``numbers`` names the inputs in the warnings (default 1, 2, …: a file's line numbers)."""
    limit = data.max_src_len * CHARS_PER_TOKEN
    for i, t in enumerate(texts):
        if len(t) > limit:
            n = numbers[i] if numbers is not None else i + 1
            log.warning("input %d is %d characters; only its first %d are read (data.max_src_len=%d tokens)",
                        n, len(t), limit, data.max_src_len)  # fmt: skip
    texts = [t[:limit] for t in texts]
    out, cut = tokenizer.encode_sources([t.lower() if data.lowercase else t for t in texts], data.max_src_len)
    if cut:
        log.warning(
            "%d of %d inputs were longer than data.max_src_len=%d tokens and were truncated",
            cut,
            len(texts),
            data.max_src_len,
        )
    return out


def transduce(
    model: nn.Module,
    tokenizer: PairTokenizer,
    texts: Sequence[str],
    dcfg: DecodeConfig,
    data: DataConfig,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    first_line: int = 1,
) -> list[str]:
    """Decode every text; ``progress(n)`` is called after each batch with the count done;
    ``first_line`` is the number of ``texts[0]`` in warnings.

    No autograd graph is built: the searches run under ``torch.no_grad``."""
    model.eval()
    device = next(model.parameters()).device
    outputs = [""] * len(texts)
    todo = [i for i, t in enumerate(texts) if t.strip()]
    srcs = encode_sources(tokenizer, [texts[i] for i in todo], data, [first_line + i for i in todo])
    order = sorted(range(len(todo)), key=lambda j: len(srcs[j]))
    gen = torch.Generator(device=device)
    if dcfg.seed is not None:
        gen.manual_seed(dcfg.seed)
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        src = pad_batch([srcs[j] for j in chunk], tokenizer.pad_id).to(device)
        width = src.shape[1]
        mask = src != tokenizer.pad_id
        max_len = min(int(dcfg.max_len_a * width + dcfg.max_len_b), 2 * data.max_tgt_len)
        common = {"bos_id": tokenizer.bos_id, "eos_id": tokenizer.eos_id, "max_len": max(max_len, 1)}
        if dcfg.sample:
            ids = sample_search(
                model, src, mask, temperature=dcfg.temperature, top_k=dcfg.top_k, top_p=dcfg.top_p,
                generator=gen, **common,
            )  # fmt: skip
        else:
            ids = beam_search(
                model, src, mask, beam_size=dcfg.beam_size, length_penalty=dcfg.length_penalty,
                no_repeat_ngram=dcfg.no_repeat_ngram, **common,
            )  # fmt: skip
        for j, hyp in zip(chunk, ids, strict=True):
            outputs[todo[j]] = tokenizer.decode(hyp).strip()
        if progress is not None:
            progress(min(s + batch_size, len(order)))
    return outputs
