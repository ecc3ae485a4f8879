"""Pretrained decoders on the pair tasks: test scores of the SmolLM2 recipes and their zero-shot rows.

    python benchmarks/prompted_quality.py RECIPE [RECIPE ...] [--zero-shot] [--trained] [--limit N]

For each recipe (``configs/summarization/samsum-smollm2-lora.yaml``, …):

- ``--zero-shot``: SmolLM2-Instruct with the recipe's prompt template and no training (the same
  test set, the same decoding);
- ``--trained``: the recipe's ``best/`` checkpoint (train it first with ``attnkit train``).

Scores go to ``benchmarks/results/prompted_quality.json`` (one entry per recipe and row, the
latest run kept) and the table in RESULTS.md is rebuilt from that file. The test split is
decoded once per row; ``--limit`` scores the first N examples only (and says so in the table).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from results_md import update_section  # noqa: E402

STORE = HERE / "results" / "prompted_quality.json"
KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum", "bleu1", "bleu2", "distinct1", "distinct2", "bleu",
        "chrf", "loss", "ppl", "ppl_word")  # fmt: skip


def zero_shot_model(recipe: str):
    """The pretrained model as a checkpoint of the recipe's task, template resolved, untrained."""
    import attnkit
    from attnkit.api import LoadedModel
    from attnkit.tasks.registry import get_task_kind

    cfg = attnkit.load_config(recipe)
    pre = attnkit.load(cfg.init_from)
    task = get_task_kind(cfg.task).task_class()(cfg, tokenizer=pre.tokenizer)
    cfg = dataclasses.replace(cfg, model=pre.cfg.model, data=task.data_config)
    lm = LoadedModel(pre.model, pre.tokenizer, cfg, Path(recipe), {})
    lm._task = task
    return lm


def score(lm, limit: int | None, hyp_file: Path, loss_batches: int | None = None) -> dict:
    """Test metrics; the outputs go to ``hyp_file``, one per line (line breaks as spaces)."""
    t0 = time.perf_counter()
    m = lm.evaluate("test", loss_batches, limit=limit)
    hyp_file.parent.mkdir(parents=True, exist_ok=True)
    hyp_file.write_text("".join(h.replace("\n", " ") + "\n" for h in m.pop("hypotheses")), encoding="utf-8")
    return {**{k: m[k] for k in KEYS if k in m}, "examples": m["examples"],
            "decode_min": round((time.perf_counter() - t0) / 60, 1)}  # fmt: skip


def table(store: dict) -> str:
    rows = ["| recipe | row | examples | ROUGE-1/2/L/Lsum or BLEU-1/2, distinct-1/2 | loss (ppl/word) | "
            "train min | date |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, r in sorted(store.items()):
        recipe, row = key.split("::")
        row = row.replace("@", " (first ") + (")" if "@" in row else "")
        if "rouge1" in r:
            main = f"{r['rouge1']:.2f} / {r['rouge2']:.2f} / {r['rougeL']:.2f} / {r['rougeLsum']:.2f}"
        elif "distinct2" in r:
            main = f"{r['bleu1']:.2f} / {r['bleu2']:.2f}, {r['distinct1']:.4f} / {r['distinct2']:.4f}"
        else:
            main = f"BLEU {r['bleu']:.2f}, chrF {r['chrf']:.2f}"
        ppl = f"{r['loss']:.3f} ({r['ppl_word']:.2f})" if "ppl_word" in r else f"{r.get('loss', 0):.3f}"
        rows.append(f"| {recipe} | {row} | {r['examples']} | {main} | {ppl} | {r.get('train_min', '–')} | "
                    f"{r['date']} |")  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="+")
    ap.add_argument("--zero-shot", action="store_true")
    ap.add_argument("--trained", action="store_true")
    ap.add_argument("--limit", type=int, help="decode and score the first N test examples only")
    ap.add_argument("--loss-batches", type=int, help="teacher-forced loss on the first N batches only")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import attnkit

    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    for recipe in args.recipes:
        name = Path(recipe).stem
        todo = [("zero-shot", None)] if args.zero_shot else []
        out_dir = Path(attnkit.load_config(recipe).out_dir)
        if args.trained:
            todo.append(("fine-tuned", out_dir / "best"))
        for row, ckpt in todo:
            lm = zero_shot_model(recipe) if ckpt is None else attnkit.load(ckpt)
            r = score(lm, args.limit, out_dir / f"test-{row}.hyp", args.loss_batches)
            r["date"] = date.today().isoformat()
            if ckpt is not None:
                metrics = [json.loads(line) for line in (ckpt.parent / "metrics.jsonl").open()]
                r["train_min"] = round(max(m.get("elapsed_s", 0) for m in metrics) / 60, 1)
                r["step"] = lm.manifest["step"]
            if args.limit:
                r["subset"] = f"first {args.limit}"
            print(name, row, json.dumps(r), flush=True)
            store[f"{name}::{row}" + (f"@{args.limit}" if args.limit else "")] = r
            STORE.parent.mkdir(exist_ok=True)
            STORE.write_text(json.dumps(store, indent=1) + "\n")
    body = (f"`python benchmarks/prompted_quality.py RECIPE --zero-shot --trained`; the project's 2-core "
            f"x86-64 CPU, torch {torch.__version__}. Test split, greedy decoding as each recipe says.\n\n"
            + table(store))  # fmt: skip
    update_section("prompted-quality", "Pretrained decoders on the pair tasks (SmolLM2)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
