"""Translation metrics: sacreBLEU, chrF and a lowercased tokenized BLEU.

- ``bleu``: sacreBLEU (Post 2018) on detokenized, cased text with its standard tokenizer
  (``13a``; ``zh`` when the target language is Chinese). Its signature is returned, so a score
  always says how it was computed.
- ``chrf``: character n-gram F-score (Popović 2015), sacreBLEU's ``chrF2``.
- ``bleu_lc_tok``: BLEU on lowercased text, tokenized with sacreBLEU's ``13a`` rules (which split
  punctuation off words, as the Moses tokenizer does for these languages). It matches the
  convention of results that lowercase and tokenize both sides first (e.g. ``multi-bleu.perl``
  on tokenized Multi30k); sacreBLEU is the number to compare with published detokenized scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu


def _check(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> list[list[str]]:
    """References as sacreBLEU wants them: one stream per reference position, padded."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference sets")
    if not hyps:
        raise ValueError("no hypotheses to score")
    n = max(len(r) for r in refs)
    # sacreBLEU skips None entries in extra reference streams (examples with fewer references).
    return [[r[i] if i < len(r) else None for r in refs] for i in range(n)]  # type: ignore[misc]


def translation_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], target_lang: str = "en") -> dict:
    """BLEU, chrF and lowercased tokenized BLEU of ``hyps`` against ``refs`` (one list per hyp)."""
    streams = _check(hyps, refs)
    tok = "zh" if target_lang.lower().startswith("zh") else "13a"
    bleu = sacrebleu.BLEU(tokenize=tok)
    b = bleu.corpus_score(list(hyps), streams)
    chrf = sacrebleu.CHRF()
    c = chrf.corpus_score(list(hyps), streams)
    lc = sacrebleu.BLEU(tokenize=tok, lowercase=True)
    b_lc = lc.corpus_score(list(hyps), streams)
    return {
        "bleu": round(b.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(b),
        "chrf": round(c.score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_lc_tok": round(b_lc.score, 2),
        "bleu_lc_tok_signature": str(lc.get_signature()),
    }
