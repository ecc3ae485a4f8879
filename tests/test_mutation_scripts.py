"""The mutation-testing driver and report (scripts/mutate.py, scripts/mutation_report.py) on a
fabricated mutants/ folder: no mutmut run needed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "scripts"))


report = _load("mutation_report")
mutate = _load("mutate")


def _meta(root: Path, src: str, codes: dict) -> None:
    p = root / f"{src}.meta"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"exit_code_by_key": codes}))


@pytest.fixture
def mutants(tmp_path, monkeypatch):
    root = tmp_path / "mutants"
    _meta(root, "attnkit/decode/search.py", {
        "attnkit.decode.search.x_a__mutmut_1": 1, "attnkit.decode.search.x_a__mutmut_2": 0,
        "attnkit.decode.search.x_a__mutmut_3": 0, "attnkit.decode.search.x_a__mutmut_4": -24,
        "attnkit.decode.search.x_a__mutmut_5": None, "attnkit.decode.search.x_a__mutmut_6": 33,
        "attnkit.decode.search.x_a__mutmut_7": 1,
    })  # fmt: skip
    _meta(root, "attnkit/training/optim.py", {"attnkit.training.optim.x_b__mutmut_1": 1})
    eq = tmp_path / "equivalent.txt"
    eq.write_text(
        "# comment line\nattnkit.decode.search.x_a__mutmut_3  # same axis\n"
        "attnkit.decode.search.x_a__mutmut_7  # listed, but a test kills it\n"
    )
    monkeypatch.setattr(report, "EQUIVALENT_FILE", eq)
    return root


def test_report_classifies_and_scores_each_file(mutants):
    res = report.collect(mutants, None)
    by = res["attnkit/decode/search.py"]
    name = "attnkit.decode.search.x_a__mutmut_{}".format
    assert sorted(by["killed"]) == [name(1), name(7)]
    assert by["survived"] == ["attnkit.decode.search.x_a__mutmut_2"]
    assert by["equivalent"] == ["attnkit.decode.search.x_a__mutmut_3"]  # only a survivor can be
    assert by["timeout"] == ["attnkit.decode.search.x_a__mutmut_4"]
    assert by["not_checked"] == ["attnkit.decode.search.x_a__mutmut_5"]
    assert by["no_tests"] == ["attnkit.decode.search.x_a__mutmut_6"]
    assert report.score(by) == pytest.approx(100 * 2 / 3)
    assert list(report.collect(mutants, "attnkit/train")) == ["attnkit/training/optim.py"]
    table = report.table(res).splitlines()
    assert table[2] == "| attnkit/decode/search.py | 66.7% | 2 | 1 | 1 | 1 | 1 | 1 |"
    assert table[-1] == "| **all** | 75.0% | 3 | 1 | 1 | 1 | 1 | 1 |"
    grouped = report.by_module(res)
    assert list(grouped) == ["attnkit/decode", "attnkit/training/optim.py"]
    assert report.score(grouped["attnkit/decode"]) == report.score(by)


def test_report_without_results_says_what_to_run(tmp_path, capsys):
    assert report.main(["--root", str(tmp_path / "none")]) == 2
    assert "run `make mutate MODULE=...` first" in capsys.readouterr().err


def test_driver_names_the_module_and_picks_what_is_left(mutants, monkeypatch):
    assert mutate.module_prefix("attnkit/decode") == "attnkit.decode."
    assert mutate.module_prefix("attnkit/training/optim.py") == "attnkit.training.optim."
    assert mutate.module_prefix(None) == ""
    monkeypatch.setattr(mutate, "MUTANTS", mutants)
    names, total = mutate.pending("attnkit.decode.", retest=False)
    assert total == 7 and sorted(n[-1] for n in names) == ["5", "6"]  # unchecked; "no tests" again
    monkeypatch.setattr(mutate, "equivalent_names", report.equivalent_names)
    names, _ = mutate.pending("attnkit.decode.", retest=True)
    assert sorted(n[-1] for n in names) == ["2", "4", "5", "6"]  # survivors and timeouts, not 3
    assert mutate.pending("attnkit.text.", retest=True) == ([], 0)


def test_driver_forgets_the_test_map_when_sources_change(tmp_path, monkeypatch):
    stats, digest_file = tmp_path / "mutmut-stats.json", tmp_path / "digest"
    monkeypatch.setattr(mutate, "STATS", stats)
    monkeypatch.setattr(mutate, "SOURCES_AT_STATS", digest_file)
    stats.write_text("{}")
    digest_file.write_text("abc")
    mutate.drop_stale_stats("abc")
    assert stats.exists()
    mutate.drop_stale_stats("def")
    assert not stats.exists()
    assert len(mutate.sources_digest()) == 64


def test_driver_refuses_an_unknown_module(capsys):
    assert mutate.main(["--module", "attnkit/nothing_here"]) == 2
    assert "--module attnkit/nothing_here: no such file or folder" in capsys.readouterr().err


def test_driver_drops_mutated_copies_left_empty_by_a_kill(tmp_path, monkeypatch):
    root, mutants = tmp_path, tmp_path / "mutants"
    (root / "attnkit").mkdir()
    (root / "attnkit" / "full.py").write_text("x = 1\n")
    (root / "attnkit" / "empty.py").write_text("")
    (mutants / "attnkit").mkdir(parents=True)
    for name in ("full.py", "empty.py"):
        (mutants / "attnkit" / name).write_text("")
    monkeypatch.setattr(mutate, "ROOT", root)
    monkeypatch.setattr(mutate, "MUTANTS", mutants)
    assert mutate.drop_truncated_copies() == [Path("attnkit/full.py")]
    assert sorted(p.name for p in (mutants / "attnkit").iterdir()) == ["empty.py"]


def test_driver_drops_copies_of_files_that_were_renamed_away(tmp_path, monkeypatch):
    root, mutants = tmp_path, tmp_path / "mutants"
    (root / "attnkit" / "training").mkdir(parents=True)
    (root / "attnkit" / "training" / "loop.py").write_text("x = 1\n")
    for rel in ("attnkit/training/loop.py", "attnkit/train/loop.py", "attnkit/train/loop.py.meta"):
        (mutants / rel).parent.mkdir(parents=True, exist_ok=True)
        (mutants / rel).write_text("x = 1\n")
    (mutants / "attnkit" / "train" / "__pycache__").mkdir()
    monkeypatch.setattr(mutate, "ROOT", root)
    monkeypatch.setattr(mutate, "MUTANTS", mutants)
    assert mutate.drop_orphans() == [Path("attnkit/train/loop.py")]
    assert sorted(p.relative_to(mutants).as_posix() for p in mutants.rglob("*")) == [
        "attnkit", "attnkit/training", "attnkit/training/loop.py"
    ]
