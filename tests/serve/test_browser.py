"""The web app and the offline HTML viewer, driven in the system Chromium."""

from __future__ import annotations

import struct

import torch

import attnkit
from attnkit.models import Encoder, model_config
from attnkit.serve import create_app
from attnkit.viz import capture_streams
from attnkit.viz.html import write_html
from attnkit.viz.payload import view_payload
from tests.serve.browser import browser_page, live_server


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def _submit(page, verb: str, text: str) -> None:
    page.click(f"#tabs button[data-verb={verb}]")
    page.fill("textarea", text)
    page.click("button.go")
    page.wait_for_selector("#ak-view[data-ready='1']", timeout=30_000)


def test_app_translates_and_draws_the_attention(tiny_checkpoints, tmp_path):
    models = {task: attnkit.load(path) for task, path in tiny_checkpoints.items()}
    expected = models["translation"].translate(["alpha beta gamma"])[0]
    with live_server(create_app(models)) as url, browser_page() as (page, seen):
        page.goto(url + "/")
        page.wait_for_selector("#tabs button[data-verb=translate]")
        tabs = page.locator("#tabs button").all_text_contents()
        assert tabs == ["Generate", "Translate", "Chat", "Classify"]
        _submit(page, "translate", "alpha beta gamma")
        assert page.text_content("#output") == expected
        # The view opens on cross-attention: rows are output tokens, columns the source.
        assert page.input_value("#ak-view select") == "2" and "cross-attention" in page.text_content(
            "#ak-view"
        )
        heat = page.locator("canvas.ak-heatmap")
        rows = page.locator("#ak-view .ak-row").all_text_contents()
        cols = page.locator("#ak-view .ak-col").all_text_contents()
        assert cols == ["alpha", "beta", "gamma", "<eos>"]
        assert rows == [*expected.split(), "<eos>"]
        assert heat.get_attribute("data-cells") == str(len(rows) * len(cols))
        # the canvas really has pixels: not all one colour
        colours = page.evaluate(
            "() => { const c = document.querySelector('canvas.ak-heatmap');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " const s = new Set();"
            " for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);"
            " return s.size; }"
        )
        assert colours > 1
        page.select_option("#ak-view label:has-text('view') select", "head")
        assert int(page.get_attribute("canvas.ak-links", "data-lines")) > 0
        shot = tmp_path / "translate.png"
        page.screenshot(path=str(shot), full_page=True)
        assert _png_size(shot)[0] >= 1280

        _submit(page, "classify", "Who wrote Hamlet ?")
        label = models["classification"].classify(["Who wrote Hamlet ?"])[0]["label"]
        assert page.text_content("#output .label") == f"label: {label}"
        assert page.locator("#ak-view .ak-row").all_text_contents()[:2] == ["<bos>", "Who"]
        page.screenshot(path=str(tmp_path / "classify.png"), full_page=True)
        assert page.errors == []
    assert all(u.startswith(url) for u in seen), [u for u in seen if not u.startswith(url)]


def test_app_shows_model_errors(tiny_checkpoints):
    models = {"translation": attnkit.load(tiny_checkpoints["translation"])}
    with live_server(create_app(models)) as url, browser_page() as (page, _):
        page.goto(url + "/")
        page.wait_for_selector("#tabs button[data-verb=translate]")
        # the page caps typing at the limit; a client that ignores it still gets a clear 413
        page.evaluate("() => document.querySelector('textarea').removeAttribute('maxlength')")
        page.fill("textarea", "x" * 2001)
        page.click("button.go")
        page.wait_for_selector("#error:not([hidden])")
        assert "413" in page.text_content("#error") and "at most 2000" in page.text_content("#error")


def test_offline_viewer_stays_windowed_at_1000_tokens(tmp_path):
    t = 1000
    model = Encoder(model_config("tiny", vocab_size=50, max_seq_len=1024)).eval()
    stream = capture_streams(model, torch.randint(0, 50, (1, t)))["encoder"]
    stream.queries = stream.keys = [f"t{i}" for i in range(t)]

    class View:  # the fields view_payload reads
        task, input, output, streams = "demo", "random ids", "", {"encoder": stream}

        def rollout(self):
            raise ValueError("not needed here")

    path = write_html(view_payload(View(), rollout=False), tmp_path / "long.html")
    assert path.stat().st_size < 30e6
    with browser_page() as (page, seen):
        page.goto(path.as_uri())
        page.wait_for_selector("#ak-view[data-ready='1']", timeout=60_000)
        # Only the window is in the DOM and on the canvas, not 1000 x 1000.
        assert page.get_attribute("canvas.ak-heatmap", "data-cells") == str(48 * 48)
        assert page.locator("#ak-view .ak-row").count() == 48
        page.fill("input.ak-qFrom", "900")  # a range input: fill sets its value and fires input
        page.wait_for_function("() => document.querySelector('#ak-view .ak-row').textContent === 't900'")
        assert page.locator("#ak-view .ak-row").all_text_contents()[-1] == "t947"
        page.select_option("#ak-view label:has-text('view') select", "model")
        assert page.locator("canvas.ak-thumb").count() == len(stream.layers) * len(stream.heads)
        page.select_option("#ak-view label:has-text('view') select", "head")
        assert page.locator("#ak-view .ak-side .ak-tok").count() == 2 * 48
        assert page.errors == []
    assert all(u.startswith("file://") for u in seen), seen  # nothing fetched from a network


