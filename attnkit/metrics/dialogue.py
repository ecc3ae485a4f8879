"""Dialogue-response metrics: BLEU-1/2 and distinct-1/2.

- ``bleu1`` / ``bleu2``: corpus BLEU (Papineni et al. 2002) with n-grams up to 1 or 2, uniform
  weights, clipped counts and the brevity penalty, no smoothing — sacreBLEU with
  ``max_ngram_order`` 1 or 2 on lowercased text and its ``13a`` tokenizer. Corpus-level: n-gram
  matches are pooled over all responses before the ratio, so short responses do not each get a
  smoothed sentence score (papers that average smoothed sentence-BLEU report larger numbers).
- ``distinct1`` / ``distinct2`` (Li et al. 2016, "A Diversity-Promoting Objective Function"):
  distinct n-grams over all generated responses divided by all generated n-grams, on the same
  lowercased 13a tokens. A model that answers everything with "i don't know ." scores near 0.
- ``avg_len``: mean response length in those tokens.

Perplexity is not here: it comes from the model's teacher-forced loss on the reference
responses (``attnkit eval`` reports it beside these).
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_TOK = Tokenizer13a()


def tokens(text: str) -> list[str]:
    """The tokens every dialogue metric counts: lowercased, 13a-tokenized words."""
    return _TOK(text.lower()).split()


def distinct_n(hyps: Sequence[str], n: int) -> float:
    """Distinct n-grams / total n-grams over all ``hyps`` (0.0 when there are no n-grams)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for h in hyps:
        t = tokens(h)
        grams = [tuple(t[i : i + n]) for i in range(len(t) - n + 1)]
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def dialogue_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> dict:
    """BLEU-1/2 (x100), distinct-1/2 (fractions) and mean length of ``hyps`` against ``refs``."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} responses but {len(refs)} reference sets")
    if not hyps:
        raise ValueError("no responses to score")
    streams = [[r[0] for r in refs]]  # DailyDialog has one reference response per context
    out: dict = {}
    for n in (1, 2):
        bleu = sacrebleu.BLEU(max_ngram_order=n, lowercase=True, tokenize="13a")
        out[f"bleu{n}"] = bleu.corpus_score(list(hyps), streams).score
        out[f"bleu{n}_signature"] = str(bleu.get_signature())
    out["distinct1"] = distinct_n(hyps, 1)
    out["distinct2"] = distinct_n(hyps, 2)
    out["avg_len"] = sum(len(tokens(h)) for h in hyps) / len(hyps)
    out["examples"] = len(hyps)
    return out
