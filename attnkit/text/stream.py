"""Incremental decoding for streamed generation that never emits part of a character.

Decoding ids one at a time breaks in two ways: byte-level tokens can end mid-way through a UTF-8
character (the decoder then shows U+FFFD), and some tokenizers change earlier text once later
ids arrive. ``StreamDecoder`` decodes everything so far, emits only what extends the text already
emitted, and holds back a trailing U+FFFD until the rest of the character arrives.
"""

from __future__ import annotations

from collections.abc import Sequence

from attnkit.text.base import Tokenizer

_REPLACEMENT = "\ufffd"


class StreamDecoder:
    """``push(id) -> new text``; ``flush() -> whatever is left``.

    ``prefix`` (the prompt's ids) is decoded but not emitted, so the first chunk carries whatever
    joins it to the prompt: a word tokenizer's continuation starts with its separating space.
    """

    def __init__(self, tokenizer: Tokenizer, prefix: Sequence[int] = ()) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = list(prefix)
        self.emitted = tokenizer.decode(self.ids) if self.ids else ""

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids)
        stable = text.rstrip(_REPLACEMENT)  # an incomplete multi-byte character so far
        if not stable.startswith(self.emitted):
            return ""  # earlier text changed; wait until it settles
        new = stable[len(self.emitted) :]
        self.emitted = stable
        return new

    def flush(self) -> str:
        text = self.tokenizer.decode(self.ids)
        new = text[len(self.emitted) :] if text.startswith(self.emitted) else ""
        self.emitted = text
        return new
