"""Translation, summarization and dialogue quality: run the recipes for real, score them, record.

    .venv/bin/python benchmarks/seq2seq_quality.py                      # every recipe
    .venv/bin/python benchmarks/seq2seq_quality.py translation/multi30k-de-en
    .venv/bin/python benchmarks/seq2seq_quality.py --eval-only translation/multi30k-de-en

Each recipe trains under its own budget (``train.max_minutes`` in its YAML) with
``attnkit train --config configs/<recipe>.yaml``; then its ``best/`` checkpoint decodes the
whole test split with the recipe's beam, and translation recipes also greedily (the anchors are
greedy). Scores, model size and minutes go to RESULTS.md; validation-loss curves to
seq2seq_quality.png. ``--eval-only`` scores an existing run directory without training.
"""

from __future__ import annotations

import datetime
import math
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from results_md import run_recipes, train_recipe, update_section  # noqa: E402

RECIPES = [
    "translation/multi30k-de-en",
    "translation/multi30k-de-en-rnn",
    "translation/multi30k-en-de",
    "translation/tatoeba-zh-en",
    "summarization/samsum",
    "summarization/scitldr",
    "dialogue/dailydialog",
    "dialogue/dailydialog-gru",
]
# recipe: (metric, target, anchor text)
TARGETS = {
    "translation/multi30k-de-en": (
        "bleu_lc_tok",
        42.0,
        "anchors: 9M Transformer 36.52, BiGRU+attention 28.30, both greedy",
    ),
    "translation/multi30k-en-de": ("bleu_lc_tok", 41.0, "anchor: 2.6M Transformer-tiny 41.02 with beam 5"),
    "summarization/samsum": ("rouge1/2/L", (37.0, 14.0, 34.0), "pointer-generator-level anchor, unverified"),
}


def run(name: str, *, train: bool) -> dict:
    import torch

    import attnkit
    from attnkit.training.precision import resolve_precision

    out, train_rows, evals = train_recipe(name, "SEQ2SEQ_QUALITY_OVERRIDES", train=train)  # env: smoke runs
    chosen = _selected(out)
    m = attnkit.load(out / chosen)
    cfg = m.cfg
    res = {
        "recipe": name,
        "checkpoint": chosen,
        "date": datetime.date.today().isoformat(),
        "precision": resolve_precision(cfg.train.precision, torch.device("cpu")),
        "arch": cfg.model.arch,
        "params": m.model.num_parameters(),
        "steps": train_rows[-1]["step"],
        "train_minutes": train_rows[-1]["elapsed_s"] / 60,
        "best_step": m.manifest["step"],
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in (train_rows[1:] or train_rows)),
        "curve": [(r["elapsed_s"] / 60, r["loss"]) for r in evals],
    }
    beams = [m.cfg.decode.beam_size] + (
        [1] if cfg.task == "translation" and m.cfg.decode.beam_size > 1 else []
    )
    for beam in beams:
        t0 = time.perf_counter()
        r = m.evaluate("test", beam_size=beam)
        hyps = r.pop("hypotheses")
        r["decode_seconds"] = time.perf_counter() - t0
        res[f"test_beam{beam}"] = r
        res.setdefault("samples", [(s, h) for s, h in zip(m.task.sources("test")[:3], hyps[:3], strict=True)])
        if cfg.task == "dialogue":  # perplexity per word too: comparable across tokenizers
            from attnkit.metrics.dialogue import tokens

            words = sum(len(tokens(ref)) + 1 for ref in m.task.texts["test"][1])  # + 1: end of turn
            r["ppl_word"] = math.exp(r["loss"] * r["tokens"] / words)
    return res


