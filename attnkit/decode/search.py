"""Search for encoder-decoders: greedy, sampling and batched beam search, all KV-cached.

Every function takes a model with the encoder-decoder interface (``encode``, ``decode(...,
cache=)``, ``new_cache``), i.e. :class:`EncoderDecoder` or the GRU baseline, and source ids
``(B, S)`` with their ``(B, S)`` mask, and returns one list of target ids per source (without
``<bos>``, cut before ``<eos>``). The encoder runs once; the decoder runs one token per step
against its cache (cross-attention K/V are computed on the first step and kept).

Beam search (the fairseq formulation):

- Each source keeps ``K`` live hypotheses ranked by summed log-probability. Each step looks at
  the best ``2K`` extensions of all of them; an extension that ends in ``<eos>`` and ranks in the
  top ``K`` is *finished*, the best ``K`` others stay live.
- A finished hypothesis scores ``sum log p / len ** length_penalty`` (``len`` counts ``<eos>``);
  ``length_penalty`` > 1 favours longer outputs, 0 compares raw sums.
- A source is done once it has ``K`` finished hypotheses; its best one is returned. At the
  length cap ``<eos>`` is forced, so every source finishes.
- ``no_repeat_ngram = n`` forbids any token that would repeat an n-gram already in the
  hypothesis (Paulus et al. 2018).

With ``K = 1`` this reduces exactly to greedy search (the tests check it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from attnkit.decode.processors import choose_next


def _strip(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


def banned_tokens(seq: list[int], n: int) -> set[int]:
    """Tokens that would complete an ``n``-gram already present in ``seq``."""
    if n <= 0 or len(seq) < n - 1:
        return set()
    if n == 1:
        return set(seq)
    prefix = tuple(seq[len(seq) - n + 1 :])
    return {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == prefix}


@torch.no_grad()
def greedy_search(
    model: nn.Module, src: Tensor, src_mask: Tensor, *, bos_id: int, eos_id: int, max_len: int
) -> list[list[int]]:
    """Argmax decoding, at most ``max_len`` tokens (``<eos>`` included) per source."""
    return sample_search(model, src, src_mask, bos_id=bos_id, eos_id=eos_id, max_len=max_len, temperature=0.0)


def sample_search(
    model: nn.Module,
    src: Tensor,
    src_mask: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Ancestral sampling with temperature/top-k/top-p; ``temperature == 0`` is greedy."""
    with torch.no_grad():
        model.eval()
        b = src.shape[0]
        memory, key_mask = model.encode(src, src_mask)
        cache = model.new_cache(b, max_len + 1)
        step = torch.full((b, 1), bos_id, dtype=torch.long, device=src.device)
        history = step
        done = torch.zeros(b, dtype=torch.bool, device=src.device)
        for i in range(max_len):
            logits = model.decode(step, memory, key_mask, cache=cache).logits[:, -1].float()  # (B, V)
            nxt = choose_next(
                logits, history, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )
            if i == max_len - 1:  # the cap counts <eos>, as in beam search
                nxt = torch.full_like(nxt, eos_id)
            nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
            done |= nxt == eos_id
            step = nxt[:, None]
            history = torch.cat([history, step], dim=1)
            if bool(done.all()):
                break
        return [_strip(row[1:], eos_id) for row in history.tolist()]


def _step_log_probs(
    logits: Tensor, tokens: Tensor, *, step: int, max_len: int, eos_id: int, no_repeat_ngram: int
) -> Tensor:
    """Log-probabilities ``(B*K, V)`` of every extension, with banned n-gram repeats and (at the
    length cap) every token but ``<eos>`` at -inf."""
    lp = torch.log_softmax(logits.float(), dim=-1)  # (B*K, V)
    if no_repeat_ngram > 0:
        for row, seq in enumerate(tokens[:, 1:].tolist()):
            ban = banned_tokens(seq, no_repeat_ngram)
            if ban:
                lp[row, list(ban)] = float("-inf")
    if step == max_len - 1:  # length cap: only <eos> may follow
        lp[:, :eos_id] = float("-inf")
        lp[:, eos_id + 1 :] = float("-inf")
    return lp


