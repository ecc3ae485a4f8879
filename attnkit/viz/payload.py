"""Attention streams as a compact JSON payload, for the HTML viewer and the web app.

Weights are quantised to one byte (``round(w * 255)``), gzip-compressed and base64-encoded:
at 1,000 tokens one head is a million weights, and as JSON floats a 4-layer, 4-head model would
be over 100 MB. A byte is below what a colour scale can show; the exact float weights stay
available from the Python API and in ``attention.safetensors``. The browser inflates the data
with ``DecompressionStream``, which every current browser has.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
from typing import Any

import torch

from attnkit.viz.streams import AttentionStream

SCALE = 255


def encode_weights(w: torch.Tensor) -> str:
    """``(L, H, T, S)`` weights in [0, 1] -> base64 of gzip of uint8, row-major."""
    q = (w.detach().float().cpu().clamp(0.0, 1.0) * SCALE).round().to(torch.uint8).contiguous()
    return base64.b64encode(gzip.compress(q.numpy().tobytes(), compresslevel=6, mtime=0)).decode("ascii")


def decode_weights(data: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`encode_weights` (for tests): float weights, quantised."""
    raw = gzip.decompress(base64.b64decode(data))
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(shape).float() / SCALE


def stream_payload(s: AttentionStream, row: int = 0) -> dict[str, Any]:
    w = s.weights[:, row]  # (L, B, H, T, S) -> (L, H, T, S)
    n_l, n_h, t, k = w.shape
    if (len(s.queries), len(s.keys)) != (t, k):
        raise ValueError(f"stream {s.name!r}: {len(s.queries)}x{len(s.keys)} labels for maps of {t}x{k}")
    return {
        "name": s.name,
        "method": s.method,
        "title": s.title,
        "layers": s.layers,
        "heads": s.heads,
        "queries": s.queries,
        "keys": s.keys,
        "shape": [n_l, n_h, t, k],
        "data": encode_weights(w),
    }


def output_text(out: Any) -> str:
    """A task output as one line: text as is, an embedding by its size and first values."""
    if isinstance(out, dict) and "embedding" in out:  # hundreds of numbers: show their shape
        head = ", ".join(f"{x:.3f}" for x in out["embedding"][:8])
        return f"{out['dim']}-d embedding [{head}, …]"
    return out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)


def view_payload(view, *, rollout: bool = True) -> dict[str, Any]:
    """The JSON the viewer draws: task, input, output and every stream (plus rollout)."""
    streams = [stream_payload(s) for s in view.streams.values()]
    if rollout and any(n in view.streams for n in ("encoder", "decoder")):
        # A layer subset has no rollout; the streams themselves are still shown.
        with contextlib.suppress(ValueError):
            streams.append(stream_payload(view.rollout()))
    return {"task": view.task, "input": view.input, "output": view.output, "streams": streams}
