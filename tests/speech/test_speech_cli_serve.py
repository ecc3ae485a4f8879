"""Speech from the outside: ``attnkit transcribe`` / ``eval`` / ``viz --audio``, and ``/api/transcribe``."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from safetensors.torch import load_file

import attnkit
from attnkit.cli.main import main
from attnkit.serve import ServeLimits, create_app


@pytest.fixture(scope="module")
def speech(speech_checkpoint):
    return attnkit.load(speech_checkpoint)


def _wav(path, n: int, rate: int = 8000, width: int = 2, channels: int = 1, frames: bytes | None = None):
    """A WAV of ``n`` zero samples (or of the given raw ``frames``)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(n * width * channels) if frames is None else frames)
    return path


def _recordings(shared: str, *names: str) -> list[str]:
    return [f"{shared}/fsdd/recordings/{n}.wav" for n in names]


def test_transcribe_prints_one_line_per_file_equal_to_the_api(speech_checkpoint, speech, shared_data, capsys):
    files = _recordings(shared_data, "7_theo_3", "0_george_1")
    assert main(["transcribe", "--ckpt", str(speech_checkpoint), *files, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == files
    assert [r["text"] for r in rows] == speech.transcribe(files)


def test_transcribe_refuses_bad_audio_with_a_clear_error(speech_checkpoint, tmp_path, capsys):
    (tmp_path / "notes.wav").write_text("hello")
    cases = {
        str(tmp_path / "notes.wav"): "not a readable WAV file",
        str(_wav(tmp_path / "empty.wav", 0)): "empty",
        str(_wav(tmp_path / "long.wav", 8000 * 11)): "more than the 10 s limit",
        str(_wav(tmp_path / "u8.wav", 800, width=1)): "mono 16-bit PCM",
        str(tmp_path / "missing.wav"): "audio file not found",
    }
    for path, msg in cases.items():
        assert main(["transcribe", "--ckpt", str(speech_checkpoint), path]) == 2, path
        assert msg in capsys.readouterr().err, path


def test_eval_scores_a_decoded_split(speech_checkpoint, shared_data, tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(["eval", "--ckpt", str(speech_checkpoint), "--limit", "12", "--out-dir", str(out), "--json"])
    assert code == 0
    m = json.loads(capsys.readouterr().out)
    assert m["examples"] == 12 and 0.0 <= m["accuracy"] <= 1.0 and m["holdout_speaker"] is None
    lines = (out / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12 and lines[0].split("\t")[1] == "zero"  # sorted names: digit 0 first
    assert json.loads((out / "test.scores.json").read_text())["wer"] == m["wer"]


def test_viz_audio_writes_letters_by_frames_maps(speech_checkpoint, speech, shared_data, tmp_path, capsys):
    wav = _recordings(shared_data, "3_jackson_2")[0]
    out = tmp_path / "v"
    assert (
        main(["viz", "--ckpt", str(speech_checkpoint), "--audio", wav, "--out", str(out), "--no-per-head"])
        == 0
    )
    assert (out / "spectrogram_alignment.png").stat().st_size > 5000
    cross = load_file(out / "attention.safetensors")["cross"]
    tokens = json.loads((out / "tokens.json").read_text())
    text = speech.transcribe([wav])[0]
    assert tokens["output"] == text
    n_frames = -(-speech.audio_features(wav).shape[0] // speech.cfg.model.subsample)
    assert cross.shape == (1, 1, 4, len(text) + 1, n_frames)  # (L, B, H, letters + <eos>, frames)
    assert tokens["streams"]["cross"]["keys"][1] == "0.04s"  # frame j starts at j * 4 * 10 ms
    assert main(["viz", "--ckpt", str(speech_checkpoint), "--text", "hi", "--out", str(out)]) == 2
    assert "--audio" in capsys.readouterr().err


def test_transcribe_endpoint_and_its_limits(speech, shared_data, tmp_path):
    app = create_app({"fsdd": speech}, ServeLimits(max_audio_bytes=200_000, max_audio_seconds=3.0))
    client = TestClient(app)
    wav = _recordings(shared_data, "5_lucas_4")[0]
    data = Path(wav).read_bytes()
    r = client.post("/api/transcribe", content=data, headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"] == speech.transcribe([wav])[0] and body["task"] == "speech"
    assert body["figure"].startswith("data:image/png;base64,") and body["audio"]["sample_rate"] == 8000
    assert {s["name"] for s in body["attention"]["streams"]} >= {"encoder", "decoder", "cross"}
    r = client.post("/api/transcribe?attention=false&beam=1", content=data)
    assert r.status_code == 200 and r.json()["attention"] is None and r.json()["figure"] is None
    too_long = _wav(tmp_path / "l.wav", 8000 * 4).read_bytes()  # 4 s > 3 s, 64 kB < 200 kB
    stereo44k = _wav(tmp_path / "s.wav", 44100 * 2, rate=44100, channels=2).read_bytes()  # 353 kB
    u8 = _wav(tmp_path / "u.wav", 800, width=1).read_bytes()
    for content, status, msg in [
        (too_long, 413, "recording is 4.0 s"),
        (stereo44k, 413, "at most 200,000 bytes"),
        (b"GIF89a not audio", 415, "not a readable WAV"),
        (b"", 422, "no audio"),
        (u8, 422, "mono 16-bit PCM"),
    ]:
        r = client.post("/api/transcribe", content=content)
        assert r.status_code == status, (msg, r.text)
        assert msg in r.json()["error"]
    assert client.post("/api/transcribe?beam=40", content=data).status_code == 422
    assert client.post("/api/transcribe?model=nope", content=data).status_code == 404
    assert "/api/transcribe" in client.get("/openapi.json").json()["paths"]
    assert client.get("/api/models").json()["models"][0]["verbs"] == ["transcribe"]


def test_transcribe_page_uploads_a_wav_and_shows_the_alignment(speech, shared_data, tmp_path):
    from tests.serve.browser import browser_page, live_server

    wav = _recordings(shared_data, "4_nicolas_0")[0]
    expected = speech.transcribe([wav])[0]
    with live_server(create_app({"fsdd": speech})) as url, browser_page() as (page, seen):
        page.goto(url + "/")
        page.wait_for_selector("#tabs button[data-verb=transcribe]")
        assert page.locator("#tabs button").all_text_contents() == ["Transcribe"]
        page.set_input_files("input.audio", wav)
        page.click("button.go")
        page.wait_for_selector("#ak-view[data-ready='1']", timeout=30_000)
        assert page.text_content("#output .label") == (expected or "(empty transcript)")
        size = page.evaluate(
            "() => { const i = document.querySelector('img.figure');"
            " return [i.naturalWidth, i.naturalHeight]; }"
        )
        assert size[0] > 300 and size[1] > 300  # the spectrogram + alignment figure decoded
        # the viewer opens on cross-attention: output letters (+ <eos>) by audio frames
        rows = page.locator("#ak-view .ak-row").all_text_contents()
        assert rows == [*expected, "<eos>"] if expected else rows == ["<eos>"]
        assert page.locator("#ak-view .ak-col").all_text_contents()[:2] == ["0.00s", "0.04s"]
        (tmp_path / "notes.wav").write_text("not audio")
        page.set_input_files("input.audio", str(tmp_path / "notes.wav"))
        page.click("button.go")
        page.wait_for_selector("#error:not([hidden])")
        assert page.text_content("#error").startswith("415: ")
        page.set_input_files("input.audio", wav)  # the same word, now cut at its pauses
        page.check("input.split")
        page.click("button.go")
        page.wait_for_selector("#output .meta:has-text('cut at pauses')")
        split = speech.transcribe([wav], split_on_silence=True)[0]
        assert page.text_content("#output .label") == (split or "(empty transcript)")
        assert "cut at pauses into 1 piece(s): " in page.text_content("#output .meta")
        assert page.locator("img.figure").count() == 0
        page.screenshot(path=str(tmp_path / "transcribe.png"), full_page=True)
        assert page.errors == []
    assert all(u.startswith(url) for u in seen)


def test_transcribe_can_cut_strings_of_words_at_their_pauses(
    speech_checkpoint, speech, shared_data, tmp_path, capsys
):
    import torch

    from attnkit.audio import load_audio, speech_spans

    a, b = (load_audio(f) for f in _recordings(shared_data, "4_yweweler_1", "9_nicolas_2"))
    a, b = a / a.abs().max(), b / b.abs().max()  # both near full scale, as one speaker's string
    joined = torch.cat([a, torch.zeros(1600), b])  # a 200 ms pause
    two = _wav(tmp_path / "two.wav", 0, frames=(joined * 32000).round().to(torch.int16).numpy().tobytes())
    silent = _wav(tmp_path / "silent.wav", 4000)
    spans = speech_spans(load_audio(str(two)), 8000)
    assert len(spans) == 2 and spans[0][1] <= a.numel() + 1600 and spans[1][0] >= a.numel()
    pieces = [load_audio(str(two))[s:e] for s, e in spans]
    got = speech.transcribe([str(two), str(silent), str(two)], split_on_silence=True)
    assert got[0] == got[2] == " ".join(speech.transcribe(pieces)) and got[1] == ""
    assert (
        main(["transcribe", "--ckpt", str(speech_checkpoint), str(two), "--split-on-silence", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["text"] == got[0]
    r = TestClient(create_app({"fsdd": speech})).post(
        "/api/transcribe?split_on_silence=true", content=two.read_bytes()
    )
    assert r.status_code == 200, r.text
    assert r.json()["output"] == got[0] and r.json()["figure"] is None
    assert r.json()["pieces"] == [[round(s / 8000, 3), round(e / 8000, 3)] for s, e in spans]
    with pytest.raises(ValueError, match="expected non-empty"):
        speech.transcribe([torch.zeros(0)], split_on_silence=True)
