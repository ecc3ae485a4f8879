"""The ``attnkit`` command line."""

from __future__ import annotations

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
    assert re.match(r"reference\s+True", rows[1]) and re.match(r"sdpa\s+False", rows[2])


def test_console_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "attnkit", "backends"], capture_output=True, text=True)
    assert res.returncode == 0 and "sdpa" in res.stdout
