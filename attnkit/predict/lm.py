"""Decoder-only language models: generate, stream, and for instruction-tuned ones chat."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from attnkit.decode.generate import generate_text
from attnkit.predict.base import Predictor


class LMPredictor(Predictor):
    """``generate``/``stream`` for every LM; ``chat`` when the checkpoint carries a chat format
    (instruction-tuned, e.g. SmolLM2); ``zero-shot`` for pretrained ones."""

    def verbs(self) -> tuple[str, ...]:
        has = {
            "generate": True,
            "chat": bool(self.chat_format),
            "zero-shot": bool(self.lm.manifest.get("pretrained")),
        }
        return tuple(v for v in self.lm.kind.verbs if has.get(v, True))

    @property
    def chat_format(self) -> dict[str, str] | None:
        return self.lm.manifest.get("chat") or None

    def stream(self, prompt: str, **decode: Any) -> Iterator[str]:
        """Yield the continuation of ``prompt`` chunk by chunk (decode overrides as kwargs)."""
        cfg = dataclasses.replace(self.lm.cfg.decode, **decode)
        return generate_text(self.lm.model, self.lm.tokenizer, prompt, cfg)

    def generate(self, prompt: str, **decode: Any) -> str:
        return "".join(self.stream(prompt, **decode))

    def chat_prompt(self, history: Sequence[str]) -> str:
        """The prompt for the next assistant turn after ``history`` in the model's chat format."""
        from attnkit.text.chat import format_chat

        fmt = self._chat_format("chat_prompt()")
        return format_chat(fmt["format"], list(history), fmt.get("system"))

    def respond_stream(self, history: Sequence[str], **decode: Any) -> Iterator[str]:
        """The next turn after ``history`` (user first), chunk by chunk."""
        self._chat_format("respond_stream()")
        if not history:
            raise ValueError("respond_stream() needs the conversation so far: at least one turn")
        return self.stream(self.chat_prompt(history), **decode)

    def respond(self, history: Sequence[str], **decode: Any) -> str:
        if not history:
            raise ValueError("respond() needs the dialogue so far: at least one turn")
        return "".join(self.respond_stream(history, **decode)).strip()

    def chat_decode(self, *, max_new_tokens: int, beam: int | None) -> dict[str, Any]:
        """Decode options for one chat request: an LM's reply length is capped; beams do not apply."""
        return {"max_new_tokens": max_new_tokens}

    def zero_shot_classifier(self, labels: Any) -> Any:
        from attnkit.fewshot import LMClassifier

        return LMClassifier(self.lm, labels)

    def _chat_format(self, what: str) -> dict[str, str]:
        if not self.chat_format:
            raise self.refuse("chat", f": {what} needs an instruction-tuned LM with a chat format (smollm2)")
        return self.chat_format
