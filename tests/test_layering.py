"""Imports point one way: no package imports one to its right in ARCHITECTURE.md's layer order.

The order is read from the document itself (the first line of the code block under "Data flow
and layering"), so the test and the document cannot drift apart. ``config`` sits beside the
stack: every layer may import it, and it imports only the two registries it validates names
against.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG_MAY_IMPORT = {"attention.registry", "tasks.registry"}


def layer_ranks() -> dict[str, int]:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Data flow and layering", 1)[1]
    flow = re.search(r"```\n(.+?)\n", section).group(1)
    return {
        name.strip(): rank
        for rank, step in enumerate(flow.split("->"))
        for name in re.split(r"[,/]", step)
        if name.strip()
    }


def attnkit_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, "package.module")`` for each import of attnkit code in ``path``, lazy ones too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out += [(node.lineno, n.split(".", 1)[1]) for n in names if n.startswith("attnkit.")]
    return out


def violations(ranks: dict[str, int]) -> list[str]:
    bad = []
    for f in sorted((ROOT / "attnkit").rglob("*.py")):
        rel = f.relative_to(ROOT / "attnkit")
        pkg = rel.parts[0].removesuffix(".py")
        if pkg in ("__init__", "__main__"):  # the package front door re-exports the API
            continue
        for line, target in attnkit_imports(f):
            dest = target.split(".")[0]
            if dest == "config" or dest == pkg:
                continue
            if pkg == "config" and target in CONFIG_MAY_IMPORT:
                continue
            if pkg not in ranks or dest not in ranks:
                bad.append(f"{rel}:{line}: {pkg!r} or {dest!r} is not in ARCHITECTURE.md's layer order")
            elif ranks[dest] > ranks[pkg]:
                bad.append(f"{rel}:{line}: {pkg} imports {target}, a higher layer")
    return bad


def test_the_documented_order_names_every_package():
    ranks = layer_ranks()
    packages = {p.name for p in (ROOT / "attnkit").iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in (ROOT / "attnkit").glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert sorted((packages | modules) - set(ranks) - {"config"}) == []
    assert ranks["text"] < ranks["models"] < ranks["tasks"] < ranks["api"] < ranks["cli"]


def test_no_lower_layer_imports_a_higher_one():
    assert violations(layer_ranks()) == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The walk itself: a models file importing the CLI is reported with its line."""
    fake = tmp_path / "attnkit" / "models"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("import torch\n\ndef f():\n    from attnkit.cli.main import main\n")
    (tmp_path / "ARCHITECTURE.md").write_text((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations(layer_ranks()) == ["models/bad.py:4: models imports cli.main, a higher layer"]
