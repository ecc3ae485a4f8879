"""ROUGE-1/2/L (Lin 2004) with Google's ``rouge-score`` package.

English: Porter stemming on, rouge-score's default tokenizer (lowercase, alphanumeric tokens).
Chinese: that tokenizer would delete every Han character, so text is scored character by
character instead (each CJK character one token, other runs split on spaces).

Several references per example (SciTLDR): each metric takes the best-matching reference
(``RougeScorer.score_multi``), as the SciTLDR paper's scorer does. Scores are corpus means of the
per-example F1, times 100.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rouge_score import rouge_scorer

TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|\n+")
_CJK_OR_WORD = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


class _CharTokenizer:
    """rouge-score tokenizer interface: one token per CJK character, words elsewhere."""

    def tokenize(self, text: str) -> list[str]:
        return _CJK_OR_WORD.findall(text.lower())


def split_sentences(text: str) -> str:
    """``text`` with one sentence per line, for ROUGE-Lsum: a break after ``.``, ``!`` or ``?``
    followed by whitespace, after ``。``, ``！`` or ``？``, and at existing line breaks (the
    published SAMSum scores split with
    NLTK's Punkt, which also keeps abbreviations such as "Dr." whole; this regex does not)."""
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s.strip())


def rouge_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], lang: str = "en") -> dict:
    """Mean ROUGE-1/2/L/Lsum F1 (x100); ``refs`` holds one or more references per hypothesis.

    ROUGE-L is the LCS of the whole texts; ROUGE-Lsum (summary-level, Lin 2004) splits both into
    sentences (:func:`split_sentences`) and takes the union LCS of each reference sentence with
    every hypothesis sentence, as the published SAMSum numbers report it."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference sets")
    if not hyps:
        raise ValueError("no hypotheses to score")
    zh = lang.lower().startswith("zh")
    scorer = rouge_scorer.RougeScorer(
        list(TYPES), use_stemmer=not zh, tokenizer=_CharTokenizer() if zh else None
    )
    sums = dict.fromkeys(TYPES, 0.0)
    for h, rs in zip(hyps, refs, strict=True):
        h, rs = split_sentences(h), [split_sentences(r) for r in rs]
        s = scorer.score_multi(list(rs), h) if len(rs) > 1 else scorer.score(rs[0], h)
        for t in TYPES:
            sums[t] += s[t].fmeasure
    n = len(hyps)
    return {
        "rouge1": round(100 * sums["rouge1"] / n, 2),
        "rouge2": round(100 * sums["rouge2"] / n, 2),
        "rougeL": round(100 * sums["rougeL"] / n, 2),
        "rougeLsum": round(100 * sums["rougeLsum"] / n, 2),
        "rouge_signature": f"rouge-score 0.1.2|F1 mean|stem:{not zh}|tok:{'char' if zh else 'default'}"
        "|Lsum:regex sentences",
    }
