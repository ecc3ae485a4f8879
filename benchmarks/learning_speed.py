"""Learning per CPU minute: each training lever's tokens/s and its validation loss, on the recipes.

    .venv/bin/python benchmarks/learning_speed.py                  # every recipe below
    .venv/bin/python benchmarks/learning_speed.py lm/shakespeare-char --steps 60

For each recipe, one task is built and several variants of its model train side by side in one
process, from the same initial weights and the same batches:

- ``torch-dropout fp32``: the recipe in fp32 with ``torch.nn.functional.dropout`` (before);
- ``attnkit-dropout fp32``: the same with attnkit's CPU dropout (attnkit/layers/dropout.py);
- ``attnkit-dropout bf16``: and bf16 autocast (``train.precision: bf16``);
- ``... init=<other>``: the bf16 variant with the other weight init (``gpt2`` <-> ``fan_in``).

Recipes without dropout train with ``model.dropout=0.1`` here so the dropout lever is measured.
The variants take turns in rounds of a few steps (the order rotates each round); tokens/s is
the median over rounds of each variant's rate, and the speed-up the median of the per-round
ratios to the first variant. After the last round each variant is scored on the same
validation batches: the loss difference between variants at equal steps is what the lever
costs or gains in learning. Results go to results/learning_speed.json and RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from results_md import update_section  # noqa: E402

from attnkit import api  # noqa: E402
from attnkit.config import apply_overrides  # noqa: E402
from attnkit.layers import dropout as dropout_mod  # noqa: E402
from attnkit.models.factory import build_model  # noqa: E402
from attnkit.tasks.registry import get_task_kind  # noqa: E402
from attnkit.training.optim import lr_at, set_lr  # noqa: E402
from attnkit.training.trainer import Trainer  # noqa: E402

RECIPES = {  # recipe: (steps, overrides every variant gets)
    "lm/shakespeare-char": (72, ["model.dropout=0.1"]),
    "lm/shakespeare-char-lstm": (72, ["model.dropout=0.1"]),
    "classification/sst2": (180, []),
    "classification/sst2-cnn": (180, []),
    "translation/multi30k-en-de": (36, []),
}
ROUND = 6
"""Steps per variant per round."""


@contextlib.contextmanager
def torch_dropout():
    """attnkit's Dropout modules call F.dropout instead (the 'before' of the dropout lever)."""
    real = dropout_mod.dropout
    dropout_mod.dropout = lambda x, p, training=True: F.dropout(x, p, training)
    try:
        yield
    finally:
        dropout_mod.dropout = real


def variants(cfg) -> list[tuple[str, object, bool]]:
    """(name, config, use torch dropout) for the recipe's config."""
    other = "fan_in" if cfg.model.init == "gpt2" else "gpt2"
    fp32 = apply_overrides(cfg, ["train.precision=fp32"])
    bf16 = apply_overrides(cfg, ["train.precision=bf16"])
    return [
        ("torch-dropout fp32", fp32, True),
        ("attnkit-dropout fp32", fp32, False),
        ("attnkit-dropout bf16", bf16, False),
        (f"attnkit-dropout bf16 init={other}", apply_overrides(bf16, [f"model.init={other}"]), False),
    ]


def trainer_for(cfg, task, out: Path) -> Trainer:
    cfg = dataclasses.replace(cfg, out_dir=str(out), model=task.model_config(cfg.model))
    torch.manual_seed(cfg.train.seed)
    return Trainer(cfg, task, build_model(cfg.model, task.family))


