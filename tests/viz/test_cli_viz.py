"""``attnkit viz`` on checkpoints of every task: the files it writes and what they hold."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from attnkit.cli.main import main
from attnkit.cli.viz import parse_indices

RUNS = {
    "lm": (["--text", "To be", "--max-new-tokens", "10"], {"decoder"}),
    "translation": (["--text", "alpha beta gamma"], {"encoder", "decoder", "cross"}),
    "dialogue": (["--text", "beta gamma\\ngamma beta"], {"encoder", "decoder", "cross"}),
    "classification": (["--text", "Who wrote Hamlet ?"], {"encoder"}),
}


@pytest.mark.parametrize("task", list(RUNS))
def test_viz_writes_html_pngs_and_exact_tensors(task, tiny_checkpoints, tmp_path, capsys):
    args, streams = RUNS[task]
    out = tmp_path / "viz"
    assert main(["viz", "--ckpt", str(tiny_checkpoints[task]), *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{task}: " in printed and "attention.html" in printed
    tensors = load_file(out / "attention.safetensors")
    labels = json.loads((out / "tokens.json").read_text(encoding="utf-8"))
    assert set(tensors) == set(labels["streams"]) == streams
    for name, w in tensors.items():
        lab = labels["streams"][name]
        assert tuple(w.shape) == (2, 1, 4, len(lab["queries"]), len(lab["keys"]))  # (L, B, H, T, S)
        assert (out / f"{name}_grid.png").stat().st_size > 1000
        assert len(list((out / "heads").glob(f"{name}_L*_H*.png"))) == 2 * 4
    assert (out / "rollout.png").is_file()
    assert (out / "alignment.png").is_file() == (out / "links.png").is_file() == ("cross" in streams)
    page = (out / "attention.html").read_text(encoding="utf-8")
    assert "AttnView.render" in page and "http://" not in page and "https://" not in page


def test_viz_layer_and_head_filters(tiny_checkpoints, tmp_path):
    out = tmp_path / "v"
    argv = ["viz", "--ckpt", str(tiny_checkpoints["translation"]), "--text", "beta eta", "--layers", "1",
            "--heads", "0,2-3", "--no-per-head", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    tensors = load_file(out / "attention.safetensors")
    assert {k: tuple(v.shape[:3]) for k, v in tensors.items()} == {k: (1, 1, 3) for k in tensors}
    assert not (out / "heads").exists() and not (out / "rollout.png").exists()  # no rollout from one layer


def test_viz_errors_are_clear(tiny_checkpoints, tmp_path, capsys):
    ck = str(tiny_checkpoints["translation"])
    assert main(["viz", "--ckpt", ck, "--text", "beta", "--layers", "x", "--out", str(tmp_path)]) == 2
    assert "--layers must be indices like 0,2 or 0-3" in capsys.readouterr().err
    assert main(["viz", "--ckpt", ck, "--text", "beta", "--heads", "7", "--out", str(tmp_path)]) == 2
    assert "heads [7] out of range: this model has heads 0..3" in capsys.readouterr().err
    assert main(["viz", "--ckpt", str(tmp_path / "nope"), "--text", "x", "--out", str(tmp_path)]) == 2
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    assert main(["viz", "--ckpt", ck, "--input", str(bad), "--out", str(tmp_path)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_parse_indices():
    assert parse_indices("0,2-4", "layers") == [0, 2, 3, 4]
    assert parse_indices("all", "heads") is None and parse_indices(None, "heads") is None
    with pytest.raises(ValueError, match="selects nothing"):
        parse_indices(",", "heads")
