"""Speech recognition metrics: word and character error rates, and whole-output accuracy.

WER = (substitutions + deletions + insertions) / reference words, summed over the corpus before
dividing (the standard corpus-level rate, as in jiwer and sclite), so long references weigh
more. CER is the same over characters (spaces included). Both can exceed 1 when hypotheses
insert more than the references hold. Texts are compared as given, after collapsing whitespace.
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (unit costs), in O(len(a) * len(b))."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _norm(s: str) -> str:
    return " ".join(s.split())


def error_rate(hyps: Sequence[str], refs: Sequence[str], unit: str = "word") -> float:
    """Corpus WER (``unit="word"``) or CER (``unit="char"``)."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    split = str.split if unit == "word" else list
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    errors = total = 0
    for h, r in zip(hyps, refs, strict=True):
        hs, rs = split(_norm(h)), split(_norm(r))
        errors += edit_distance(hs, rs)
        total += len(rs)
    return errors / max(total, 1)


def asr_scores(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    """``accuracy`` (whole output equals the reference), ``wer`` and ``cer``, as fractions."""
    exact = sum(_norm(h) == _norm(r) for h, r in zip(hyps, refs, strict=True))
    return {
        "accuracy": exact / max(len(refs), 1),
        "wer": error_rate(hyps, refs, "word"),
        "cer": error_rate(hyps, refs, "char"),
        "examples": len(refs),
    }
