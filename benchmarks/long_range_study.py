"""The long-range study as a benchmark: run (or resume) it, then copy its tables into RESULTS.md.

    .venv/bin/python benchmarks/long_range_study.py                # about an hour on 2 cores
    .venv/bin/python benchmarks/long_range_study.py --no-cost      # keep the last cost.json

The study itself is ``attnkit study long-range --out docs/long-range``; its full report, with
plots, stays in ``docs/long-range/report.md``. Cells already in ``docs/long-range/results.jsonl``
are not retrained.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from results_md import update_section  # noqa: E402

OUT = ROOT / "docs" / "long-range"


def main() -> None:
    cmd = [sys.executable, "-m", "attnkit", "study", "long-range", "--out", str(OUT), *sys.argv[1:]]
    subprocess.run(cmd, cwd=ROOT, check=True)
    report = (OUT / "report.md").read_text(encoding="utf-8")
    body = report.split("\n", 1)[1].split("\n## Config", 1)[0].strip()  # drop the title and config
    body = body.replace("](accuracy.png)", "](../docs/long-range/accuracy.png)")
    body = body.replace("](cost.png)", "](../docs/long-range/cost.png)")
    body = "Full report: [docs/long-range/report.md](../docs/long-range/report.md)\n\n" + body
    update_section("long-range", "The long-range study", body.replace("\n## ", "\n### "))
    print(body)


if __name__ == "__main__":
    main()
