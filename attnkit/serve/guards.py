"""ASGI guards in front of every route: the Host header and the request body's size and pace.

They run before FastAPI reads anything, so an oversized or slow request costs at most one
body limit of memory and one read timeout of a connection slot:

- ``Host`` must name this server (a DNS-rebinding page on another origin sends its own name);
- a body declared larger than the route's limit is refused (413) without reading a byte; an
  undeclared (chunked) one is read up to the limit and refused as soon as it passes it;
- each chunk of a body must arrive within ``read_timeout`` seconds (408 otherwise).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str) -> None:
    """A complete ``{"error": message}`` response (the app's own error shape)."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_name(value: str) -> str:
    """``Host`` without its port, lowercased: ``[::1]:8000`` -> ``::1``, ``A.b:80`` -> ``a.b``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """Refuse (421) a request whose ``Host`` is not one of ``allowed`` (``*`` allows any)."""

    def __init__(self, app: App, allowed: Iterable[str]) -> None:
        self.app, self.allowed = app, {host_name(h) for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            if host_name(host) not in self.allowed:
                names = ", ".join(sorted(self.allowed))
                await send_error(send, 421, f"this server answers to {names}, not Host {host!r}; start "
                                            "it with --allow-host NAME to add a name")  # fmt: skip
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Read a request body within ``limit_for(path)`` bytes and ``read_timeout`` s per chunk,
    then hand the app the whole body; refuse with 413, 408 or 400 otherwise."""

    def __init__(self, app: App, limit_for: Callable[[str], int], read_timeout: float = 30.0) -> None:
        self.app, self.limit_for, self.read_timeout = app, limit_for, read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await send_error(send, 400, f"Content-Length {declared[:40]!r} is not a number of bytes")
            return
        if declared is not None and int(declared) > limit:
            await send_error(send, 413, f"request body is {int(declared):,} bytes; {scope['path']} "
                                        f"accepts at most {limit:,} bytes")  # fmt: skip
            return
        body = await self._read(receive, send, limit, scope["path"])
        if body is None:
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the client to go away
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, send: Send, limit: int, path: str) -> bytes | None:
        body, more = bytearray(), True
        while more:
            try:
                msg = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                await send_error(send, 408, f"the request body stalled for {self.read_timeout:g} s; "
                                            "send it in one go")  # fmt: skip
                return None
            if msg["type"] == "http.disconnect":
                return None
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > limit:
                too_big = f"request body is over the limit; {path} accepts at most {limit:,} bytes"
                await send_error(send, 413, too_big)
                return None
        return bytes(body)