def _split_extensions(
    ranked: list[tuple[float, int, int]],
    prefixes: list[list[int]],
    finished: list[tuple[float, list[int]]],
    *,
    k: int,
    eos_id: int,
    length_penalty: float,
) -> list[tuple[float, int, int]]:
    """One source's best ``2K`` extensions ``(score, beam, token)``, best first: the endings
    among the top ``K`` are appended to ``finished`` as ``(score / len ** length_penalty, ids)``;
    returns the best ``K`` others, which stay live."""
    live: list[tuple[float, int, int]] = []
    for rank, (score, beam, tok) in enumerate(ranked):
        if score == float("-inf"):
            break
        if tok == eos_id:
            if rank < k:  # only top-K ranked endings count (fairseq), so K=1 is greedy
                seq = prefixes[beam]
                finished.append((score / (len(seq) + 1) ** length_penalty, seq))
            continue
        if len(live) < k:
            live.append((score, beam, tok))
    return live


Step = Callable[[Tensor], Tensor]
"""``step(last)``: logits ``(B*K, V)`` of the next token after ``last`` ``(B*K, 1)``, the cache
(if any) advanced by one position."""


def run_beams(
    step: Step,
    reorder: Callable[[Tensor], None],
    start: Tensor,
    *,
    batch: int,
    beam_size: int,
    eos_id: int,
    max_len: int,
    length_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
) -> list[list[int]]:
    """The beam loop shared by encoder-decoders and decoder-only models.

    Args:
        step: see :data:`Step`; called once per generated position.
        reorder: ``reorder(rows)`` with ``rows`` ``(B*K,)``: row ``i`` continues old row
            ``rows[i]`` (the caller reorders its cache and any per-row state).
        start: ``(B*K, 1)`` the token before the first generated one (``<bos>``, or the prompt's
            last token); it is not part of the output.
    """
    b, k, device = batch, beam_size, start.device
    tokens = start
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float("-inf")  # all beams start identical: keep one so they do not repeat
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    done = [False] * b
    for t in range(max_len):
        lp = _step_log_probs(
            step(tokens[:, -1:]), tokens, step=t, max_len=max_len, eos_id=eos_id,
            no_repeat_ngram=no_repeat_ngram,
        )  # fmt: skip
        v = lp.shape[-1]
        cand = (scores.view(b * k, 1) + lp).view(b, k * v)  # (B*K, V) -> (B, K*V)
        top_s, top_i = cand.topk(min(2 * k, k * v), dim=1)  # (B, 2K)
        # (score, beam, token) per source, best first: (B, 2K) -> B lists of 2K triples
        ranked = [
            list(zip(*row, strict=True))
            for row in zip(top_s.tolist(), (top_i // v).tolist(), (top_i % v).tolist(), strict=True)
        ]
        prefixes = tokens[:, 1:].tolist()
        new_scores = torch.full((b, k), float("-inf"), device=device)
        new_src = torch.zeros(b, k, dtype=torch.long, device=device)
        new_tok = torch.full((b, k), eos_id, dtype=torch.long, device=device)
        for i in range(b):
            if done[i]:
                continue
            live = _split_extensions(
                ranked[i], prefixes[i * k : (i + 1) * k], finished[i],
                k=k, eos_id=eos_id, length_penalty=length_penalty,
            )  # fmt: skip
            for slot, (score, beam, tok) in enumerate(live):
                new_scores[i, slot], new_src[i, slot], new_tok[i, slot] = score, beam, tok
            done[i] = len(finished[i]) >= k or not live
        if all(done):
            break
        flat = (torch.arange(b, device=device)[:, None] * k + new_src).view(-1)  # (B, K) -> (B*K,)
        reorder(flat)
        tokens = torch.cat([tokens[flat], new_tok.view(-1, 1)], dim=1)
        scores = new_scores
    return [max(f)[1] if f else [] for f in finished]


def beam_search(
    model: nn.Module,
    src: Tensor,
    src_mask: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_size: int = 4,
    length_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
) -> list[list[int]]:
    """Batched beam search (see the module docstring); returns the best hypothesis per source."""
    b, k = src.shape[0], beam_size
    if k < 1:
        raise ValueError(f"beam_size must be >= 1, got {k}")
    model.eval()
    with torch.no_grad():
        memory, key_mask = model.encode(src, src_mask)
        memory = memory.repeat_interleave(k, dim=0)  # (B, S, C) -> (B*K, S, C)
        key_mask = key_mask.repeat_interleave(k, dim=0) if key_mask is not None else None
        cache = model.new_cache(b * k, max_len + 1)

        def step(last: Tensor) -> Tensor:
            return model.decode(last, memory, key_mask, cache=cache).logits[:, -1]  # (B*K, V)

        start = torch.full((b * k, 1), bos_id, dtype=torch.long, device=src.device)
        return run_beams(
            step, cache.reorder, start, batch=b, beam_size=k, eos_id=eos_id, max_len=max_len,
            length_penalty=length_penalty, no_repeat_ngram=no_repeat_ngram,
        )  # fmt: skip
