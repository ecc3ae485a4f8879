"""Studies that turn the seed's claims into measurements.

``long_range_study`` trains attention, LSTM and CNN models of matched size on synthetic
long-range tasks, measures their cost against length, and writes a report with plots.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from attnkit.config.base import save_yaml
from attnkit.study.long_range import StudyConfig, run_study

log = logging.getLogger("attnkit")

QUICK = {
    "tasks": ["recall", "induction"],
    "lengths": [16, 32, 64],
    "models": ["transformer", "lstm", "cnn"],
    "steps": 600,
    "profile_lengths": [64, 256, 1024],
}
"""``--quick``: a smaller study for trying the pipeline (still over 30 minutes on a 2-core CPU)."""


def long_range_study(
    cfg: StudyConfig, out: str | Path, *, cost: bool = True, progress: Callable[[str], None] | None = print
) -> Path:
    """Train every cell, measure cost, write ``report.md``, ``accuracy.png``, ``cost.png``.

    Cells already in ``out/results.jsonl`` are kept (the study resumes). Returns the report path.
    """
    from attnkit.study.cost import profile
    from attnkit.study.report import markdown, plot_accuracy, plot_cost

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, out / "config.yaml")
    rows = run_study(cfg, out, progress)
    cost_rows: list[dict] = []
    if not cost and (out / "cost.json").exists():  # keep the last measurement in the report
        cost_rows = json.loads((out / "cost.json").read_text(encoding="utf-8"))
    if cost:
        # reference: the textbook O(T^2) cost; tiled: exact like sdpa, so it is measured for its
        # cost and left out of the default accuracy grid (it computes the same function).
        models = list(dict.fromkeys([*cfg.models, "transformer+tiled", "transformer+reference"]))
        t0 = time.perf_counter()
        cost_rows = profile(cfg, models, progress)
        log.info("cost measured in %.1f min", (time.perf_counter() - t0) / 60)
        (out / "cost.json").write_text(json.dumps(cost_rows, indent=1) + "\n", encoding="utf-8")
    if cost_rows:
        plot_cost(cost_rows, out / "cost.png")
    plot_accuracy(rows, out / "accuracy.png")
    minutes = sum(r["train_s"] for r in rows) / 60
    report = out / "report.md"
    report.write_text(markdown(cfg, rows, cost_rows, minutes), encoding="utf-8")
    return report


__all__ = ["QUICK", "StudyConfig", "long_range_study"]
