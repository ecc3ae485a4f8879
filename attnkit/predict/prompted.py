"""Decoder-only models fine-tuned on pairs: summarize, translate or reply through their prompt
template (the one saved with the checkpoint, so inference builds the training prompt)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from attnkit.decode.prompted import prompted_transduce
from attnkit.predict.seq2seq import DialoguePredictor, Seq2SeqPredictor
from attnkit.tasks.prompted import template_of
from attnkit.text.prompt import PromptTemplate


class PromptedPredictor(Seq2SeqPredictor):
    """Texts in, texts out, as :class:`Seq2SeqPredictor`, on a decoder-only model."""

    MAX_ROWS = 32
    """Sequences (inputs x beams) decoded at once: each holds a KV cache over the whole prompt,
    so this bounds memory whatever ``batch_size`` asks (SmolLM2, 500 tokens: ~23 MB a row)."""

    @property
    def template(self) -> PromptTemplate:
        return template_of(self.lm.cfg.data)

    def prompt(self, source: str) -> list[int]:
        """The prompt ids the model reads for ``source`` (cut as in training)."""
        d = self.lm.cfg.data
        return self.template.encode(self.lm.tokenizer, source, d.max_src_len, d.source_keep)[0]

    def transduce(
        self, texts: Sequence[str], *, batch_size: int = 16, progress=None, first_line: int = 1, **decode: Any
    ) -> list[str]:
        """Each text's output (decode overrides as kwargs, e.g. ``beam_size=1``)."""
        cfg = dataclasses.replace(self.lm.cfg.decode, **decode)
        lm = self.lm
        beams = 1 if cfg.sample else cfg.beam_size
        batch_size = max(1, min(batch_size, self.MAX_ROWS // beams))
        return prompted_transduce(
            lm.model, lm.tokenizer, self.template, list(texts), cfg, lm.cfg.data,
            batch_size=batch_size, progress=progress, first_line=first_line,
        )  # fmt: skip

    translate = transduce
    summarize = transduce


class PromptedDialoguePredictor(PromptedPredictor, DialoguePredictor):
    """The next turn from the last ``data.context_turns`` turns, through the prompt template."""
