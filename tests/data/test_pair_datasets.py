"""Paired datasets: published counts, the Tatoeba split rule, archives, user TSV files."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile

import pytest

from attnkit.data import sources
from attnkit.data.datasets import load_dataset, load_pair_files
from attnkit.data.pair_datasets import tatoeba_split_of
from attnkit.data.seq2seq import IGNORE_INDEX, PairData, make_batch
from attnkit.data.sources import RemoteFile, fetch


def _sizes(table):
    return {split: len(next(iter(cols.values()))) for split, cols in table.items()}


def test_multi30k_counts_and_alignment(shared_data):
    d = load_dataset("multi30k")
    assert _sizes(d) == {"train": 29000, "valid": 1014, "test": 1000}
    assert d["test"]["en"][0] == "A man in an orange hat starring at something."
    assert d["test"]["de"][0].startswith("Ein Mann mit einem orangefarbenen Hut")


def test_tatoeba_split_rule_is_fixed_and_keeps_sentences_together(shared_data):
    d = load_dataset("tatoeba-cmn-eng")
    assert _sizes(d) == {"train": 28785, "valid": 1638, "test": 1605}
    assert sum(_sizes(d).values()) == 32028
    # the rule, not the data, decides: these must never move
    rule = {s: tatoeba_split_of(s) for s in ("Hi.", "Run.", "Who?", "See you.", "Fight.", "We try.")}
    assert rule == {
        "Hi.": "train",
        "Run.": "train",
        "Who?": "valid",
        "See you.": "valid",
        "Fight.": "test",
        "We try.": "test",
    }
    assert {tatoeba_split_of(f"sentence {i}") for i in range(200)} == {"train", "valid", "test"}
    seen = {}
    for split, t in d.items():
        for en in t["en"]:
            assert seen.setdefault(en, split) == split
    assert d["train"]["en"][:2] == ["Hi.", "Hi."] and d["train"]["zh"][:2] == ["嗨。", "你好。"]


def test_samsum_and_scitldr_counts(shared_data):
    s = load_dataset("samsum")
    assert _sizes(s) == {"train": 14731, "valid": 818, "test": 819}
    assert "\n" in s["train"]["dialogue"][0] and all(x.strip() for x in s["test"]["summary"])
    t = load_dataset("scitldr")
    assert _sizes(t) == {"train": 1992, "valid": 619, "test": 618}
    assert sum(len(r) for r in t["test"]["tldr_refs"]) == 1967
    assert sum(len(r) for r in t["valid"]["tldr_refs"]) == 1453
    assert all(len(r) == 1 for r in t["train"]["tldr_refs"])
    assert t["test"]["tldr"][0] == t["test"]["tldr_refs"][0][0]


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_downloads_unpack_archives_before_the_checksum(tmp_path, monkeypatch, kind):
    monkeypatch.delenv("ATTNKIT_DATA", raising=False)
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))
    body = b"Hallo Welt\n"
    if kind == "gzip":
        blob, rf = (
            gzip.compress(body),
            RemoteFile("x.de", ("u",), hashlib.sha256(body).hexdigest(), gzip=True),
        )
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("cmn.txt", body)
        blob = buf.getvalue()
        rf = RemoteFile("x.de", ("u",), hashlib.sha256(body).hexdigest(), zip_member="cmn.txt")
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(blob))
    assert fetch("ds", rf).read_bytes() == body


def test_own_tsv_files(tmp_path):
    p = tmp_path / "train.tsv"
    p.write_text("hallo\thello\nA: hi\\nB: yo\tthey greet\n\n", encoding="utf-8")
    d = load_pair_files(p)
    assert d == {"train": {"src": ["hallo", "A: hi\nB: yo"], "tgt": ["hello", "they greet"]}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("only one field\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv: line 1 has 1 tab-separated fields"):
        load_pair_files(bad)


def test_make_batch_teacher_forcing_layout():
    b = make_batch([[5, 6, 3], [7, 3]], [[2, 8, 9, 3], [2, 10, 3]], pad_id=0)
    assert b["src"].tolist() == [[5, 6, 3], [7, 3, 0]]
    assert b["tgt_in"].tolist() == [[2, 8, 9], [2, 10, 3]]
    assert b["tgt_out"].tolist() == [[8, 9, 3], [10, 3, IGNORE_INDEX]]


def test_pair_data_batches_are_seeded_and_length_bucketed():
    import torch

    src = [[4] * n + [3] for n in range(1, 101)]
    tgt = [[2, *([5] * n), 3] for n in range(1, 101)]
    data = PairData(src, tgt, pad_id=0)
    a = data.random_batch(8, torch.Generator().manual_seed(0))
    b = data.random_batch(8, torch.Generator().manual_seed(0))
    assert torch.equal(a["src"], b["src"])
    lengths = (a["src"] != 0).sum(1)
    assert int(lengths.max() - lengths.min()) == 7  # 8 neighbours in length order
    seen = [i for idx, _ in data.eval_batches(16) for i in idx]
    assert sorted(seen) == list(range(100))


def test_dailydialog_turns_and_context_pairs(shared_data):
    from attnkit.data.pair_datasets import dialogue_pairs

    d = load_dataset("dailydialog")
    assert {k: len(v["turns"]) for k, v in d.items()} == {"train": 11118, "valid": 1000, "test": 1000}
    assert sum(len(t) for t in d["test"]["turns"]) == 7740
    assert sum(len(t) for t in d["valid"]["turns"]) == 8069
    pairs = dialogue_pairs([["hi", "hello", "how are you ?", "fine"]], k=2)
    assert pairs["context"] == ["A: hi", "A: hi\nB: hello", "B: hello\nA: how are you ?"]
    assert pairs["response"] == ["hello", "how are you ?", "fine"]


def test_nested_zip_members(tmp_path, monkeypatch):
    monkeypatch.delenv("ATTNKIT_DATA", raising=False)
    monkeypatch.setenv("ATTNKIT_CACHE", str(tmp_path / "cache"))
    inner, outer = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("train/d.txt", b"a __eou__\n")
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("pkg/train.zip", inner.getvalue())
    body = b"a __eou__\n"
    rf = RemoteFile("d.txt", ("u",), hashlib.sha256(body).hexdigest(), zip_member="pkg/train.zip!train/d.txt")
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(outer.getvalue()))
    assert fetch("ds", rf).read_bytes() == body
