"""Batched search for decoder-only models continuing prompts: greedy, sampling and beam search.

Prompts of different lengths are left-padded into one ``(B, T)`` batch, so every row's next token
sits in the last column. Each row's positions count its real tokens only (``0`` at its first real
token), and the padding is masked out of every key set, so a row decodes exactly as it would
alone. The prompt is run once (prefill); each step then feeds one token per row through the KV
cache.

Beam search prefills each prompt once and copies its cache to its ``K`` beams
(:meth:`KVCache.repeat`); the beam loop is the encoder-decoder one (:func:`run_beams`), so
``beam_size=1`` is greedy search. :class:`RecomputedRows` runs the same interface without a
cache, recomputing the whole sequence each step: the tests check that cached and recomputed
searches agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from attnkit.config.run import DataConfig, DecodeConfig
from attnkit.decode.processors import choose_next
from attnkit.decode.search import _strip, run_beams
from attnkit.decode.seq2seq import CHARS_PER_TOKEN
from attnkit.text.base import Tokenizer
from attnkit.text.prompt import PromptTemplate

log = logging.getLogger(__name__)


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(ids, mask, positions)``, each ``(B, T)``: left-padded ids, True on real tokens, and
    each token's position among its row's real tokens (0 on padding)."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    t = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), t), pad_id, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, t - len(p) :] = torch.as_tensor(list(p), dtype=torch.long)
    mask = torch.arange(t)[None, :] >= torch.tensor([t - len(p) for p in prompts])[:, None]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    return ids, mask, positions


class CachedRows:
    """Left-padded prompts prefilled into a KV cache, continued one token per row per step."""

    def __init__(self, model: nn.Module, prompts: Sequence[Sequence[int]], pad_id: int, room: int) -> None:
        device = next(model.parameters()).device
        ids, mask, pos = (x.to(device) for x in left_pad(prompts, pad_id))
        self.model, self.room = model, room
        self.cache = model.new_cache(len(prompts), ids.shape[1] + room)
        out = model(ids, cache=self.cache, padding_mask=mask, positions=pos)
        self.first = out.logits[:, -1]  # (B, T, V) -> (B, V)
        self.mask, self.next_pos = mask, pos[:, -1] + 1

    def repeat(self, k: int) -> None:
        """Give each row ``k`` copies (beams), consecutive: rows become ``B*K``."""
        rows = torch.arange(self.mask.shape[0], device=self.mask.device).repeat_interleave(k)
        self.cache = self.cache.repeat(rows.numel(), self.cache.max_len, rows)
        self.first, self.mask, self.next_pos = self.first[rows], self.mask[rows], self.next_pos[rows]

    def step(self, last: Tensor) -> Tensor:
        """Logits ``(B, V)`` after appending ``last`` ``(B, 1)``."""
        self.mask = torch.cat([self.mask, torch.ones_like(last, dtype=torch.bool)], dim=1)
        out = self.model(last, cache=self.cache, padding_mask=self.mask, positions=self.next_pos[:, None])
        self.next_pos = self.next_pos + 1
        return out.logits[:, -1]

    def reorder(self, rows: Tensor) -> None:
        self.cache.reorder(rows)
        self.mask, self.next_pos = self.mask[rows], self.next_pos[rows]


class RecomputedRows(CachedRows):
    """The same interface without a cache: each step runs the whole sequence again (a reference
    for tests, O(T^2) per token)."""

    def __init__(self, model: nn.Module, prompts: Sequence[Sequence[int]], pad_id: int, room: int) -> None:
        device = next(model.parameters()).device
        self.model = model
        self.ids, self.mask, self.pos = (x.to(device) for x in left_pad(prompts, pad_id))
        self.first = self._run()

    def _run(self) -> Tensor:
        return self.model(self.ids, padding_mask=self.mask, positions=self.pos).logits[:, -1]

    def repeat(self, k: int) -> None:
        rows = torch.arange(self.ids.shape[0], device=self.ids.device).repeat_interleave(k)
        self.ids, self.mask, self.pos = self.ids[rows], self.mask[rows], self.pos[rows]
        self.first = self.first[rows]

    def step(self, last: Tensor) -> Tensor:
        self.ids = torch.cat([self.ids, last], dim=1)
        self.mask = torch.cat([self.mask, torch.ones_like(last, dtype=torch.bool)], dim=1)
        self.pos = torch.cat([self.pos, self.pos[:, -1:] + 1], dim=1)
        return self._run()

    def reorder(self, rows: Tensor) -> None:
        self.ids, self.mask, self.pos = self.ids[rows], self.mask[rows], self.pos[rows]


def _first_then(rows: CachedRows):
    """A :data:`Step` that returns the prefill's logits first, then steps the rows."""
    pending = [True]

    def step(last: Tensor) -> Tensor:
        if pending[0]:
            pending[0] = False
            return rows.first
        return rows.step(last)

    return step


