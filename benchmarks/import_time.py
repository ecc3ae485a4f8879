"""How long a command takes before it does anything: ``attnkit --help`` and ``import attnkit``,
against the bare interpreter, in fresh processes (round-robin, rotated order, medians).

    .venv/bin/python benchmarks/import_time.py [--rounds 9] [--ref COMMIT]

``--ref`` also times ``attnkit --help`` at another commit (checked out into a temporary git
worktree and run with the same interpreter), side by side in the same rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, check=True, capture_output=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin"}
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--ref", help="a commit to compare against")
    args = ap.parse_args()
    py = sys.executable
    cases = {
        "python -c pass": ([py, "-c", "pass"], ROOT),
        "import attnkit": ([py, "-c", "import attnkit"], ROOT),
        "attnkit --help": ([py, "-m", "attnkit", "--help"], ROOT),
        "import attnkit.api (torch, models)": ([py, "-c", "import attnkit.api"], ROOT),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.ref:
            ref = Path(tmp) / "ref"
            subprocess.run(["git", "worktree", "add", "--detach", str(ref), args.ref], cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
            cases[f"attnkit --help at {args.ref[:9]}"] = ([py, "-m", "attnkit", "--help"], ref)
        times: dict[str, list[float]] = {k: [] for k in cases}
        names = list(cases)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                cmd, cwd = cases[name]
                times[name].append(timed(cmd, cwd))
        if args.ref:
            subprocess.run(["git", "worktree", "remove", "--force", str(ref)], cwd=ROOT, check=True)
    print(f"| command | median s | min s | max s |  ({args.rounds} rounds, fresh processes)")
    print("|---|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} |")


if __name__ == "__main__":
    main()
