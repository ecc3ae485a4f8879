"""FSDD: the registry entry, its split rules, and the folder fetcher's verification."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import Counter

import pytest
import torch

from attnkit.data.audio_batches import draw_string, join_waveforms, pad_frames
from attnkit.data.datasets import load_dataset
from attnkit.data.sources import RemoteTree, fetch_tree, manifest_text
from attnkit.data.speech_datasets import FSDD_SPEAKERS, hold_out_recordings, speaker_split


def test_fsdd_official_split_counts(shared_data):
    t = load_dataset("fsdd")
    assert {s: len(v["path"]) for s, v in t.items()} == {"train": 2700, "test": 300}
    assert sorted(set(t["test"]["speaker"])) == sorted(FSDD_SPEAKERS)  # same speakers both sides
    assert set(t["test"]["index"]) == {0, 1, 2, 3, 4} and min(t["train"]["index"]) == 5
    assert Counter(t["test"]["digit"]) == {d: 30 for d in range(10)}
    assert t["train"]["text"][t["train"]["digit"].index(7)] == "seven"


def test_speaker_hold_out_and_validation_split(shared_data):
    t = speaker_split(load_dataset("fsdd"), "theo")
    assert len(t["test"]["path"]) == 500 and set(t["test"]["speaker"]) == {"theo"}
    assert len(t["train"]["path"]) == 2500 and "theo" not in t["train"]["speaker"]
    v = hold_out_recordings(t)
    assert len(v["train"]["path"]) + len(v["valid"]["path"]) == 2500
    assert 200 <= len(v["valid"]["path"]) <= 300  # 10% by file-name hash
    assert not set(v["train"]["path"]) & set(v["valid"]["path"])
    assert v["test"] is t["test"]
    with pytest.raises(ValueError, match="unknown speaker 'nobody'; this dataset has george"):
        speaker_split(load_dataset("fsdd"), "nobody")


def _zip_of(files: dict[str, bytes], prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(prefix + name, data)
        z.writestr("repo/README.md", b"not part of the tree")
    return buf.getvalue()


def test_fetch_tree_downloads_verifies_and_refuses_tampering(tmp_path, monkeypatch):
    files = {"a.wav": b"first", "b.wav": b"second"}
    (tmp_path / "src").mkdir()
    for n, d in files.items():
        (tmp_path / "src" / n).write_bytes(d)
    pin = hashlib.sha256(manifest_text(tmp_path / "src", list(files)).encode()).hexdigest()
    archive = tmp_path / "tree.zip"
    archive.write_bytes(_zip_of(files, "repo/rec/"))
    tree = RemoteTree("rec", (archive.as_uri(),), "repo/rec/", pin, count=2, suffix=".wav")
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATTNKIT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"downloading is off.*ATTNKIT_DATA"):
        fetch_tree("toy", tree, download=False)
    got = fetch_tree("toy", tree)
    assert got == tmp_path / "cache" / "toy" / "rec"
    assert {p.name: p.read_bytes() for p in got.iterdir()} == files
    assert not list((tmp_path / "cache" / "toy").glob(".*part"))  # no temporary folder left behind
    (got / "b.wav").write_bytes(b"edited")
    with pytest.raises(ValueError, match=r"b\.wav: missing or checksum mismatch"):
        fetch_tree("toy", tree)
    bad = RemoteTree("rec", (archive.as_uri(),), "repo/rec/", "0" * 64, count=2, suffix=".wav")
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):  # a download that fails its pin
        fetch_tree("toy", bad)
    assert not (tmp_path / "cache2" / "toy" / "rec").exists()


def test_pad_frames_and_joined_strings():
    x, m = pad_frames([torch.ones(3, 4), torch.ones(5, 4)])
    assert x.shape == (2, 5, 4) and m.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert float(x[0, 3:].abs().sum()) == 0.0
    with pytest.raises(ValueError, match=r"\(T, 4\) frames"):
        pad_frames([torch.ones(3, 4), torch.ones(3, 5)])
    g = torch.Generator().manual_seed(0)
    draws = [draw_string(10, g, min_words=2, max_words=5, min_gap=400, max_gap=2400) for _ in range(200)]
    assert {len(i) for i, _ in draws} == {2, 3, 4, 5}
    assert all(len(gaps) == len(i) - 1 and all(400 <= x <= 2400 for x in gaps) for i, gaps in draws)
    w = join_waveforms([torch.ones(3), 2 * torch.ones(2)], [4])
    assert w.tolist() == [1, 1, 1, 0, 0, 0, 0, 2, 2]
    with pytest.raises(ValueError, match="need 1 <= min_words <= max_words"):
        draw_string(10, g, min_words=3, max_words=2, min_gap=0, max_gap=0)
