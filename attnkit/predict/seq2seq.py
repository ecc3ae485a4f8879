"""Encoder-decoder text models: translate, summarize, and reply in a dialogue."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from attnkit.decode.seq2seq import transduce
from attnkit.predict.base import Predictor


class Seq2SeqPredictor(Predictor):
    """Texts in, texts out (translation, summarization), with beam search or sampling."""

    def transduce(
        self, texts: Sequence[str], *, batch_size: int = 64, progress=None, first_line: int = 1, **decode: Any
    ) -> list[str]:
        """Translate or summarize each text (decode overrides as kwargs, e.g. ``beam_size=1``);
        ``first_line`` numbers ``texts[0]`` in warnings (a file read in chunks)."""
        cfg = dataclasses.replace(self.lm.cfg.decode, **decode)
        lm = self.lm
        return transduce(lm.model, lm.tokenizer, list(texts), cfg, lm.cfg.data, batch_size=batch_size,
                         progress=progress, first_line=first_line)  # fmt: skip

    translate = transduce
    summarize = transduce

    def decoded_scores(self, split: str, limit: int | None, **decode: Any) -> dict:
        """The decoded split (first ``limit`` examples) with its BLEU/chrF, ROUGE or dialogue
        scores; the outputs are under ``"hypotheses"``."""
        task = self.lm.task
        hyps = self.transduce(task.sources(split)[:limit], **decode)
        return {**task.score(hyps, split), "hypotheses": hyps, "examples": len(hyps)}


class DialoguePredictor(Seq2SeqPredictor):
    """A dialogue model: the next turn from the last ``data.context_turns`` turns."""

    def respond(self, history: Sequence[str], **decode: Any) -> str:
        """The next turn after ``history`` (oldest first; the first turn is speaker A), its context
        built as in training: the last ``data.context_turns`` turns with speaker markers."""
        if not history:
            raise ValueError("respond() needs the dialogue so far: at least one turn")
        return self.transduce([self.context(history)], **decode)[0]

    def context(self, history: Sequence[str]) -> str:
        """The source text the model reads for ``history``."""
        from attnkit.data.pair_datasets import dialogue_context

        return dialogue_context(list(history), self.lm.cfg.data.context_turns)

    def chat_decode(self, *, max_new_tokens: int, beam: int | None) -> dict[str, Any]:
        """Decode options for one chat request: the beam width, if given."""
        return {"beam_size": beam} if beam else {}
