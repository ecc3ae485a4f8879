"""Zero- and few-shot accuracy against k with pretrained models (MiniLM prototypes, SmolLM2 in-context).

    python benchmarks/fewshot_quality.py                       # everything below (resumes)
    python benchmarks/fewshot_quality.py --methods minilm --datasets sst2

For k in 0, 1, 4, 16, 64 examples *per class*, drawn from the training split by
``sample_shots(seed)`` for seeds 0, 1, 2 (k = 0 has no shots, so one run):

- ``minilm``: nearest prototype; k = 0 uses the label descriptions below, k > 0 the mean
  embedding of the shots. Scored on the whole evaluation split.
- ``smollm2``: label-word scoring after an instruction and the k x classes shots in context.
  Scored on a fixed random subset (``--lm-examples``, seed 0) because it is ~100x slower; a
  prompt that does not fit the 8,192-token context is recorded as such, not run.

Evaluation splits: SST-2 dev (872), TREC test (500), ChnSentiCorp dev (1,200). Results go to
``benchmarks/results/fewshot_quality.json`` (one record per run, so a rerun resumes), a table in
RESULTS.md (mean ± standard deviation over seeds) and ``benchmarks/fewshot.png``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from results_md import update_section  # noqa: E402

from attnkit.fewshot import LabelSet  # noqa: E402

STORE = HERE / "results" / "fewshot_quality.json"
KS = (0, 1, 4, 16, 64)
SEEDS = (0, 1, 2)
DATASETS = {  # name: (eval split, label set)
    "sst2": ("valid", LabelSet.of(
        ["negative", "positive"], ["a terrible film", "a great film"])),
    "trec": ("test", LabelSet.of(
        ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"],
        ["a question asking for an abbreviation or what an acronym stands for",
         "a question asking for a description, a definition, a manner or a reason",
         "a question asking about a thing, an object, an animal or another entity",
         "a question asking about a person or a group of people",
         "a question asking about a place, a city or a country",
         "a question asking for a number, a date, a count or an amount"],
        ["abbreviation", "description", "entity", "person", "location", "number"])),
    "chnsenticorp": ("valid", LabelSet.of(
        ["negative", "positive"], ["a terrible hotel", "a great hotel"])),
}  # fmt: skip


def load_store() -> dict:
    return {r["key"]: r for r in json.loads(STORE.read_text())} if STORE.exists() else {}


def save_store(done: dict) -> None:
    STORE.parent.mkdir(exist_ok=True)
    STORE.write_text(json.dumps(list(done.values()), indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["minilm", "smollm2"])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--ks", nargs="+", type=int, default=list(KS))
    ap.add_argument("--lm-examples", type=int, default=200)
    args = ap.parse_args()

    import attnkit
    from attnkit.data.datasets import load_dataset
    from attnkit.fewshot import EmbeddingClassifier, LMClassifier, sample_shots

    done = load_store()
    models: dict = {}
    for name in args.datasets:
        split, labels = DATASETS[name]
        data = load_dataset(name)
        train, ev = data["train"], data[split]
        order = list(range(len(ev["text"])))
        random.Random(0).shuffle(order)
        for method in args.methods:
            idx = order if method == "minilm" else order[: args.lm_examples]
            texts, gold = [ev["text"][i] for i in idx], [ev["label"][i] for i in idx]
            if method not in models:
                models[method] = attnkit.load(method)
            lm = models[method]
            cached = {}
            for k in args.ks:
                for seed in SEEDS if k else (0,):
                    key = f"{name}/{method}/k{k}/s{seed}"
                    if key in done:
                        continue
                    t0 = time.perf_counter()
                    shots = (
                        sample_shots(train["text"], train["label"], k, seed, labels.names) if k else ([], [])
                    )
                    rec = {
                        "key": key,
                        "dataset": name,
                        "method": method,
                        "k": k,
                        "seed": seed,
                        "n": len(texts),
                    }
                    try:
                        if method == "minilm":
                            clf = EmbeddingClassifier(lm, labels).fit(*shots)
                            if "emb" not in cached:  # the evaluation texts embed once per dataset
                                cached["emb"] = lm.embed(texts)
                            pred = (cached["emb"] @ clf.prototypes.T).argmax(-1).tolist()
                        else:
                            clf = LMClassifier(lm, labels).fit(*shots)
                            pred = clf.predict_proba(texts).argmax(-1).tolist()
                        rec["accuracy"] = (
                            100
                            * sum(labels.names[p] == g for p, g in zip(pred, gold, strict=True))
                            / len(gold)
                        )
                    except ValueError as e:  # a prompt longer than the context
                        rec["skipped"] = str(e)
                    rec["seconds"] = round(time.perf_counter() - t0, 1)
                    done[key] = rec
                    save_store(done)
                    print(json.dumps(rec), flush=True)
    write_report(done)
    return 0


def summarise(done: dict) -> dict:
    table: dict = {}
    for r in done.values():
        cell = table.setdefault((r["dataset"], r["method"], r["k"]), {"acc": [], "n": r["n"], "skip": None})
        if "accuracy" in r:
            cell["acc"].append(r["accuracy"])
        else:
            cell["skip"] = r["skipped"]
    return table


def write_report(done: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarise(done)
    lines = [
        f"`python benchmarks/fewshot_quality.py` on {date.today()}: 2-core x86-64 CPU, fp32. k = examples "
        "per class from the training split, seeds 0, 1, 2 (k = 0: one run); mean ± standard deviation "
        "over seeds. minilm = nearest prototype (label description at k = 0, mean shot embedding "
        "after); smollm2 = label-word scoring with the shots in context, on a fixed random subset.",
        "",
        "| dataset (eval examples) | method | " + " | ".join(f"k={k}" for k in KS) + " |",
        "|---|---|" + "---:|" * len(KS),
    ]
    fig, axes = plt.subplots(1, len(DATASETS), figsize=(5 * len(DATASETS), 4), squeeze=False)
    for ax, name in zip(axes[0], DATASETS, strict=True):
        for method, colour in (("minilm", "tab:blue"), ("smollm2", "tab:orange")):
            cells = [table.get((name, method, k)) for k in KS]
            if not any(cells):
                continue
            n = next(c["n"] for c in cells if c)
            row = []
            xs, ys, es = [], [], []
            for k, c in zip(KS, cells, strict=True):
                if c is None:
                    row.append("–")
                elif c["acc"]:
                    m = statistics.mean(c["acc"])
                    s = statistics.stdev(c["acc"]) if len(c["acc"]) > 1 else 0.0
                    row.append(f"{m:.1f} ± {s:.1f}" if len(c["acc"]) > 1 else f"{m:.1f}")
                    xs.append(k)
                    ys.append(m)
                    es.append(s)
                else:
                    row.append("does not fit")
            lines.append(f"| {name} ({n}) | {method} | " + " | ".join(row) + " |")
            ax.errorbar(
                [max(x, 0.5) for x in xs], ys, yerr=es, marker="o", capsize=3, color=colour, label=method
            )
        chance = 100 / len(DATASETS[name][1].names)
        ax.axhline(chance, ls=":", color="grey", label="chance")
        ax.set_xscale("log")
        ax.set_xticks([0.5, 1, 4, 16, 64], ["0", "1", "4", "16", "64"])
        ax.set_xlabel("k (examples per class)")
        ax.set_ylabel("accuracy %")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "fewshot.png", dpi=110)
    lines += ["", "![accuracy against k](fewshot.png)"]
    update_section("fewshot", "Zero- and few-shot classification (pretrained models)", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
