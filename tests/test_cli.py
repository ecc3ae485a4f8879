"""The ``attnkit`` command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from attnkit.cli.main import main


def test_demo_prints_parameter_counts_and_attention_shapes(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "encoder: 132,864 parameters" in out
    assert "decoder cross_attn maps (L, B, H, T, S) = (2, 2, 4, 6, 10)" in out
    assert out.count("greedy tokens with KV cache == without: True") == 2


def test_demo_overrides_and_errors(capsys):
    assert main(["demo", "--family", "decoder", "n_layers=3", "n_kv_heads=2"]) == 0
    out = capsys.readouterr().out
    assert "self_attn maps (L, B, H, T, S) = (3, 2, 4, 10, 10)" in out
    assert main(["demo", "n_heads=5"]) == 2
    assert "d_model=64 is not divisible by n_heads=5" in capsys.readouterr().err


def test_backends_command_lists_registry(capsys):
    assert main(["backends"]) == 0
    rows = capsys.readouterr().out.splitlines()
    names = [r.split()[0] for r in rows[1:]]
    assert names == ["linear", "reference", "sdpa", "tiled", "triton", "local:<W>"]
    assert re.match(r"reference\s+True\s+True\s+True\s+True", rows[2])
    assert re.match(r"linear\s+True\s+False\s+True\s+False", rows[1])
    assert "sliding-window attention, e.g. local:64" in rows[6]


def test_console_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "attnkit", "backends"], capture_output=True, text=True)
    assert res.returncode == 0 and "sdpa" in res.stdout


def test_train_generate_eval_from_the_command_line(tmp_path, tiny_corpus, capsys):
    from attnkit.config import save_yaml
    from tests.conftest import tiny_run_config

    cfg = tiny_run_config(tmp_path / "run", tiny_corpus, "train.max_steps=30", "train.eval_every=15")
    save_yaml(cfg, tmp_path / "cfg.yaml")
    assert main(["train", "--config", str(tmp_path / "cfg.yaml"), "train.max_steps=20"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["out_dir"] == str(tmp_path / "run") and summary["unit"] == "character"
    assert (
        main(
            [
                "generate",
                "--ckpt",
                str(tmp_path / "run"),
                "--prompt",
                "First",
                "--max-new-tokens",
                "25",
                "--temperature",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("First") and len(out.rstrip("\n")) == len("First") + 25
    assert main(["eval", "--ckpt", str(tmp_path / "run" / "best"), "--split", "test", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["split"] == "test" and m["tokens"] == 1999 and 1.0 < m["ppl"] < 40
    assert main(["eval", "--ckpt", str(tmp_path / "run"), "--split", "dev"]) == 2
    assert "split 'dev' not in this corpus; available: train, valid, test" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "cfg.yaml"), "train.lr=fast"]) == 2
    assert "train.lr: expected float, got str 'fast'" in capsys.readouterr().err
