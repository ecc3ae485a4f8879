"""Chat prompt formats of instruction-tuned models, written out rather than run as templates.

ChatML (SmolLM2, Qwen, …)::

    <|im_start|>system
    You are …<|im_end|>
    <|im_start|>user
    Hi<|im_end|>
    <|im_start|>assistant

A reply ends with ``<|im_end|>``, which is the tokenizer's eos role, so generation stops there.
"""

from __future__ import annotations

from collections.abc import Sequence

FORMATS = ("chatml",)


def chat_messages(history: Sequence[str], system: str | None = None) -> list[dict[str, str]]:
    """Alternating user/assistant turns (the user speaks first), after an optional system turn."""
    msgs = [{"role": "system", "content": system}] if system else []
    roles = ("user", "assistant")
    return msgs + [{"role": roles[i % 2], "content": t} for i, t in enumerate(history)]


def chatml(messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
    """ChatML text for ``messages`` (``{"role", "content"}`` dicts)."""
    for m in messages:
        if m.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"chat role must be system, user or assistant, got {m.get('role')!r}")
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def format_chat(fmt: str, history: Sequence[str], system: str | None) -> str:
    """The prompt for the next assistant turn after ``history`` in chat format ``fmt``."""
    if fmt != "chatml":
        raise ValueError(f"unknown chat format {fmt!r}; known: {FORMATS}")
    return chatml(chat_messages(history, system))
