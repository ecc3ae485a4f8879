"""Prompt templates for decoder-only models trained on (source, target) pairs.

A decoder-only model reads one sequence, so a pair becomes ``prompt + target + <eos>``, where the
prompt wraps the source in a fixed text. Two formats:

``chatml`` (instruction-tuned models such as SmolLM2-Instruct)::

    <|im_start|>system
    {system}<|im_end|>
    <|im_start|>user
    {instruction}

    {source}<|im_end|>
    <|im_start|>assistant
    {target}<|im_end|>

``plain`` (base models and attnkit's own decoders)::

    <bos>{instruction}

    {source}
    {answer}
    {target}<eos>

The prompt is tokenized in three pieces (``head``, source, ``tail``) and concatenated, so a long
source can be cut at a token boundary without touching the template; training and inference call
the same :meth:`PromptTemplate.encode`, so the model sees at inference exactly the ids it was
trained on. The resolved template (format, system, instruction, answer) is saved in the run's
``config.yaml`` under ``data.*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from attnkit.text.base import Tokenizer

FORMATS = ("chatml", "plain")


@dataclass(frozen=True)
class PromptTemplate:
    format: Literal["chatml", "plain"]
    instruction: str
    """What the model is asked to do, before the source ("Summarize this dialogue.")."""
    system: str = ""
    """ChatML only: the system turn ("" = none)."""
    answer: str = ""
    """Plain only: the line between the source and the target ("Summary:")."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"prompt format must be one of {FORMATS}, got {self.format!r}")

    @property
    def head(self) -> str:
        """The text before the source."""
        lead = f"{self.instruction}\n\n" if self.instruction else ""
        if self.format == "plain":
            return lead
        system = f"<|im_start|>system\n{self.system}<|im_end|>\n" if self.system else ""
        return f"{system}<|im_start|>user\n{lead}"

    @property
    def tail(self) -> str:
        """The text between the source and the target."""
        if self.format == "plain":
            return f"\n{self.answer}\n" if self.answer else "\n"
        return "<|im_end|>\n<|im_start|>assistant\n"

    def render(self, source: str) -> str:
        """The prompt as text (without the plain format's ``<bos>`` id)."""
        return self.head + source + self.tail

    def check(self, tok: Tokenizer) -> None:
        """A ValueError unless head and tail survive ``encode`` then ``decode`` unchanged (a
        template the tokenizer cannot spell would train on something other than what it says)."""
        for name, text in (("head", self.head), ("tail", self.tail)):
            back = tok.decode(tok.encode(text), skip_special=False)
            if back != text:
                raise ValueError(
                    f"the {self.format} prompt template's {name} {text!r} does not round-trip through "
                    f"the tokenizer (it reads back as {back!r}); use data.prompt_format=plain with a "
                    "BPE tokenizer, or an instruction made of characters the tokenizer knows"
                )

    def overhead(self, tok: Tokenizer) -> int:
        """Prompt tokens that are not the source."""
        return len(self._head_ids(tok)) + len(tok.encode(self.tail))

    def _head_ids(self, tok: Tokenizer) -> list[int]:
        bos = [tok.bos_id] if self.format == "plain" else []
        return bos + tok.encode(self.head)

    def encode(
        self, tok: Tokenizer, source: str | Sequence[int], max_source: int, keep: str = "start"
    ) -> tuple[list[int], bool]:
        """The prompt ids for ``source`` (text or ids) with at most ``max_source`` of its tokens:
        its first ones (``keep="start"``) or its last (``"end"``: a dialogue's latest turns);
        returns ``(ids, truncated)``."""
        ids = tok.encode(source) if isinstance(source, str) else list(source)
        cut = len(ids) > max_source
        if cut:
            ids = ids[:max_source] if keep == "start" else ids[len(ids) - max_source :]
        return self._head_ids(tok) + ids + tok.encode(self.tail), cut

    def to_fields(self) -> dict[str, str]:
        """What ``DataConfig`` stores: ``prompt_format``, ``instruction``, ``system``, ``answer``."""
        return {"prompt_format": self.format, "instruction": self.instruction, "system": self.system,
                "answer": self.answer}  # fmt: skip
