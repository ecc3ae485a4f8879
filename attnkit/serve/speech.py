"""``POST /api/transcribe``: a WAV upload in, its transcript and letters-by-time attention out.

The upload is the request body (``audio/wav``), so no multipart parser is needed. Limits are
checked before any model code runs: the app's ``BodyLimit`` guard refuses (413) a body over
``max_audio_bytes`` before or while reading it; the WAV header gives the duration (413
beyond ``max_audio_seconds``); a body that is not a WAV file is a 415; a WAV the model cannot
read (8-bit, empty) a 422.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import Request

from attnkit.api import LoadedModel
from attnkit.audio import wav_info
from attnkit.serve.limits import ApiError
from attnkit.serve.routes import call
from attnkit.viz.payload import view_payload
from attnkit.viz.streams import has_attention

_WAV_BODY = {
    "required": True,
    "description": "the WAV file's bytes (16-bit PCM; any rate, mixed to mono and resampled)",
    "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
}


WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "application/octet-stream")
"""Content types a WAV upload may declare (or none)."""


async def read_upload(request: Request) -> bytes:
    """The WAV body. Its size was already held to ``max_audio_bytes`` by the app's ``BodyLimit``
    guard (before and while it was read), so only an empty body is left to refuse here."""
    body = await request.body()
    if not body:
        raise ApiError(422, "no audio: send the WAV file as the request body")
    return body


async def transcribe(
    request: Request,
    model: str | None = None,
    attention: bool = True,
    beam: int | None = None,
    split_on_silence: bool = False,
) -> dict[str, Any]:
    """Transcribe an uploaded WAV (speech models): POST the file's bytes as the body, with
    ``?model=&attention=&beam=&split_on_silence=`` in the query. With attention, ``figure`` is
    a PNG data URL of the spectrogram with the letters-by-time cross-attention under it. With
    ``split_on_silence``, the recording is cut at its pauses and each piece transcribed on its
    own (a one-word model reading a string of words); ``pieces`` gives their start and end in
    seconds, and there is no figure (no one attention map spans the pieces)."""
    limits = request.app.state.limits
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in WAV_TYPES:
        raise ApiError(415, f"Content-Type {kind!r}: send the WAV file's bytes as {WAV_TYPES[0]}")
    data = await read_upload(request)
    try:
        channels, _, rate, n = wav_info(data)
    except ValueError as e:
        raise ApiError(415, str(e)) from None
    if n / max(rate, 1) > limits.max_audio_seconds:
        raise ApiError(413, f"recording is {n / rate:.1f} s; this server accepts at most "
                            f"{limits.max_audio_seconds:g} s")  # fmt: skip
    if beam is not None and not 1 <= beam <= 16:
        raise ApiError(422, f"beam must be in 1..16, got {beam}")
    dec = {"beam_size": beam} if beam else {}

    def run(lm: LoadedModel) -> dict[str, Any]:
        if split_on_silence:
            (pieces,) = lm.transcribe_pieces([data], **dec)
            return {"output": " ".join(t for _, _, t in pieces), "attention": None, "figure": None,
                    "pieces": [[round(a, 3), round(b, 3)] for a, b, _ in pieces]}  # fmt: skip
        if not (attention and has_attention(lm.model)):
            return {"output": lm.transcribe([data], **dec)[0], "attention": None, "figure": None}
        from attnkit.viz.png import figure_png
        from attnkit.viz.speech import inspect_speech, spectrogram_alignment_figure

        view = inspect_speech(lm, data, name="uploaded audio", **dec)
        fig = base64.b64encode(figure_png(spectrogram_alignment_figure(view))).decode()
        return {"output": view.output, "attention": view_payload(view),
                "figure": "data:image/png;base64," + fig}  # fmt: skip

    result = await call(request, "transcribe", model, run)
    return {**result, "audio": {"seconds": round(n / rate, 3), "sample_rate": rate, "channels": channels}}


TRANSCRIBE_OPENAPI = {"requestBody": _WAV_BODY}
