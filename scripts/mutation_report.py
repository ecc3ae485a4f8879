"""Summarise a mutmut run: the mutation score per file and per module, and the survivors.

mutmut keeps each source file's results in ``mutants/<path>.meta`` (JSON: mutant name -> the
exit code of its tests). This reads them, so it works on a finished, a partial or a resumed
run alike, and prints a Markdown table for docs/testing.md.

Score = killed / (killed + survived). Timeouts are listed apart (a timeout is a kill only when
the mutant really hangs; docs/testing.md says how to check), and mutants named in
``EQUIVALENT`` (behaviour cannot change; the reason is in docs/testing.md) are excluded.

    python scripts/mutation_report.py [--module attnkit/decode] [--survivors] [--by-module]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

# mutmut 3's exit-code convention (mutmut.stats.status_by_exit_code), restated so the report
# runs without mutmut installed.
KILLED = {1, 3, 37}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}
NO_TESTS = {5, 33}

# Mutants whose change cannot alter behaviour; each is explained in docs/testing.md.
EQUIVALENT_FILE = Path(__file__).resolve().parent.parent / "docs" / "mutation-equivalent.txt"


def equivalent_names() -> set[str]:
    if not EQUIVALENT_FILE.exists():
        return set()
    lines = EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines()
    return {ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()}


def classify(code: int | None) -> str:
    if code is None:
        return "not_checked"
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in TIMEOUT:
        return "timeout"
    if code in NO_TESTS:
        return "no_tests"
    return "other"


def collect(root: Path, module: str | None) -> dict[str, dict[str, list[str]]]:
    """``{source file: {status: [mutant names]}}`` for every ``.meta`` under ``root``."""
    equivalent = equivalent_names()
    out: dict[str, dict[str, list[str]]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        src = str(meta.relative_to(root))[: -len(".meta")]
        if module and not src.startswith(module.rstrip("/")):
            continue
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if not codes:
            continue
        by: dict[str, list[str]] = collections.defaultdict(list)
        for name, code in codes.items():
            status = classify(code)
            # Only a survivor can be equivalent; a listed mutant that a test kills counts as killed.
            by["equivalent" if status == "survived" and name in equivalent else status].append(name)
        out[src] = by
    return out


def score(by: dict[str, list[str]]) -> float | None:
    k, s = len(by.get("killed", [])), len(by.get("survived", []))
    return 100.0 * k / (k + s) if k + s else None


COLUMNS = ("killed", "survived", "timeout", "no_tests", "equivalent", "not_checked")


def by_module(results: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """Files grouped by package (``attnkit/decode``); ``attnkit/train`` files stay apart, since
    only three of its files are in the core."""
    out: dict[str, dict[str, list[str]]] = {}
    for src, by in results.items():
        key = src if src.startswith("attnkit/training/") else src.rsplit("/", 1)[0]
        group = out.setdefault(key, collections.defaultdict(list))
        for k, v in by.items():
            group[k].extend(v)
    return out


def table(results: dict[str, dict[str, list[str]]], what: str = "file") -> str:
    rows = [f"| {what} | score | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    total: dict[str, list[str]] = collections.defaultdict(list)
    for src, by in results.items():
        for k, v in by.items():
            total[k].extend(v)
        sc = score(by)
        cells = " | ".join(str(len(by.get(c, []))) for c in COLUMNS)
        rows.append(f"| {src} | {'-' if sc is None else f'{sc:.1f}%'} | {cells} |")
    sc = score(total)
    cells = " | ".join(str(len(total.get(c, []))) for c in COLUMNS)
    rows.append(f"| **all** | {'-' if sc is None else f'{sc:.1f}%'} | {cells} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("mutants"), help="mutmut's work folder")
    ap.add_argument("--module", help="only files under this path, e.g. attnkit/decode")
    ap.add_argument("--survivors", action="store_true", help="also list surviving and timed-out mutants")
    ap.add_argument("--by-module", action="store_true", help="one row per package instead of per file")
    args = ap.parse_args(argv)
    if not args.root.is_dir():
        print(f"no mutation results in {args.root}/: run `make mutate MODULE=...` first", file=sys.stderr)
        return 2
    results = collect(args.root, args.module)
    if not results:
        print(f"no mutants recorded under {args.root}/ for {args.module or 'any module'}", file=sys.stderr)
        return 2
    print(table(by_module(results), "module") if args.by_module else table(results))
    if args.survivors:
        for by in results.values():
            for status in ("survived", "timeout"):
                for name in by.get(status, []):
                    print(f"{status}: {name}   (mutmut show {name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
