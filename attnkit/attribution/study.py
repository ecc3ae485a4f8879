"""``attnkit study faithfulness``: every method's deletion/insertion curves on a checkpoint's
test inputs, a random-order baseline, a table and a plot (``report.md``, ``curves.png``,
``results.json``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.attribution import METHODS, TITLES, attribute
from attnkit.attribution.faithfulness import FRACTIONS, Curves, curves, random_scores
from attnkit.attribution.target import build_target


def study_inputs(lm: Any, n: int, *, prompt_chars: int = 48) -> list[str]:
    """The first ``n`` test inputs of the checkpoint's task: texts to classify or translate, or
    for a language model ``prompt_chars``-character pieces of its test text."""
    family = lm.kind.family
    task = lm.task
    if family == "classifier":
        split = "test" if "test" in task.tables else "valid"
        return list(task.tables[split]["text"][:n])
    if family == "seq2seq":
        split = "test" if "test" in task.texts else "valid"
        return list(task.texts[split][0][:n])
    if family == "decoder" and hasattr(task, "splits"):
        text = task.splits.get("test") or task.splits["valid"]
        step = max(prompt_chars, len(text) // max(n, 1))
        return [
            text[i : i + prompt_chars] for i in range(0, step * n, step) if text[i : i + prompt_chars].strip()
        ][:n]
    raise ValueError(
        "the faithfulness study runs on classifiers, translation/summarization models and LMs, "
        f"not {lm.cfg.task!r}"
    )


def run_study(
    lm: Any,
    out: str | Path,
    *,
    methods: Sequence[str] = METHODS,
    n: int = 200,
    random_orders: int = 3,
    steps: int = 32,
    max_new_tokens: int = 8,
    progress: Callable[[str], None] = print,
) -> Path:
    """Run the study on ``n`` inputs; returns the report's path."""
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown attribution method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    if random_orders < 1:
        raise ValueError(f"--random-orders must be at least 1, got {random_orders}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = study_inputs(lm, n)
    results = {m: Curves() for m in methods}
    randoms = [Curves() for _ in range(random_orders)]
    gaps: list[float] = []
    t0 = time.perf_counter()
    for i, text in enumerate(texts):
        target = build_target(lm, text, max_new_tokens=max_new_tokens)
        for m in methods:
            with torch.enable_grad():
                scores, info = attribute(target, m, steps=steps)
            if "completeness_gap" in info:
                gaps.append(info["completeness_gap"])
            results[m].add(*curves(target, scores))
        shape = (len(target.output_ids), target.n_inputs)
        for seed, c in enumerate(randoms):
            c.add(*curves(target, random_scores(shape, seed * 100_003 + i)))
        done = i + 1
        eta = (time.perf_counter() - t0) / done * (len(texts) - done)
        progress(f"faithfulness: {done}/{len(texts)} inputs, ETA {eta / 60:.1f} min")
    summary = _summary(lm, results, randoms, gaps, len(texts), time.perf_counter() - t0)
    (out / "results.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    _plot(summary, out / "curves.png")
    (out / "report.md").write_text(report_markdown(summary))
    return out / "report.md"


def _summary(lm, results, randoms, gaps, n, seconds) -> dict:
    rand_aopc = [c.aopc() for c in randoms]
    rand_ins = [c.insertion_auc() for c in randoms]
    methods = {}
    for m, c in results.items():
        d, ins = c.mean()
        methods[m] = {
            "aopc": c.aopc(),
            "insertion_auc": c.insertion_auc(),
            "deletion": d,
            "insertion": ins,
            "rows": c.rows,
        }
    d0, i0 = randoms[0].mean()
    return {
        "checkpoint": str(lm.path), "task": lm.cfg.task, "inputs": n, "minutes": seconds / 60,
        "fractions": FRACTIONS, "methods": methods,
        "random": {"aopc": rand_aopc, "insertion_auc": rand_ins, "deletion": d0, "insertion": i0},
        "ig_completeness_gap": {"median": float(torch.tensor(gaps).median()) if gaps else None,
                                "max": max(gaps) if gaps else None,
                                "under_5_percent": sum(g < 0.05 for g in gaps) / len(gaps) if gaps else None},
    }  # fmt: skip


def report_markdown(s: dict) -> str:
    r = s["random"]
    lo, hi = min(r["aopc"]), max(r["aopc"])
    lines = [
        f"# Faithfulness: {s['task']} ({s['checkpoint']})",
        "",
        f"{s['inputs']} test inputs, each explained output row scored ({s['minutes']:.1f} min). "
        "Deletion AOPC: mean "
        "drop of the probability of the model's own prediction as the top-ranked 0–100% of input tokens are "
        "replaced by the zero embedding (higher = more faithful). Insertion AUC: mean probability as only "
        "the top-ranked tokens are kept (higher = more faithful). Ranked by AOPC.",
        "",
        "| method | deletion AOPC | vs random | insertion AUC | rows |",
        "|---|---:|---:|---:|---:|",
    ]
    rand_mean = sum(r["aopc"]) / len(r["aopc"])
    for m, v in sorted(s["methods"].items(), key=lambda kv: -kv[1]["aopc"]):
        lines.append(
            f"| {TITLES[m]} | {v['aopc']:.4f} | {v['aopc'] - rand_mean:+.4f} | "
            f"{v['insertion_auc']:.4f} | {v['rows']} |"
        )
    ins = r["insertion_auc"]
    lines.append(f"| random order ({len(r['aopc'])} seeds) | {rand_mean:.4f} (range {lo:.4f}–{hi:.4f}) | – | "
                 f"{sum(ins) / len(ins):.4f} (range {min(ins):.4f}–{max(ins):.4f}) | |")  # fmt: skip
    gap = s["ig_completeness_gap"]
    if gap["median"] is not None:
        lines += [
            "",
            "Integrated gradients' completeness gap (|Σ attributions − Δf| / |Δf|, summed over rows): "
            f"median {100 * gap['median']:.2f}%, max {100 * gap['max']:.2f}% over the inputs; under 5% for "
            f"{100 * gap['under_5_percent']:.0f}% of them. The gap is relative to the change of the output "
            "from the baseline, so it is large where that change is near zero.",
        ]
    lines += ["", "![deletion and insertion curves](curves.png)", ""]
    return "\n".join(lines)


def _plot(s: dict, path: Path) -> None:
    from attnkit.viz.png import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = [100 * f for f in s["fractions"]]
    for key, ax, title in (("deletion", axes[0], "deletion (lower is more faithful)"),
                           ("insertion", axes[1], "insertion (higher is more faithful)")):  # fmt: skip
        for m, v in s["methods"].items():
            ax.plot(x, v[key], marker=".", label=TITLES[m])
        ax.plot(x, s["random"][key], "k--", label="random order")
        ax.set_xlabel("% of input tokens, most important first")
        ax.set_ylabel("p(prediction)")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"faithfulness: {s['task']}")
    save_figure(fig, path)