def test_docs_page_draws_every_endpoint_and_the_schema_is_valid_openapi(tiny_checkpoints, speech_checkpoint):
    from fastapi.testclient import TestClient

    models = {"lm": attnkit.load(tiny_checkpoints["lm"]), "fsdd": attnkit.load(speech_checkpoint)}
    app = create_app(models)
    spec = TestClient(app).get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "attnkit"
    for ops in spec["paths"].values():  # the parts a renderer relies on are all there
        for op in ops.values():
            assert op["responses"] and all(set(r) >= {"description"} for r in op["responses"].values())
            body = op.get("requestBody")
            assert body is None or (body["content"] and all("schema" in c for c in body["content"].values()))
            assert all({"name", "in", "schema"} <= set(q) for q in op.get("parameters", []))
    audio = spec["paths"]["/api/transcribe"]["post"]["requestBody"]["content"]
    assert list(audio) == ["audio/wav"]
    with live_server(app) as url, browser_page() as (page, seen):
        page.goto(url + "/docs")
        page.wait_for_selector("section.op[data-path='/api/classify']")
        drawn = page.evaluate("() => [...document.querySelectorAll('section.op')].map((s) => s.dataset.path)")
        assert drawn == list(spec["paths"])  # every endpoint, transcribe and those after it
        text = page.text_content("#api")
        assert "``" not in text and "body: audio/wav" in text and "split_on_silence (query)" in text
        assert not [e for e in seen if "error" in e.lower()], seen


def test_per_row_and_log_colour_scales_show_a_near_uniform_map(tmp_path):
    """A map of rows that are nearly uniform, each at its own level, is close to one colour on
    the 0..max scale; per-row and log scales spread it over many."""
    from attnkit.viz.streams import AttentionStream

    t = 24
    rows = torch.softmax(0.05 * torch.randn(t, t), -1) * torch.linspace(0.2, 1.0, t)[:, None]
    stream = AttentionStream("encoder", rows[None, None, None], [0], [0], [f"q{i}" for i in range(t)],
                             [f"k{i}" for i in range(t)])  # fmt: skip

    class View:
        task, input, output, streams = "demo", "", "", {"encoder": stream}

    path = write_html(view_payload(View(), rollout=False), tmp_path / "flat.html")
    count = (
        "() => { const c = document.querySelector('canvas.ak-heatmap');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const s = new Set();"
        " for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]); return s.size; }"
    )
    with browser_page() as (page, _seen):
        page.goto(path.as_uri())
        page.wait_for_selector("#ak-view[data-ready='1']")
        by_map = page.evaluate(count)
        colour = "#ak-view label:has-text('colour') select"
        page.select_option(colour, "row")
        assert page.get_attribute("canvas.ak-heatmap", "data-scale") == "row"
        assert "each row's own maximum" in page.text_content("#ak-view .ak-note")
        by_row = page.evaluate(count)
        page.select_option(colour, "log")
        assert page.get_attribute("canvas.ak-heatmap", "data-scale") == "log"
        assert by_row > by_map and page.errors == []


def test_app_method_selector_redraws_attributions_and_saves_png_and_svg(tiny_checkpoints):
    models = {"classification": attnkit.load(tiny_checkpoints["classification"])}
    with live_server(create_app(models)) as url, browser_page() as (page, _):
        page.goto(url + "/")
        page.click("#tabs button[data-verb=classify]")
        page.check("input.attrib")
        page.fill("textarea", "Who wrote Hamlet ?")
        page.click("button.go")
        page.wait_for_selector("#ak-view[data-ready='1']", timeout=60_000)
        method = "#ak-view select.ak-method"
        options = page.locator(f"{method} option").all_text_contents()
        assert options == [
            "attention maps", "integrated gradients", "occlusion (leave one out)", "gradient × input",
            "value-norm attention ‖αf(x)‖",
        ]  # fmt: skip

        def pixels():
            return page.evaluate(
                "() => { const c = document.querySelector('canvas.ak-heatmap');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " return [c.dataset.cells, Array.from(d)]; }"
            )

        cells_attention = pixels()[0]
        page.select_option(method, "ig")
        cells_ig, ig = pixels()
        assert page.locator("#ak-view .ak-row").all_text_contents() == [
            models["classification"].classify(["Who wrote Hamlet ?"])[0]["label"]
        ]
        assert cells_ig == str(len(page.locator("#ak-view .ak-col").all_text_contents())) != cells_attention
        page.select_option(method, "occlusion")
        assert pixels()[1] != ig  # a method switch redraws with that method's values
        page.click("#ak-view button.ak-save-png")
        assert int(page.get_attribute("#ak-view", "data-saved-png")) > 100
        page.click("#ak-view button.ak-save-svg")
        assert page.get_attribute("#ak-view", "data-saved-svg") == cells_ig
        assert page.errors == []
