"""What the web app enforces before any model code runs: limits, the concurrency gate, errors.

``ServeLimits`` holds every limit and its default, once: ``attnkit serve`` builds its options
from these fields, and the app reads them from ``app.state.limits``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _limit(default: Any, help: str, **rule: Any) -> Any:
    """A limit's default and help (``attnkit serve`` makes its options from these), and ``min``
    when the smallest allowed value is not "anything above 0"."""
    return field(default=default, metadata={"help": help, **rule})


@dataclass
class ServeLimits:
    max_input_chars: int = _limit(
        2000, "longest accepted text (or whole chat history), in characters; more gets 413"
    )
    max_concurrency: int = _limit(2, "model calls running at once (the rest wait in the queue)")
    max_queue: int = _limit(16, "requests allowed to wait for a slot; one more gets 429", min=0)
    max_new_tokens: int = _limit(256, "cap on max_new_tokens for generation")
    max_body_bytes: int = _limit(65_536, "largest accepted JSON request body, in bytes (413 beyond)")
    max_audio_bytes: int = _limit(1_000_000, "largest accepted WAV upload, in bytes (413 beyond)")
    max_audio_seconds: float = _limit(
        10.0, "longest accepted recording, in seconds (413 beyond; read from the WAV header)"
    )

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.max_queue < 0:
            got = f"{self.max_concurrency}, {self.max_queue}"
            raise ValueError(f"max_concurrency must be >= 1 and max_queue >= 0, got {got}")
        small = [k for k in ("max_input_chars", "max_new_tokens", "max_body_bytes", "max_audio_bytes",
                             "max_audio_seconds")
                 if not getattr(self, k) > 0]  # fmt: skip
        if small:
            raise ValueError(f"{', '.join(small)} must be > 0")


class ApiError(Exception):
    """An error the app answers as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class Gate:
    """At most ``running`` calls at once and ``waiting`` more queued; beyond that, refuse."""

    def __init__(self, running: int, waiting: int) -> None:
        if running < 1 or waiting < 0:
            raise ValueError(f"max_concurrency must be >= 1 and max_queue >= 0, got {running}, {waiting}")
        self.sem = asyncio.Semaphore(running)
        self.limit = running + waiting
        self.inside = 0

    async def run(self, fn: Callable[[], Any]) -> Any:
        if self.inside >= self.limit:
            raise ApiError(
                429,
                f"server busy: {self.inside} requests in progress or queued (limit {self.limit}); "
                "retry shortly",
                {"Retry-After": "1"},
            )  # fmt: skip
        from fastapi.concurrency import run_in_threadpool

        self.inside += 1
        try:
            async with self.sem:
                return await run_in_threadpool(fn)
        finally:
            self.inside -= 1
