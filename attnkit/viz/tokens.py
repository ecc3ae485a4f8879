"""Readable labels for token ids, one per position, for axis ticks and the head view.

Byte-level BPE splits a Chinese character into several byte tokens, and decoding one such token
alone yields U+FFFD. Labels therefore come from *cumulative* decoding: position i is labelled
with the text that token i adds to the decoded prefix, so a character appears once, on the
token that completes it, and the tokens before it show as a continuation mark.
"""

from __future__ import annotations

from collections.abc import Sequence

from attnkit.text.base import Tokenizer

CONTINUATION = "…"
"""Label of a token that completes no character on its own (a partial UTF-8 sequence)."""

_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


def _visible(piece: str) -> str:
    stripped = piece.strip()
    if stripped:
        return stripped
    return "".join(_VISIBLE.get(c, c) for c in piece) or CONTINUATION


def token_labels(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """One display label per id: its text (specials as ``<bos>``…), whitespace made visible."""
    labels: list[str] = []
    specials = tokenizer.special_tokens()
    prefix: list[int] = []
    prev = ""
    for i in ids:
        if i in specials:
            labels.append(specials[i])
            continue
        prefix.append(int(i))
        cur = tokenizer.decode(prefix, skip_special=False).rstrip("\ufffd")
        # A decoder that rewrites earlier text (rare) falls back to the token alone.
        piece = cur[len(prev) :] if cur.startswith(prev) else tokenizer.decode([int(i)], skip_special=False)
        labels.append(_visible(piece))
        prev = cur
    return labels
