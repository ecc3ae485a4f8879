"""The web app under hostile input: every bad request is a 4xx ``{"error": …}`` that says what
was wrong, nothing is read or held beyond the limits, and the server keeps serving."""

from __future__ import annotations

import asyncio
import io
import struct
import wave

import pytest
from fastapi.testclient import TestClient

import attnkit
from attnkit.serve import ServeLimits, create_app
from attnkit.serve.guards import BodyLimit, host_name


@pytest.fixture(scope="module")
def models(tiny_checkpoints, speech_checkpoint):
    ms = {task: attnkit.load(tiny_checkpoints[task]) for task in ("lm", "translation")}
    return {**ms, "fsdd": attnkit.load(speech_checkpoint)}


@pytest.fixture(scope="module")
def client(models):
    app = create_app(models, ServeLimits(max_body_bytes=4096), allowed_hosts=["127.0.0.1", "localhost"])
    return TestClient(app, base_url="http://127.0.0.1:8000")


def _err(r, status: int, says: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"] and says in body["error"], body


def test_bodies_over_the_limit_are_refused_before_they_are_read(client):
    _err(client.post("/api/generate", content=b"{}", headers={"Content-Length": str(10**12)}), 413,
         "request body is 1,000,000,000,000 bytes; /api/generate accepts at most 4,096 bytes")  # fmt: skip
    chunks = (b"x" * 1024 for _ in range(10_000))  # 10 MB, no Content-Length: counted while read
    _err(client.post("/api/generate", content=chunks), 413, "accepts at most 4,096 bytes")
    _err(client.post("/api/generate", content=b"{}", headers={"Content-Length": "12abc"}), 400,
         "is not a number of bytes")  # fmt: skip
    big_invalid = b'{"text": "' + b"a" * 5_000_000 + b'", "max_new_tokens": "x"}'
    r = client.post("/api/generate", content=big_invalid, headers={"Content-Type": "application/json"})
    _err(r, 413, "accepts at most 4,096 bytes")
    assert len(r.content) < 200  # nothing echoed


def test_an_endless_body_is_read_only_up_to_the_limit():
    """ASGI level: a client streaming forever gets 413 after limit + one chunk was read."""
    read, sent = [0], []

    async def receive():
        read[0] += 1
        return {"type": "http.request", "body": b"y" * 1000, "more_body": True}

    async def send(msg):
        sent.append(msg)

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the app must not see an over-limit body")

    scope = {"type": "http", "method": "POST", "path": "/api/x", "headers": []}
    asyncio.run(BodyLimit(app, lambda path: 10_000)(scope, receive, send))
    assert read[0] == 11 and sent[0]["status"] == 413


def test_a_stalled_body_times_out():
    async def receive():
        await asyncio.sleep(10)

    sent = []

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "method": "POST", "path": "/api/x", "headers": []}
    asyncio.run(BodyLimit(None, lambda path: 100, read_timeout=0.05)(scope, receive, send))
    assert sent[0]["status"] == 408 and b"stalled for 0.05 s" in sent[1]["body"]


def test_validation_errors_name_the_field_and_never_echo(client):
    r = client.post("/api/generate", json={"text": "a" * 3000, "max_new_tokens": "lots"})
    _err(r, 422, "invalid request: max_new_tokens: Input should be a valid integer")
    assert "aaaa" not in r.text
    for body, says in [
        (b'{"text": "hi", "temperature": NaN}', "temperature: Input should be a finite number"),
        (b'{"text": "hi", "temperature": Infinity}', "temperature: Input should be a finite number"),
        (b'{"text": "hi", "seed": 1180591620717411303424}', "seed: Input should be less than or equal to"),
        (b'{"text": "hi", "seed": -1}', "seed: Input should be greater than or equal to 0"),
        (b'{"text": ', "invalid request: "),
    ]:
        _err(
            client.post("/api/generate", content=body, headers={"Content-Type": "application/json"}),
            422,
            says,
        )


def test_lone_surrogates_are_replaced_not_a_500(client):
    body = b'{"text": "RO\\ud800MEO", "max_new_tokens": 3, "attention": true}'
    r = client.post("/api/generate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/translate", content=b'{"text": "a \\udfff dog"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200 and isinstance(r.json()["output"], str)


def _wav(rate=8000, n=800) -> bytearray:
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(b"\x01\x00" * n)
    return bytearray(b.getvalue())


def test_malformed_wavs_and_wrong_content_types(client):
    zero_hz = _wav()
    struct.pack_into("<I", zero_hz, 24, 0)
    bad_chunk = _wav()
    struct.pack_into("<I", bad_chunk, 16, 0xFFFFFFF0)  # fmt chunk claims 4 GB
    _err(client.post("/api/transcribe", content=bytes(zero_hz)), 415, "the header says 0 Hz")
    _err(client.post("/api/transcribe", content=bytes(bad_chunk)), 415, "is not a readable WAV file")
    r = client.post("/api/transcribe", content=bytes(_wav()), headers={"Content-Type": "application/json"})
    _err(r, 415, "Content-Type 'application/json': send the WAV file's bytes as audio/wav")
    ok = client.post(
        "/api/transcribe?attention=false", content=bytes(_wav()), headers={"Content-Type": "audio/wav"}
    )
    assert ok.status_code == 200, ok.text


def test_foreign_host_names_are_refused(client, models):
    assert client.get("/api/health").status_code == 200
    assert TestClient(client.app, base_url="http://localhost:8000").get("/api/health").status_code == 200
    evil = TestClient(client.app, base_url="http://rebind.example:8000")
    _err(
        evil.get("/api/models"),
        421,
        "this server answers to 127.0.0.1, localhost, not Host 'rebind.example:8000'",
    )
    _err(evil.post("/api/generate", json={"text": "x"}), 421, "--allow-host NAME")
    anyone = TestClient(create_app(models, allowed_hosts=["*"]), base_url="http://rebind.example")
    assert anyone.get("/api/health").status_code == 200
    assert [host_name(h) for h in ("[::1]:8000", "A.Example:80", "::1", "localhost")] == [
        "::1",
        "a.example",
        "::1",
        "localhost",
    ]


def test_serve_accepts_the_bound_and_loopback_names_by_default():
    import socket

    from attnkit.cli.serve import allowed_hosts

    assert allowed_hosts("127.0.0.1", []) == ["127.0.0.1", "::1", "localhost"]
    assert allowed_hosts("192.168.1.5", ["lab.local"]) == [
        "127.0.0.1",
        "192.168.1.5",
        "::1",
        "lab.local",
        "localhost",
    ]
    assert socket.gethostname() in allowed_hosts("0.0.0.0", [])
