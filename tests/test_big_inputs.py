"""Big inputs to the translate/summarize commands: an enormous line is cut before it is
tokenized (with a warning naming the line), and outputs are written as they are done, so a
stopped run keeps every finished line."""

from __future__ import annotations

import pytest

import attnkit.cli.main as cli
from attnkit.api import LoadedModel
from attnkit.cli.main import main


def test_a_huge_line_is_cut_before_tokenizing_and_named(tiny_checkpoints, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("a dog runs\n" + "ein hund " * 500_000 + "\nthe cat\n", encoding="utf-8")
    seen = []
    real = LoadedModel.transduce

    def spy(self, texts, **kw):
        seen.extend(len(t) for t in texts)
        return real(self, texts, **kw)

    monkeypatch.setattr(LoadedModel, "transduce", spy)
    out = tmp_path / "out.txt"
    assert main(["translate", "--ckpt", str(tiny_checkpoints["translation"]), "--input", str(src),
                 "--output", str(out)]) == 0  # fmt: skip
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    err = capsys.readouterr().err
    assert "input 2 is 4500000 characters; only its first 1024 are read (data.max_src_len=16 tokens)" in err
    assert "attnkit: 3 lines done" in err
    assert seen == [10, 4_500_000, 7]  # the model side got the line; the tokenizer got 1024 chars


def test_outputs_are_written_chunk_by_chunk(tiny_checkpoints, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("".join(f"line {i}\n" for i in range(7)), encoding="utf-8")
    monkeypatch.setattr(cli, "TRANSDUCE_CHUNK", 2)
    calls = {"n": 0}
    real = LoadedModel.transduce

    def dies_on_the_third_chunk(self, texts, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, texts, **kw)

    monkeypatch.setattr(LoadedModel, "transduce", dies_on_the_third_chunk)
    out = tmp_path / "out.txt"
    argv = [
        "translate",
        "--ckpt",
        str(tiny_checkpoints["translation"]),
        "--input",
        str(src),
        "--output",
        str(out),
    ]
    assert main(argv) == 130  # interrupted
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4  # two finished chunks kept


@pytest.mark.parametrize("chunk", [1, 3, 512])
def test_chunking_changes_nothing_in_the_output(tiny_checkpoints, tmp_path, monkeypatch, chunk):
    src = tmp_path / "in.txt"
    src.write_text("a dog runs\n\nthe cat sat\nein hund\n", encoding="utf-8")
    monkeypatch.setattr(cli, "TRANSDUCE_CHUNK", chunk)
    out = tmp_path / f"out{chunk}.txt"
    assert main(["translate", "--ckpt", str(tiny_checkpoints["translation"]), "--input", str(src),
                 "--output", str(out)]) == 0  # fmt: skip
    import attnkit

    want = attnkit.load(tiny_checkpoints["translation"]).translate(src.read_text().splitlines())
    assert out.read_text(encoding="utf-8").splitlines() == want
