"""Text-classification quality: run the recipes, score them on their test (or dev) split, record.

    .venv/bin/python benchmarks/classify_quality.py                         # every recipe
    .venv/bin/python benchmarks/classify_quality.py classification/trec classification/trec-cnn

Each recipe trains under its own budget with ``attnkit train --config configs/<recipe>.yaml``;
its ``best/`` checkpoint (lowest validation loss) is scored on ``test`` where the set has
labelled test data (TREC, AG News) and on ``valid`` (the official dev set) otherwise (SST-2,
ChnSentiCorp). Results go to RESULTS.md; confusion matrices to ``benchmarks/confusion-*.png``.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from results_md import run_recipes, train_recipe, update_section  # noqa: E402

RECIPES = [
    "classification/trec",
    "classification/trec-cnn",
    "classification/trec-minilm",
    "classification/sst2-cnn",
    "classification/sst2",
    "classification/ag_news",
    "classification/chnsenticorp",
    "classification/sst2-minilm",
    "classification/sst2-minilm-lora",
]
TARGETS = {  # recipe: (target accuracy %, anchor)
    "classification/trec": (92.0, "Kim CNN-rand 91.2, CNN-non-static 93.6"),
    "classification/sst2": (84.0, "Kim CNN-rand 82.7"),
    "classification/sst2-minilm": (91.0, "MiniLM paper, L6 x H384: 91.5"),
    "classification/trec-minilm": (96.0, "BERT-base fine-tuned: about 97"),
    "classification/chnsenticorp": (90.0, "fine-tuned Chinese BERT 94.1"),
    "classification/ag_news": (92.5, "fastText bigrams 92.5, LSTM 86.06"),
}


def run(name: str) -> dict:
    import torch

    import attnkit
    from attnkit.training.plots import plot_confusion
    from attnkit.training.precision import resolve_precision

    out, train_rows, _ = train_recipe(name, "CLASSIFY_QUALITY_OVERRIDES")
    m = attnkit.load(out / "best")
    tc = m.cfg.train
    split = "test" if "test" in m.task.data else "valid"
    r = m.evaluate(split)
    plot_confusion(
        r["confusion"], r["labels"], HERE / f"confusion-{name.split('/')[1]}.png", title=f"{name} {split}"
    )
    return {
        "recipe": name,
        "arch": m.cfg.model.arch,
        "params": sum(p.numel() for p in m.model.parameters()),
        "trainable": sum(p.numel() for p in m.model.parameters() if p.requires_grad),
        "steps": train_rows[-1]["step"],
        "train_minutes": train_rows[-1]["elapsed_s"] / 60,
        "precision": resolve_precision(tc.precision, torch.device("cpu")),
        "select_by": tc.select_by,
        "best_step": m.manifest["step"],
        "split": split,
        "accuracy": 100 * r["accuracy"],
        "macro_f1": 100 * r["macro_f1"],
        "date": datetime.date.today().isoformat(),
        "examples": r["examples"],
    }


def markdown(results: list[dict]) -> str:
    import torch

    lines = [
        "Command: `python benchmarks/classify_quality.py` (each recipe: `attnkit train --config "
        "configs/<recipe>.yaml`, then `attnkit eval --ckpt runs/<recipe>/best --split <split>`)  ",
        f"Machine: 2-core AMD EPYC (AVX512-BF16), torch {torch.__version__}, seed 1337; each row's "
        "date and precision are its own. `best/` checkpoint: the evaluation with the lowest "
        "validation loss, or the highest validation accuracy where the recipe says "
        "`select_by: accuracy`; the scored split is used once, after training.",
        "",
        "| recipe | arch | params | trained | precision | steps | train min | selected by (step) | split "
        "| accuracy | macro-F1 | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        chosen = f"{r.get('select_by', 'loss')} ({r['best_step']})" if r.get("best_step") else "loss"
        lines.append(
            f"| {r['recipe']} | {r['arch']} | {r['params'] / 1e6:.2f}M | "
            f"{r.get('trainable', r['params']) / 1e6:.3g}M | {r.get('precision', 'fp32')} | {r['steps']} | "
            f"{r['train_minutes']:.1f} | {chosen} | {r['split']} ({r['examples']}) | {r['accuracy']:.2f} | "
            f"{r['macro_f1']:.2f} | {r.get('date', '2026-11-28')} |"
        )
    lines.append("")
    for r in results:
        if r["recipe"] in TARGETS:
            target, anchor = TARGETS[r["recipe"]]
            verdict = "meets" if r["accuracy"] >= target else "MISSES"
            lines.append(
                f"- {r['recipe']}: **{r['accuracy']:.2f}** ({verdict} the target ≥ {target}; {anchor})"
            )
    lines += [""] + [f"![{r['recipe']}](confusion-{r['recipe'].split('/')[1]}.png)" for r in results]
    return "\n".join(lines)


def main() -> None:
    results = run_recipes("classify_quality", sys.argv[1:] or RECIPES, RECIPES, run)
    update_section("classify-quality", "Text classification quality", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
