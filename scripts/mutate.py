"""Run mutmut over one core module, resumably, then print its score table (`make mutate`).

    python scripts/mutate.py [--module attnkit/decode] [--retest] [--workers 2]

mutmut mutates a copy of the tree under ``mutants/`` (the working tree is never touched) and
keeps every mutant's result in ``mutants/<file>.meta``. Two of its habits need a driver:

- A kill while mutmut writes its mutated copies can leave one empty; such copies are deleted
  so that mutmut writes them again.
- Given mutant names (or a glob), ``mutmut run`` re-runs all of them, even those already
  checked; given none, it resumes, but over every module. So this script passes the names of
  the module's mutants that have no result yet: an interrupted run (Ctrl-C, a kill) goes on
  where it stopped. ``--retest`` adds the survivors and timeouts, to re-check them after new
  tests were written.
- mutmut maps tests to functions once (its "stats" run of the selected suites) and keeps the map
  when the source changes, so a new or renamed function would be reported as having no tests,
  and its incremental update for new tests was seen to miss some. The map is rebuilt whenever a
  file under ``attnkit/`` or ``tests/`` changed since it was built.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
STATS = MUTANTS / "mutmut-stats.json"
SOURCES_AT_STATS = MUTANTS / "attnkit-sources.sha256"  # what the test-to-function map was built on
MUTMUT_PIN = "mutmut==3.8.1"
sys.path.insert(0, str(ROOT / "scripts"))
from mutation_report import NO_TESTS, SURVIVED, TIMEOUT, equivalent_names  # noqa: E402


def mutmut_bin() -> Path:
    exe = Path(sys.executable).parent / "mutmut"
    if not exe.exists():
        print(f"installing {MUTMUT_PIN} (the mutation tester) into {sys.prefix}", flush=True)
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", MUTMUT_PIN])
        if pip.returncode != 0 or not exe.exists():
            sys.exit(f"make mutate needs mutmut: {sys.executable} -m pip install {MUTMUT_PIN}")
    return exe


def module_prefix(module: str | None) -> str:
    """``attnkit/decode`` or ``attnkit/training/optim.py`` -> the mutant-name prefix ``attnkit.decode.``."""
    if not module:
        return ""
    path = module.strip("/").removesuffix(".py")
    return path.replace("/", ".") + "."


def sources_digest() -> str:
    """sha256 over the package and the tests: when either changes, the map is rebuilt (one run of
    the unit suites, about half a minute); mutmut's own incremental update missed new tests."""
    h = hashlib.sha256()
    for p in sorted([*(ROOT / "attnkit").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def drop_stale_stats(digest: str) -> None:
    """Forget mutmut's test-to-function map when the sources changed since it was built."""
    if STATS.exists() and (not SOURCES_AT_STATS.exists() or SOURCES_AT_STATS.read_text() != digest):
        print("the sources or tests changed since mutmut mapped tests to functions: mapping again",
              flush=True)
        STATS.unlink()


def drop_truncated_copies() -> list[Path]:
    """Delete mutated copies that a kill during mutant generation left empty (their source is
    not), so that mutmut writes them again instead of importing an empty module."""
    dropped = []
    for copy in (MUTANTS / "attnkit").rglob("*.py") if MUTANTS.exists() else ():
        source = ROOT / copy.relative_to(MUTANTS)
        if copy.stat().st_size == 0 and source.exists() and source.stat().st_size > 0:
            copy.unlink()
            dropped.append(source.relative_to(ROOT))
    return dropped


def drop_orphans() -> list[Path]:
    """Delete copies under ``mutants/`` of package and test files that no longer exist (renamed or
    removed): mutmut copies the tree but never deletes, so a renamed package would live on there,
    beside its new name, and the suite run in the copy would see both."""
    dropped = []
    for top in ("attnkit", "tests"):
        for copy in sorted((MUTANTS / top).rglob("*.py")) if (MUTANTS / top).exists() else ():
            if not (ROOT / copy.relative_to(MUTANTS)).exists():
                copy.unlink()
                copy.with_name(copy.name + ".meta").unlink(missing_ok=True)
                dropped.append(copy.relative_to(MUTANTS))
        for d in sorted((MUTANTS / top).rglob("*"), reverse=True) if (MUTANTS / top).exists() else ():
            if d.is_dir() and not (ROOT / d.relative_to(MUTANTS)).exists():
                shutil.rmtree(d)  # what is left there: caches of the removed modules
    return dropped


def pending(prefix: str, retest: bool) -> tuple[list[str], int]:
    """Mutant names under ``prefix`` still to run, and how many the module has in all."""
    # "no tests" is re-run too: after a new map it may have tests (and costs nothing if not).
    want = {None} | NO_TESTS | ((SURVIVED | TIMEOUT) if retest else set())
    skip = equivalent_names() if retest else set()  # known equivalents would only survive again
    names, total = [], 0
    for meta in MUTANTS.rglob("*.py.meta"):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        for name, code in codes.items():
            if name.startswith(prefix):
                total += 1
                if code in want and not (code in SURVIVED and name in skip):
                    names.append(name)
    return names, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", help="a core package or file, e.g. attnkit/decode (default: all)")
    ap.add_argument("--retest", action="store_true", help="also re-run survivors and timeouts")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.module and not (ROOT / args.module).exists():
        print(f"--module {args.module}: no such file or folder under {ROOT}", file=sys.stderr)
        return 2
    exe = mutmut_bin()
    os.chdir(ROOT)
    digest = sources_digest()
    drop_stale_stats(digest)
    for path in drop_truncated_copies():
        print(f"{path}: its mutated copy was cut short by an interrupted run; generating it again")
    for path in drop_orphans():
        print(f"{path}: removed from mutants/ (no longer in the tree)")
    prefix = module_prefix(args.module)
    names, total = pending(prefix, args.retest) if MUTANTS.exists() else ([], 0)
    if total == 0:
        names = [prefix + "*"]  # first run: generate and run everything in the module
    elif not names:
        print(f"all {total} mutants of {args.module or 'the core'} have results; --retest re-runs "
              "the survivors and timeouts")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two workers on two cores, one thread each
    if names:
        print(f"running {len(names) if total else 'all'} mutants of {args.module or 'the core'}", flush=True)
        # Stale stats were dropped above, so the map mutmut uses or builds now is of these sources.
        MUTANTS.mkdir(exist_ok=True)
        SOURCES_AT_STATS.write_text(digest)
        run = subprocess.run([str(exe), "run", "--max-children", str(args.workers), *names], env=env)
        if run.returncode not in (0, 1):  # mutmut exits 1 when mutants survive
            return run.returncode
    report = [sys.executable, str(ROOT / "scripts" / "mutation_report.py"), "--survivors"]
    if args.module:
        report += ["--module", args.module.removesuffix(".py")]
    return subprocess.run(report).returncode


if __name__ == "__main__":
    raise SystemExit(main())