def bench(recipe: str, steps: int, extra: list[str]) -> dict:
    base = api.load_config(ROOT / "configs" / f"{recipe}.yaml", [*extra, "train.progress=false"])
    torch.set_num_threads(base.train.threads or 2)
    task = get_task_kind(base.task).task_class()(base)
    tmp = Path(tempfile.mkdtemp(prefix="learning-speed-"))
    runs = [(name, trainer_for(cfg, task, tmp / str(i)), torch_drop)
            for i, (name, cfg, torch_drop) in enumerate(variants(base))]  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    losses: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for r in range(steps // ROUND):
        order = runs[r % len(runs) :] + runs[: r % len(runs)]
        for name, tr, torch_drop in order:
            with torch_dropout() if torch_drop else contextlib.nullcontext():
                t0, ntok = time.perf_counter(), 0
                for _ in range(ROUND):
                    set_lr(tr.optimizer, lr_at(tr.step, tr.tc))
                    loss, n = tr.train_step(tr.model)
                    tr.step += 1
                    ntok += n
                    losses[name].append(float(loss))
                rates[name].append(ntok / (time.perf_counter() - t0))
        print(f"{recipe} round {r + 1}/{steps // ROUND}: "
              + ", ".join(f"{n} {rates[n][-1]:,.0f} tok/s" for n in rates), flush=True)  # fmt: skip
    first = runs[0][0]
    rows = []
    for name, tr, _ in runs:
        valid = tr.task.evaluate(tr.model, "valid", tr.tc.batch_size, 20)
        ratios = [a / b for a, b in zip(rates[name], rates[first], strict=True)]
        rows.append({
            "variant": name, "tok_s": statistics.median(rates[name]), "speedup": statistics.median(ratios),
            "speedup_min": min(ratios), "speedup_max": max(ratios), "steps": tr.step,
            "train_loss_last": statistics.mean(losses[name][-ROUND * 2:]), "valid_loss": valid["loss"],
            **({"valid_accuracy": valid["accuracy"]} if "accuracy" in valid else {}),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return {"recipe": recipe, "overrides": extra, "params": runs[0][1].model.num_parameters(), "rows": rows}


def table(results: list[dict]) -> str:
    lines = [
        "| recipe | variant | tok/s | speed-up (min–max) | steps | valid loss | Δ vs first | valid acc |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        ref = res["rows"][0]["valid_loss"]
        for row in res["rows"]:
            acc = f"{100 * row['valid_accuracy']:.2f}" if "valid_accuracy" in row else "–"
            lines.append(
                f"| {res['recipe']} | {row['variant']} | {row['tok_s']:,.0f} | {row['speedup']:.2f}× "
                f"({row['speedup_min']:.2f}–{row['speedup_max']:.2f}) | {row['steps']} | "
                f"{row['valid_loss']:.4f} | {row['valid_loss'] - ref:+.4f} | {acc} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="*", default=list(RECIPES))
    ap.add_argument("--steps", type=int, default=None, help="steps per variant (default: per recipe)")
    args = ap.parse_args()
    store = HERE / "results" / "learning_speed.json"
    kept = {r["recipe"]: r for r in json.loads(store.read_text())} if store.exists() else {}
    for recipe in args.recipes:
        steps, extra = RECIPES.get(recipe, (90, []))
        kept[recipe] = bench(recipe, args.steps or steps, extra)
        store.parent.mkdir(exist_ok=True)
        store.write_text(json.dumps(list(kept.values()), indent=2) + "\n")
    results = [kept[r] for r in RECIPES if r in kept] + [v for k, v in kept.items() if k not in RECIPES]
    body = (
        f"Command: `python benchmarks/learning_speed.py`  \n"
        f"Machine: 2-core AMD EPYC (AVX512-BF16, no AMX), 2 threads unless the recipe says 1, "
        f"torch {torch.__version__}, {datetime.date.today()}, seed 1337. Variants interleaved in "
        f"rounds of {ROUND} steps from the same initial weights and batches; tokens/s is the median "
        "over rounds, the speed-up the median per-round ratio to the first row of its recipe; "
        "valid loss on the same 20 validation batches after equal steps.\n\n" + table(results)
    )
    update_section("learning-speed", "Learning per CPU minute (CPU)", body)


if __name__ == "__main__":
    main()
