"""The web app's JSON API: every task verb, the limits, the error contract, and what it refuses."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient

import attnkit
from attnkit.serve import ServeLimits, create_app, model_name
from attnkit.serve.app import ApiError, Gate
from attnkit.viz.payload import decode_weights


@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return {task: attnkit.load(path) for task, path in tiny_checkpoints.items()}


@pytest.fixture
def client(models):
    return TestClient(create_app(models, ServeLimits(max_input_chars=200, max_new_tokens=20)))


def _check_payload(att: dict, streams: set[str]) -> None:
    names = {s["name"] for s in att["streams"]}
    assert names >= streams and names <= streams | {"rollout"}
    for s in att["streams"]:
        n_l, n_h, t, k = s["shape"]
        assert (len(s["queries"]), len(s["keys"]), len(s["layers"]), len(s["heads"])) == (t, k, n_l, n_h)
        w = decode_weights(s["data"], (n_l, n_h, t, k))
        assert abs(float(w.sum(-1).mean()) - 1.0) < 0.02  # rows are distributions, quantised


def test_models_and_limits_are_listed(client):
    r = client.get("/api/models")
    assert r.status_code == 200
    body = r.json()
    assert {m["name"]: m["verb"] for m in body["models"]} == {
        "lm": "generate", "translation": "translate", "dialogue": "chat", "classification": "classify",
    }  # fmt: skip
    assert body["limits"]["max_input_chars"] == 200 and all(m["attention"] for m in body["models"])
    assert client.get("/api/health").json()["status"] == "ok"


def test_every_verb_returns_output_and_attention(client, models):
    r = client.post("/api/translate", json={"text": "alpha beta gamma"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"] == models["translation"].translate(["alpha beta gamma"])[0]
    _check_payload(body["attention"], {"encoder", "decoder", "cross"})

    r = client.post("/api/generate", json={"text": "To be", "max_new_tokens": 500, "seed": 1})
    assert r.status_code == 200, r.text
    # a character model: one token per character (<unk> prints as 5); capped by max_new_tokens=20
    assert len(r.json()["output"].replace("<unk>", "?")) <= 20
    _check_payload(r.json()["attention"], {"decoder"})

    r = client.post("/api/classify", json={"text": "Who wrote Hamlet ?"})
    out = r.json()["output"]
    assert out == models["classification"].classify(["Who wrote Hamlet ?"])[0]
    assert abs(sum(out["probs"].values()) - 1) < 1e-4
    _check_payload(r.json()["attention"], {"encoder"})

    r = client.post("/api/chat", json={"history": ["beta gamma", "gamma beta", "eta"]})
    assert r.json()["output"] == models["dialogue"].respond(["beta gamma", "gamma beta", "eta"])
    _check_payload(r.json()["attention"], {"encoder", "decoder", "cross"})

    r = client.post("/api/translate", json={"text": "alpha", "attention": False})
    assert r.status_code == 200 and r.json()["attention"] is None


def test_errors_are_json_with_the_right_status(client):
    cases = [
        ("/api/translate", {"text": "x" * 201}, 413, "at most 200"),
        ("/api/chat", {"history": ["a" * 150, "b" * 60]}, 413, "210 characters"),
        ("/api/translate", {"text": "   "}, 422, "empty"),
        ("/api/chat", {"history": []}, 422, "at least one turn"),
        ("/api/translate", {"text": "a", "model": "nope"}, 404, "unknown model 'nope'"),
        ("/api/translate", {"text": "a", "model": "lm"}, 400, "use POST /api/generate"),
        ("/api/summarize", {"text": "a"}, 404, "no loaded model does"),
        ("/api/translate", {"text": "a", "heads": [9]}, 422, "out of range"),
    ]
    for path, body, status, message in cases:
        r = client.post(path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert message in r.json()["error"]
    r = client.post("/api/generate", json={"text": "a", "max_new_tokens": 0})
    assert r.status_code == 422 and r.json() == {
        "error": "invalid request: max_new_tokens: Input should be greater than or equal to 1"
    }


def test_ambiguous_model_must_be_named(models):
    c = TestClient(create_app({"a": models["translation"], "b": models["translation"]}))
    r = c.post("/api/translate", json={"text": "alpha"})
    assert r.status_code == 400 and "name one in 'model'" in r.json()["error"]
    assert c.post("/api/translate", json={"text": "alpha", "model": "b"}).status_code == 200


def test_model_failures_become_json_and_the_server_lives_on(client, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr("attnkit.serve.routes.inspect_attention", boom)
    r = client.post("/api/translate", json={"text": "alpha"})
    assert r.status_code == 500 and r.json() == {"error": "model error: RuntimeError: kernel exploded"}
    monkeypatch.undo()
    assert client.post("/api/translate", json={"text": "alpha"}).status_code == 200


def test_over_concurrency_gets_429_and_nothing_reaches_the_model(models, monkeypatch):
    import attnkit.serve.routes as app_mod

    entered, release, calls = threading.Event(), threading.Event(), []
    real = app_mod.inspect_attention

    def slow(*a, **k):
        calls.append(1)
        entered.set()
        release.wait(10)
        return real(*a, **k)

    monkeypatch.setattr(app_mod, "inspect_attention", slow)
    c = TestClient(create_app(models, ServeLimits(max_concurrency=1, max_queue=0)))
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(r=c.post("/api/translate", json={"text": "alpha"})))
    t.start()
    assert entered.wait(10)
    r = c.post("/api/translate", json={"text": "beta"})
    assert r.status_code == 429 and "server busy" in r.json()["error"] and r.headers["retry-after"] == "1"
    release.set()
    t.join(10)
    assert first["r"].status_code == 200 and len(calls) == 1


def test_gate_queues_up_to_its_limit():
    release = threading.Event()

    async def scenario():
        gate = Gate(running=1, waiting=1)
        first = asyncio.create_task(gate.run(lambda: release.wait(10)))
        second = asyncio.create_task(gate.run(lambda: release.wait(10)))  # queued, not refused
        while gate.inside < 2:
            await asyncio.sleep(0.01)
        with pytest.raises(ApiError) as e:
            await gate.run(lambda: None)
        assert e.value.status == 429 and gate.inside == 2
        release.set()
        assert await asyncio.gather(first, second) == [True, True]
        assert gate.inside == 0

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="max_concurrency"):
        Gate(0, 1)


def test_no_endpoint_reads_client_named_files(client):
    assert client.get("/static/attnview.js").status_code == 200
    for path in ("/static/../app.py", "/static/..%2Fapp.py", "/static/index.html", "/static/%2Fetc%2Fpasswd"):
        assert client.get(path).status_code == 404, path
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/health", "/api/models", "/api/generate", "/api/translate", "/api/summarize", "/api/chat",
        "/api/classify", "/api/embed", "/api/zero-shot", "/api/transcribe",
    }  # fmt: skip
    fields = {f for s in spec["components"]["schemas"].values() for f in s.get("properties", {})}
    assert not fields & {"path", "file", "ckpt", "checkpoint", "dir", "url"}


def test_pages_load_only_bundled_assets(client):
    import re

    for page in ("/", "/docs"):
        html = client.get(page).text
        refs = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
        assert refs and all(ref.startswith("/") for ref in refs), refs
        for ref in refs:
            assert client.get(ref).status_code == 200, ref


def test_cli_binds_loopback_by_default_and_names_models(tiny_checkpoints):
    from attnkit.cli.main import build_parser
    from attnkit.cli.serve import load_models

    args = build_parser().parse_args(["serve", "--ckpt", "x"])
    assert (args.host, args.max_concurrency, args.max_input_chars) == ("127.0.0.1", 2, 2000)
    assert model_name(tiny_checkpoints["lm"]) == "lm"
    names = list(load_models([str(tiny_checkpoints["lm"])] * 2))
    assert names == ["lm", "lm-2"]
    with pytest.raises(ValueError, match="at least one checkpoint"):
        create_app({})
