"""A text longer than an encoder reads is cut the same way for classifiers and embedding models,
and the view says so with the numbers (CLI warning, view meta, web response)."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

import attnkit
from attnkit.serve import create_app
from attnkit.viz import inspect_attention


def test_a_long_text_is_cut_and_the_view_says_how_much(tiny_checkpoints, caplog):
    lm = attnkit.load(tiny_checkpoints["classification"])
    limit = lm.predictor.max_tokens
    text = "what is the capital of france " * 60
    full = len(lm.predictor.encode(text, limit=False))
    assert full > limit
    with caplog.at_level(logging.WARNING, logger="attnkit"):
        view = inspect_attention(lm, text)
    note = f"the text is {full} tokens; the model reads (the view too) the first {limit}"
    assert view.meta["notes"] == [note] and note in caplog.text
    assert len(view.streams["encoder"].queries) == limit
    assert view.output == lm.classify([text])[0]  # the label comes from the same first tokens
    r = TestClient(create_app({"trec": lm})).post("/api/classify", json={"text": text}).json()
    assert r["notes"] == [note]
    short = TestClient(create_app({"trec": lm})).post("/api/classify", json={"text": "who"}).json()
    assert short["notes"] == []


def test_png_tick_labels_stay_readable_on_long_axes():
    from attnkit.viz.png import MAX_TICKS, _label_size, _tick_step

    for n in (10, 60, 61, 500, 5000):
        shown = -(-n // _tick_step(n))
        assert shown <= MAX_TICKS == 60 and 7.0 <= _label_size(n) <= 10.0, n
