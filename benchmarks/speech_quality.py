"""Speech to text on FSDD: the Transformer recipes beside the non-attention baseline, recorded.

    .venv/bin/python benchmarks/speech_quality.py                       # every recipe
    .venv/bin/python benchmarks/speech_quality.py speech/fsdd-spell     # one

Each recipe trains with ``attnkit train --config configs/<recipe>.yaml`` under its own budget;
its ``best/`` checkpoint (chosen by the recipe's ``train.select_by``) is decoded on ``test`` and scored:
whole-output accuracy, WER and CER. The digit-string recipe's test set is 500 fixed joined
strings of test-split recordings (synthetic concatenation with 50-300 ms silences, not
continuous speech). Its baselines apply a single-word model to the pieces of each string:
``speech/fsdd-digits-logreg-vad`` cuts where an energy detector finds pauses
(``attnkit transcribe --split-on-silence``), ``speech/fsdd-digits-logreg-oracle`` at the true
boundaries, which a real system would not know (an upper bound for that baseline), and
``speech/fsdd-spell-vad`` runs the one-word Transformer on the detector's pieces. These three
need the single-word recipes' runs and train nothing.

Writes RESULTS.md (section ``speech-quality``), ``benchmarks/speech_quality.png`` and the
alignment figures ``docs/images/speech-alignment-*.png``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from results_md import run_recipes, train_recipe, update_section  # noqa: E402

RECIPES = [
    "speech/fsdd-spell",
    "speech/fsdd-spell-logreg",
    "speech/fsdd-spell-theo",
    "speech/fsdd-spell-theo-logreg",
    "speech/fsdd-digits",
    "speech/fsdd-digits-logreg-oracle",
    "speech/fsdd-digits-logreg-vad",
    "speech/fsdd-spell-vad",
    "speech/fsdd-spell-noisy-logreg",
    "speech/fsdd-spell-noisy",
    "speech/fsdd-digits-noisy",
    "speech/fsdd-digits-noisy-logreg-vad",
    "speech/fsdd-spell-noisy-vad",
]
TARGETS = {  # recipe: (metric, target, anchor)
    "speech/fsdd-spell": (
        "accuracy",
        98.0,
        "reference numbers for this machine: a prototype 97.3 in 150 s, logreg 93.3",
    ),
    "speech/fsdd-spell-theo": ("accuracy", 80.0, "reference: prototype 69, logreg 65.4"),
}
FIGURES = {  # recipe: (test recording or string index, figure name)
    "speech/fsdd-spell": ("7_jackson_0.wav", "speech-alignment-seven.png"),
    "speech/fsdd-digits": (0, "speech-alignment-digits.png"),
    "speech/fsdd-digits-noisy": (0, "speech-alignment-digits-noisy.png"),
}


def _figure(m, name: str) -> None:
    from attnkit.viz.speech import inspect_speech, spectrogram_alignment_png

    which, fname = FIGURES[name]
    if isinstance(which, str):  # a test recording by file name
        view = inspect_speech(m, Path(os.environ["ATTNKIT_DATA"]) / "fsdd" / "recordings" / which)
    else:  # a fixed test string by index
        view = inspect_speech(m, m.task.example_wave("test", which), name=f"test string {which}")
    spectrogram_alignment_png(view, ROOT / "docs" / "images" / fname)


def _split_label(cfg) -> str:
    d = cfg.data
    return (
        (f"{d.holdout_speaker} held out" if d.holdout_speaker else "official test")
        + (" strings" if d.max_words > 1 else "")
        + (f", noise {d.noise_snr_db:g} dB SNR" if d.noise_snr_db is not None else "")
    )


def run(name: str) -> dict:
    import attnkit

    if name in WORD_MODELS_ON_STRINGS:
        return _word_model_on_strings(name)
    out, train_rows, _ = train_recipe(name, "SPEECH_QUALITY_OVERRIDES")
    m = attnkit.load(out / "best")
    r = m.evaluate("test")
    if name in FIGURES:
        _figure(m, name)
    return {
        "recipe": name,
        "arch": m.cfg.model.arch,
        "params": sum(p.numel() for p in m.model.parameters()),
        "steps": train_rows[-1]["step"],
        "train_minutes": train_rows[-1]["elapsed_s"] / 60,
        "seed": m.cfg.train.seed,
        "split": _split_label(m.cfg),
        "examples": r["examples"],
        "accuracy": 100 * r["accuracy"],
        "wer": 100 * r["wer"],
        "cer": 100 * r["cer"],
    }


WORD_MODELS_ON_STRINGS = {  # recipe: (single-word recipe, strings recipe, how they are cut, arch label)
    "speech/fsdd-digits-logreg-oracle": (
        "speech/fsdd-spell-logreg", "speech/fsdd-digits", "oracle", "logreg (oracle cuts)"),
    "speech/fsdd-digits-logreg-vad": (
        "speech/fsdd-spell-logreg", "speech/fsdd-digits", "silence", "logreg (energy-VAD cuts)"),
    "speech/fsdd-spell-vad": (
        "speech/fsdd-spell", "speech/fsdd-digits", "silence", "transformer, one-word (energy-VAD cuts)"),
    "speech/fsdd-digits-noisy-logreg-vad": (
        "speech/fsdd-spell-noisy-logreg", "speech/fsdd-digits-noisy", "tuned",
        "logreg (tuned energy-VAD cuts)"),
    "speech/fsdd-spell-noisy-vad": (
        "speech/fsdd-spell-noisy", "speech/fsdd-digits-noisy", "tuned",
        "transformer, one-word (tuned energy-VAD cuts)"),
}  # fmt: skip


def _tune_silence(task) -> tuple[object, float]:
    """The :class:`SilenceConfig` that cuts the most validation strings of ``task`` into the right
    number of pieces (a grid; ties go to the earlier setting), and that fraction."""
    import itertools

    from attnkit.audio import SilenceConfig, speech_spans

    waves, pieces = task.example_waves("valid"), task.pieces("valid")
    best: tuple[float, object] = (-1.0, None)
    for th, quiet, loud in itertools.product(range(-10, -50, -5), (20, 40), (80, 120, 160)):
        cfg = SilenceConfig(threshold_db=th, min_silence_ms=quiet, min_speech_ms=loud)
        found = [len(speech_spans(w, task.fcfg.sample_rate, cfg)) for w in waves]
        right = sum(n == len(p) for n, p in zip(found, pieces, strict=True))
        best = max(best, (right / len(pieces), cfg), key=lambda b: b[0])
    return best[1], best[0]


def _word_model_on_strings(name: str) -> dict:
    """A single-word model on digit strings, one piece at a time: cut at the true boundaries
    (``oracle``), where :func:`attnkit.audio.split_on_silence` finds pauses with its defaults
    (``silence``; chosen on the clean validation strings), or with settings tuned on this
    strings recipe's validation strings (``tuned``)."""
    import attnkit
    from attnkit.api import load_config
    from attnkit.audio import SilenceConfig
    from attnkit.tasks.speech import SpeechTask

    word_recipe, strings_recipe, cut, arch = WORD_MODELS_ON_STRINGS[name]
    word = attnkit.load(ROOT / load_config(ROOT / f"configs/{word_recipe}.yaml").out_dir / "best")
    strings = SpeechTask(load_config(ROOT / f"configs/{strings_recipe}.yaml"), tokenizer=word.tokenizer)
    pieces = strings.pieces("test")
    scfg, valid_cuts = _tune_silence(strings) if cut == "tuned" else (SilenceConfig(), None)
    found = None
    if cut == "oracle":
        flat = sorted({i for p in pieces for i in p})
        said = dict(zip(flat, word.transcribe_frames([strings.recording_features("test", i) for i in flat]),
                        strict=True))  # fmt: skip
        hyps = [" ".join(said[i] for i in p) for p in pieces]
    else:
        cuts = word.transcribe_pieces(strings.example_waves("test"), scfg)
        found = [len(c) for c in cuts]
        hyps = [" ".join(t for _, _, t in c) for c in cuts]
    s = strings.score(hyps, "test")
    return {
        "recipe": name,
        "arch": arch,
        "params": sum(p.numel() for p in word.model.parameters()),
        "steps": 0,
        "train_minutes": 0.0,
        "seed": word.cfg.train.seed,
        "split": _split_label(strings.cfg),
        "silence": None if cut == "oracle" else dataclasses.asdict(scfg),
        "valid_cuts_right": None if valid_cuts is None else 100 * valid_cuts,
        "examples": s["examples"],
        "accuracy": 100 * s["accuracy"],
        "wer": 100 * s["wer"],
        "cer": 100 * s["cer"],
        "cuts_right": None
        if found is None
        else 100
        * sum(n == len(p) for n, p in zip(found, pieces, strict=True))
        / len(pieces),  # strings cut into exactly as many pieces as they join
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        ("official", "speech/fsdd-spell", "speech/fsdd-spell-logreg", "accuracy"),
        ("speaker theo held out", "speech/fsdd-spell-theo", "speech/fsdd-spell-theo-logreg", "accuracy"),
        (
            "digit strings: 100 - WER\n(logreg cut at pauses)",
            "speech/fsdd-digits",
            "speech/fsdd-digits-logreg-vad",
            "wer",
        ),
        (
            "noisy strings: 100 - WER\n(pauses 0-150 ms, 20 dB SNR;\nlogreg cut at pauses)",
            "speech/fsdd-digits-noisy",
            "speech/fsdd-digits-noisy-logreg-vad",
            "wer",
        ),
    ]
    by = {r["recipe"]: r for r in results}
    fig, ax = plt.subplots(figsize=(9, 4))
    for gi, (_, ours, base, metric) in enumerate(groups):
        for j, (rec, colour) in enumerate(((ours, "tab:blue"), (base, "tab:gray"))):
            if rec in by:
                v = by[rec][metric] if metric == "accuracy" else 100 - by[rec]["wer"]
                ax.bar(
                    gi + 0.38 * (j - 0.5),
                    v,
                    0.36,
                    color=colour,
                    label=None if gi else ("Transformer" if j == 0 else "logreg baseline"),
                )
                ax.text(gi + 0.38 * (j - 0.5), v + 0.5, f"{v:.1f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(groups)), [g[0] for g in groups])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% (test)")
    ax.set_title("FSDD speech -> text: Transformer with cross-attention vs logistic regression")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: list[dict]) -> str:
    import torch

    lines = [
        "Command: `python benchmarks/speech_quality.py` (each recipe: `attnkit train --config "
        "configs/<recipe>.yaml`, then `attnkit eval --ckpt runs/<recipe>/best`)  ",
        f"Machine: 2-core x86-64 CPU, fp32, torch {torch.__version__}, {datetime.date.today().isoformat()}. "
        "`best/` checkpoint: highest validation character accuracy (Transformers, `train.select_by`), "
        "lowest validation loss (logreg); beam 4 for the Transformers.",
        "",
        "| recipe | arch | params | steps | train min | seed | test set | accuracy | WER | CER |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['recipe']} | {r['arch']} | {r['params'] / 1e6:.3f}M | {r['steps']} | "
            f"{r['train_minutes']:.1f} | {r['seed']} | {r['split']} ({r['examples']}) | "
            f"{r['accuracy']:.2f} | {r['wer']:.2f} | {r['cer']:.2f} |"
        )
    lines.append("")
    for r in results:
        if r["recipe"] in TARGETS:
            metric, target, anchor = TARGETS[r["recipe"]]
            verdict = "meets" if r[metric] >= target else "MISSES"
            lines.append(
                f"- {r['recipe']}: **{r[metric]:.2f}%** {metric} ({verdict} the target ≥ {target}; {anchor})"
            )
    lines += [
        "- Digit strings are synthetic: 2-5 real test recordings joined with 50-300 ms of digital "
        "silence. The Transformer reads each string whole and finds the words itself. The one-word "
        "models read it one piece at a time: `-oracle` cuts at the true boundaries (which a real "
        "system would not know), `-vad` where `attnkit.audio.split_on_silence` finds pauses "
        "(an energy detector; its defaults were chosen on the clean validation strings).",
        "- Noisy strings (`fsdd-digits-noisy`): white noise 20 dB below the speech over each whole "
        "string, pauses of 0-150 ms, so words may touch. Its one-word models were trained on noisy "
        "single words (`fsdd-spell-noisy*`), and the detector's settings were tuned on the noisy "
        "validation strings (grid of thresholds and durations; the most strings cut right wins).",
    ]
    for r in results:
        if r.get("cuts_right") is not None:
            tuned = ""
            if r.get("valid_cuts_right") is not None:
                c = r["silence"]
                tuned = (
                    f" (tuned: threshold {c['threshold_db']:g} dB, pauses >= {c['min_silence_ms']:g} ms, "
                    f"words >= {c['min_speech_ms']:g} ms; {r['valid_cuts_right']:.1f}% right on valid)"
                )
            lines.append(
                f"- {r['recipe']}: {r['cuts_right']:.1f}% of test strings cut into the right number "
                f"of pieces{tuned}"
            )
    lines += [
        "",
        "![speech quality](speech_quality.png)",
    ]
    return "\n".join(lines)


def main() -> None:
    results = run_recipes("speech_quality", sys.argv[1:] or RECIPES, RECIPES, run)
    plot(results, HERE / "speech_quality.png")
    update_section("speech-quality", "Speech to text (FSDD)", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