@torch.no_grad()
def prompted_beam_search(
    model: nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    eos_id: int,
    max_new: int,
    beam_size: int = 4,
    length_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    use_cache: bool = True,
) -> list[list[int]]:
    """The best continuation of each prompt (at most ``max_new`` tokens, ``<eos>`` counted),
    without the ``<eos>``."""
    if beam_size < 1 or max_new < 1:
        raise ValueError(f"beam_size and max_new must be >= 1, got {beam_size} and {max_new}")
    model.eval()
    rows = (CachedRows if use_cache else RecomputedRows)(model, prompts, pad_id, max_new + 1)
    rows.repeat(beam_size)
    last = torch.tensor([p[-1] for p in prompts], device=rows.mask.device)
    start = last.repeat_interleave(beam_size)[:, None]  # (B,) -> (B*K, 1)
    return run_beams(
        _first_then(rows), rows.reorder, start, batch=len(prompts), beam_size=beam_size,
        eos_id=eos_id, max_len=max_new, length_penalty=length_penalty, no_repeat_ngram=no_repeat_ngram,
    )  # fmt: skip


@torch.no_grad()
def prompted_sample(
    model: nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    eos_id: int,
    max_new: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    penalty: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Sampled (``temperature > 0``) or greedy continuations, without the ``<eos>``."""
    model.eval()
    rows = CachedRows(model, prompts, pad_id, max_new + 1)
    logits, b = rows.first, len(prompts)
    done = torch.zeros(b, dtype=torch.bool, device=logits.device)
    out = torch.empty(b, 0, dtype=torch.long, device=logits.device)
    for i in range(max_new):
        nxt = choose_next(logits.float(), out, temperature=temperature, top_k=top_k, top_p=top_p,
                          penalty=penalty, generator=generator)  # fmt: skip
        if i == max_new - 1:  # the cap counts <eos>, as in beam search
            nxt = torch.full_like(nxt, eos_id)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
        done |= nxt == eos_id
        out = torch.cat([out, nxt[:, None]], dim=1)
        if bool(done.all()):
            break
        logits = rows.step(nxt[:, None])
    return [_strip(row, eos_id) for row in out.tolist()]


def search(
    model: nn.Module,
    prompts: Sequence[Sequence[int]],
    dcfg: DecodeConfig,
    *,
    pad_id: int,
    eos_id: int,
    max_new: int,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """The continuation ids of each prompt under ``dcfg``: sampling when ``dcfg.sample`` (at
    ``dcfg.temperature``), else beam search of ``dcfg.beam_size`` (width 1 without n-gram
    blocking runs as the equivalent, cheaper greedy loop)."""
    common = {"pad_id": pad_id, "eos_id": eos_id, "max_new": max_new}
    if dcfg.sample or (dcfg.beam_size == 1 and dcfg.no_repeat_ngram == 0):
        temp = dcfg.temperature if dcfg.sample else 0.0
        return prompted_sample(model, prompts, temperature=temp, top_k=dcfg.top_k, top_p=dcfg.top_p,
                               penalty=dcfg.repetition_penalty, generator=generator, **common)  # fmt: skip
    return prompted_beam_search(model, prompts, beam_size=dcfg.beam_size, length_penalty=dcfg.length_penalty,
                                no_repeat_ngram=dcfg.no_repeat_ngram, **common)  # fmt: skip


def prompted_transduce(
    model: nn.Module,
    tokenizer: Tokenizer,
    template: PromptTemplate,
    texts: Sequence[str],
    dcfg: DecodeConfig,
    data: DataConfig,
    *,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    first_line: int = 1,
) -> list[str]:
    """Each text's output, through ``template`` as in training: beam search (``dcfg.beam_size``)
    or, with ``dcfg.sample``, sampling at ``dcfg.temperature`` (0 = greedy). A source over
    ``data.max_src_len`` tokens is cut as in training (``data.source_keep``), with a warning; an
    output has at most ``min(max_len_a * source_tokens + max_len_b, 2 * data.max_tgt_len)``
    tokens, ``<eos>`` included; an empty input gives an empty output without running the model."""
    model.eval()
    outputs = [""] * len(texts)
    todo = [i for i, t in enumerate(texts) if t.strip()]
    limit = data.max_src_len * CHARS_PER_TOKEN  # never tokenize more than max_src_len can keep
    srcs = [texts[i][:limit] if data.source_keep != "end" else texts[i][-limit:] for i in todo]
    src_ids = tokenizer.encode_batch(srcs)
    prompts, cut = [], 0
    for i, ids in zip(todo, src_ids, strict=True):
        p, was_cut = template.encode(tokenizer, ids, data.max_src_len, data.source_keep)
        prompts.append(p)
        cut += was_cut or len(texts[i]) > limit
    if cut:
        log.warning("%d of %d inputs (from line %d) were over data.max_src_len=%d tokens and were cut",
                    cut, len(todo), first_line, data.max_src_len)  # fmt: skip
    room = getattr(model, "context_limit", None)
    order = sorted(range(len(todo)), key=lambda j: len(prompts[j]))
    gen = torch.Generator(device=next(model.parameters()).device)
    if dcfg.seed is not None:
        gen.manual_seed(dcfg.seed)
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        batch = [prompts[j] for j in chunk]
        width = max(len(src_ids[j][: data.max_src_len]) for j in chunk)
        max_new = min(int(dcfg.max_len_a * width + dcfg.max_len_b), 2 * data.max_tgt_len)
        if room is not None:
            max_new = min(max_new, room - max(len(p) for p in batch))
        ids = search(model, batch, dcfg, pad_id=tokenizer.pad_id, eos_id=tokenizer.eos_id,
                     max_new=max(max_new, 1), generator=gen)  # fmt: skip
        for j, hyp in zip(chunk, ids, strict=True):
            outputs[todo[j]] = tokenizer.decode(hyp).strip()
        if progress is not None:
            progress(min(s + batch_size, len(order)))
    return outputs
