"""The long-range study: matched models, the training harness, resuming, cost, the report, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from attnkit.study import StudyConfig, long_range_study
from attnkit.study.long_range import build, distance_bucket, model_config, run_study
from attnkit.study.report import breaks_at, crossover, target_check


def test_baselines_match_the_transformer_parameter_count():
    cfg = StudyConfig()
    n = {m: build(m, cfg, "recall", 64, 0).num_parameters() for m in ("transformer", "lstm", "cnn")}
    assert abs(n["lstm"] - n["transformer"]) / n["transformer"] < 0.05
    assert abs(n["cnn"] - n["transformer"]) / n["transformer"] < 0.05
    assert build("transformer+linear", cfg, "recall", 64, 0).num_parameters() == n["transformer"]
    assert model_config("transformer+local:32", cfg, 10, 64).attn_backend == "local:32"


def test_unknown_model_and_task_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown study model 'gru'"):
        run_study(StudyConfig(models=["gru"]), tmp_path)
    with pytest.raises(ValueError, match="unknown synthetic task 'sort'"):
        run_study(StudyConfig(tasks=["sort"]), tmp_path)


def test_distance_buckets_are_powers_of_two():
    assert [distance_bucket(d) for d in (1, 2, 3, 4, 5, 8, 9, 500)] == [1, 2, 4, 4, 8, 8, 16, 512]


def _row(task, model, length, acc):
    return {"task": task, "model": model, "length": length, "accuracy": acc, "by_distance": {}}


def test_breaks_targets_and_crossover_from_rows():
    rows = [
        _row("recall", "transformer", 16, 1.0),
        _row("recall", "transformer", 64, 0.995),
        _row("recall", "lstm", 16, 0.97),
        _row("recall", "lstm", 64, 0.31),
    ]
    grid = {r["length"]: r for r in rows if r["model"] == "lstm"}
    assert breaks_at(grid) == 64
    assert breaks_at({16: rows[0]}) is None
    (line,) = target_check(rows)
    assert "T=64: 99.5% vs 31.0%" in line and "**met**" in line
    cost = [
        {"model": "a", "length": 64, "ms": 1.0},
        {"model": "b", "length": 64, "ms": 0.5},
        {"model": "a", "length": 128, "ms": 2.0},
        {"model": "b", "length": 128, "ms": 4.0},
        {"model": "a", "length": 256, "ms": 4.0},
        {"model": "b", "length": 256, "ms": 16.0},
    ]
    assert crossover(cost, "a", "b") == 128
    assert crossover(cost, "b", "a") is None


TINY = dict(
    tasks=["induction"],
    lengths=[8],
    models=["transformer", "cnn"],
    d_model=16,
    n_heads=2,
    cnn_layers=2,
    steps=3,
    eval_every=3,
    eval_sequences=16,
    batch_tokens=64,
    profile_lengths=[16, 32],
    profile_batch=2,
)


def test_study_writes_report_resumes_and_measures_cost(tmp_path):
    cfg = StudyConfig(**TINY)
    report = long_range_study(cfg, tmp_path, progress=None)
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["task"], r["model"], r["length"], r["steps"]) for r in rows] == [
        ("induction", "transformer", 8, 3),
        ("induction", "cnn", 8, 3),
    ]
    assert sum(n for _, n in rows[0]["by_distance"].values()) == 16  # one question per sequence
    text = report.read_text()
    assert f"| transformer | {100 * rows[0]['accuracy']:.1f} |" in text
    cost = json.loads((tmp_path / "cost.json").read_text())
    measured = {(r["model"], r["length"]) for r in cost if "ms" in r}
    models = ("transformer", "cnn", "transformer+tiled", "transformer+reference")
    assert measured == {(m, t) for m in models for t in (16, 32)}
    assert all(r["ms"] > 0 for r in cost if "ms" in r)
    for png in ("accuracy.png", "cost.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a second run trains nothing new: the cells are already there
    again = run_study(cfg, tmp_path, progress=None)
    assert len(again) == 2 and len((tmp_path / "results.jsonl").read_text().splitlines()) == 2


def test_cli_study(tmp_path, capsys):
    from attnkit.cli.main import main

    over = [f"{k}={json.dumps(v)}" for k, v in TINY.items()]
    assert main(["study", "long-range", "--out", str(tmp_path), "--no-cost", *over]) == 0
    assert (tmp_path / "report.md").exists() and not (tmp_path / "cost.json").exists()
    assert main(["study", "long-range", "--out", str(tmp_path), "models=[rnn]"]) == 2
    assert "unknown study model 'rnn'" in capsys.readouterr().err


def test_tiny_transformer_solves_short_associative_recall():
    """The study's CI check: seeded, CPU, well under a minute (it stops once >= 99%)."""
    from attnkit.study.long_range import train_cell

    cfg = StudyConfig(steps=900, batch_tokens=1024, eval_every=100, stop_accuracy=0.99, lr=2e-3)
    row = train_cell("recall", "transformer", 16, cfg)
    assert row["params"] < 120_000
    assert row["accuracy"] >= 0.95, row
    assert sum(n for _, n in row["by_distance"].values()) == 256 * 4  # 4 questions per sequence


def test_fan_in_init_scales_with_width():
    from attnkit.config.model import ModelConfig
    from attnkit.models.decoder import Decoder

    m = Decoder(ModelConfig(vocab_size=50, d_model=64, n_layers=1, init="fan_in", tie_embeddings=False))
    assert abs(m.embed.tok.weight.std().item() - 1.0) < 0.05
    linears = [x for x in m.modules() if isinstance(x, torch.nn.Linear)]
    assert len(linears) >= 4
    for lin in linears:  # std 1/sqrt(fan_in): 1/8 from the residual, 1/16 from the MLP's 256
        assert abs(lin.weight.std().item() - lin.weight.shape[1] ** -0.5) < 0.15 * lin.weight.shape[1] ** -0.5
    g = Decoder(ModelConfig(vocab_size=50, d_model=64, n_layers=1))
    assert abs(g.embed.tok.weight.std().item() - 0.02) < 0.002  # the default stays GPT-2's