def _selected(out: Path) -> str:
    """``best`` or, with ``train.average_last``, ``averaged`` where its validation loss is lower
    (selection on the validation split only)."""
    import json

    def valid_loss(name: str) -> float:
        return json.loads((out / name / "manifest.json").read_text())["metrics"]["loss"]

    if (out / "averaged" / "manifest.json").is_file() and valid_loss("averaged") < valid_loss("best"):
        return "averaged"
    return "best"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for ax, kind in zip(axes, ("translation", "summarization", "dialogue"), strict=True):
        for r in results:
            if r["recipe"].startswith(kind) and r["curve"]:
                xs, ys = zip(*r["curve"], strict=True)
                label = f"{r['recipe'].split('/')[1]} ({r['arch']}, {r['params'] / 1e6:.1f}M)"
                ax.plot(xs, ys, "o-", ms=3, label=label)
        ax.set_title(kind)
        ax.set_xlabel("training minutes (2-core CPU)")
        ax.set_ylabel("valid loss (nats per target token, smoothed labels off)")
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _verdict(r: dict) -> str:
    if r["recipe"] not in TARGETS:
        return ""
    metric, target, anchor = TARGETS[r["recipe"]]
    best = r[f"test_beam{max(int(k[9:]) for k in r if k.startswith('test_beam'))}"]
    if metric == "rouge1/2/L":
        got = (best["rouge1"], best["rouge2"], best["rougeL"])
        ok = all(g >= t for g, t in zip(got, target, strict=True))
        shown = "/".join(f"{g:.2f}" for g in got)
        want = "/".join(f"{t:.0f}" for t in target)
    else:
        ok = best[metric] >= target
        shown, want = f"{best[metric]:.2f}", f"{target:.0f}"
    return f"- {r['recipe']}: **{shown}** ({'meets' if ok else 'MISSES'} the target ≥ {want}; {anchor})"


def markdown(results: list[dict]) -> str:
    import torch

    lines = [
        "Command: `python benchmarks/seq2seq_quality.py` "
        "(each recipe: `attnkit train --config configs/<recipe>.yaml`, then "
        "`attnkit eval --ckpt runs/<recipe>/best --split test`)  ",
        f"Machine: 2-core x86-64 CPU, `train.threads: 2`, torch {torch.__version__}, seed 1337; each "
        "row's date and precision are its own (rows before 2026-12-06: fp32). Scores are of the `best/` "
        "checkpoint (lowest validation loss), or of `averaged/` (`train.average_last`) where its "
        "validation loss is lower, on the full test split.",
        "",
        "| recipe | arch | params | precision | steps | train min | tgt tokens/s | checkpoint | beam "
        "| test scores | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for key in sorted((k for k in r if k.startswith("test_beam")), key=lambda k: -int(k[9:])):
            t = r[key]
            if "distinct1" in t:
                scores = (
                    f"ppl {t['ppl']:.2f}/token, {t['ppl_word']:.2f}/word · BLEU-1/2 {t['bleu1']:.2f} / "
                    f"{t['bleu2']:.2f} · distinct-1/2 {t['distinct1']:.4f} / {t['distinct2']:.4f} · "
                    f"length {t['avg_len']:.1f}"
                )
            elif "bleu" in t:
                scores = (
                    f"BLEU(lc,tok) {t['bleu_lc_tok']:.2f} · sacreBLEU {t['bleu']:.2f} · chrF {t['chrf']:.2f}"
                )
            else:
                scores = f"ROUGE-1/2/L {t['rouge1']:.2f} / {t['rouge2']:.2f} / {t['rougeL']:.2f}"
            lines.append(
                f"| {r['recipe']} | {r['arch']} | {r['params'] / 1e6:.2f}M | {r.get('precision', 'fp32')} | "
                f"{r['steps']} | {r['train_minutes']:.1f} | {r['tokens_per_s']:,.0f} | "
                f"{r.get('checkpoint', 'best')} | {key[9:]} | {scores} | {r.get('date', '2026-11-27')} |"
            )
    lines.append("")
    lines += [v for v in map(_verdict, results) if v]
    sigs = set()
    for r in results:
        for k, t in r.items():
            if k.startswith("test_beam"):
                sigs |= {
                    t[s]
                    for s in (
                        "bleu_signature",
                        "bleu_lc_tok_signature",
                        "chrf_signature",
                        "rouge_signature",
                        "bleu2_signature",
                    )
                    if s in t
                }
    lines += ["", "Signatures: " + "; ".join(f"`{s}`" for s in sorted(sigs))]
    for r in results:
        beam = max(int(k[9:]) for k in r if k.startswith("test_beam"))
        lines += ["", f"`{r['recipe']}`, first test examples (beam {beam}):", ""]
        for src, hyp in r.get("samples", []):
            lines.append(f"- {src[:160].replace(chr(10), ' / ')!s} → **{hyp[:160]}**")
    lines += ["", "![validation loss against minutes](seq2seq_quality.png)"]
    return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    train = "--eval-only" not in args
    names = [a for a in args if not a.startswith("--")] or RECIPES
    results = run_recipes("seq2seq_quality", names, RECIPES, lambda n: run(n, train=train))
    plot(results, HERE / "seq2seq_quality.png")
    update_section("seq2seq-quality", "Translation, summarization and dialogue quality", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
