"""The dataset registry and file sources: mirror, cache, download, checksums, text errors."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from attnkit.data import sources
from attnkit.data.datasets import DATASETS, get_dataset, load_dataset, load_text_files
from attnkit.data.sources import RemoteFile, fetch, read_text
from attnkit.text import WordTokenizer


def test_tinyshakespeare_split_matches_nanogpt(shared_data):
    s = load_dataset("tinyshakespeare")
    assert (len(s["train"]), len(s["valid"])) == (1_003_854, 111_540)
    assert s["train"].startswith("First Citizen:")


def test_wikitext2_counts_match_the_paper(shared_data):
    s = load_dataset("wikitext-2")
    tok = WordTokenizer.train(s["train"])
    assert tok.vocab_size == 33_278 + 2  # published vocab has <eos> and <unk>; we add <pad>, <bos>
    counts = {k: len(tok.encode(v)) for k, v in s.items()}
    # The published counts add one <eos> per line; the files end with a newline, so equal.
    assert counts == {"train": 2_088_628, "valid": 217_646, "test": 245_569}


def test_registry_entries_carry_provenance():
    for spec in DATASETS.values():
        assert spec.license and spec.homepage
        for t in spec.trees:
            assert len(t.manifest_sha256) == 64 and t.count > 0 and t.urls[0].startswith("https://")
        for f in spec.files:
            assert len(f.sha256) == 64 or len(f.md5 or "") == 32
            # http only where the publisher offers nothing else; the checksum still guards the bytes
            assert all(u.startswith("https://") or spec.name == "dailydialog" for u in f.urls)
    names = (
        "ag_news, chnsenticorp, dailydialog, fsdd, multi30k, samsum, scitldr, sst2, tatoeba-cmn-eng, "
        "tinyshakespeare, trec, wikitext-2"
    )
    with pytest.raises(ValueError, match=f"unknown dataset 'nope'; available: {names}"):
        get_dataset("nope")


def _rf(content: bytes) -> RemoteFile:
    return RemoteFile("x.txt", ("https://example.invalid/x.txt",), hashlib.sha256(content).hexdigest())


def test_mirror_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "mirror" / "ds").mkdir(parents=True)
    (tmp_path / "mirror" / "ds" / "x.txt").write_bytes(b"tampered")
    monkeypatch.setenv("ATTNKIT_DATA", str(tmp_path / "mirror"))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*x\.txt: sha256 .* expected"):
        fetch("ds", _rf(b"original"))


def test_missing_file_names_the_places_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNKIT_DATA", str(tmp_path / "mirror"))
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))

    def offline(*a, **k):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(sources.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as e:
        fetch("ds", _rf(b"data"))
    msg = str(e.value)
    assert str(tmp_path / "mirror" / "ds" / "x.txt") in msg and str(tmp_path / "cache") in msg
    assert "Set ATTNKIT_DATA" in msg and "download failed" in msg


def test_download_verifies_then_caches(tmp_path, monkeypatch):
    monkeypatch.delenv("ATTNKIT_DATA", raising=False)
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))
    served = {"body": b"good data"}
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(served["body"]))
    path = fetch("ds", _rf(b"good data"))
    assert path.read_bytes() == b"good data" and path.parent == tmp_path / "cache" / "ds"
    served["body"] = b"evil data"
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        fetch("ds2", _rf(b"good data"))
    assert not (tmp_path / "cache" / "ds2" / "x.txt").exists()  # nothing half-written is kept
    assert list((tmp_path / "cache" / "ds2").iterdir()) == []


def test_text_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("line one\nline two\nthird \xe4 line\n".encode() + b"\xff\xfe broken\n")
    with pytest.raises(ValueError, match=r"bad.txt: not valid UTF-8 at line 4"):
        read_text(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match=r"empty\.txt: the file is empty"):
        read_text(empty)
    with pytest.raises(FileNotFoundError, match="text file not found"):
        load_text_files(tmp_path / "missing.txt")


def test_own_text_files(tiny_corpus):
    s = load_text_files(tiny_corpus["train"], tiny_corpus["valid"])
    assert set(s) == {"train", "valid"} and s["train"].startswith("First Citizen")
