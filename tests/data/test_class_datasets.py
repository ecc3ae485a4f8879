"""Classification datasets: published counts and labels, Latin-1 TREC, AG News without train."""

from __future__ import annotations

import collections
import hashlib
import io
import urllib.error
from pathlib import Path

import pytest

from attnkit.data import sources
from attnkit.data.class_datasets import _parse_ag_csv
from attnkit.data.datasets import load_dataset
from attnkit.data.sources import RemoteFile, fetch


def _counts(t):
    return dict(collections.Counter(t["label"]))


def test_sst2_and_chnsenticorp_counts(shared_data):
    s = load_dataset("sst2")
    assert set(s) == {"train", "valid"}  # the GLUE test split is unlabelled
    assert _counts(s["train"]) == {"positive": 37569, "negative": 29780}
    assert _counts(s["valid"]) == {"positive": 444, "negative": 428}
    c = load_dataset("chnsenticorp")
    assert _counts(c["train"]) == {"negative": 4801, "positive": 4799}
    assert _counts(c["valid"]) == {"negative": 607, "positive": 593}
    assert any("酒店" in t for t in c["train"]["text"][:200])


def test_trec_coarse_and_fine_labels_and_latin1_byte(shared_data):
    d = load_dataset("trec")
    assert len(d["train"]["text"]) == 5452 and len(d["test"]["text"]) == 500
    assert _counts(d["test"]) == {"DESC": 138, "NUM": 113, "ENTY": 94, "LOC": 81, "HUM": 65, "ABBR": 9}
    assert len(set(d["train"]["fine"])) == 50 and len(set(d["test"]["fine"])) == 42
    assert (
        d["train"]["text"][65]
        == "Which city has the oldest relationship as a sister\xf0city with Los Angeles ?"
    )


def test_ag_news_test_split_parses_and_missing_train_says_where(shared_data, tmp_path, monkeypatch):
    test = _parse_ag_csv(Path(shared_data) / "ag_news" / "test.csv")
    assert len(test["text"]) == 7600 and set(_counts(test).values()) == {1900}
    assert "\\" not in "".join(test["text"][:500])
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))

    def offline(url, timeout):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(sources.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("ag_news")
    msg = str(e.value)
    assert str(Path(shared_data) / "ag_news" / "train.csv") in msg and "download failed" in msg
    assert "ag_news_csv/train.csv" in msg  # the canonical URL it tried


def test_md5_only_files_are_verified(tmp_path, monkeypatch):
    monkeypatch.delenv("ATTNKIT_DATA", raising=False)
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))
    body = b"1,t,d\n"
    rf = RemoteFile("x.csv", ("https://example.invalid/x.csv",), md5=hashlib.md5(body).hexdigest())
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(body))
    assert fetch("ds", rf).read_bytes() == body
    bad = RemoteFile("y.csv", ("https://example.invalid/y.csv",), md5="0" * 32)
    with pytest.raises(FileNotFoundError, match=r"checksum mismatch.*md5"):
        fetch("ds", bad)
    with pytest.raises(ValueError, match="needs a sha256"):
        RemoteFile("z", ("https://example.invalid/z",))
