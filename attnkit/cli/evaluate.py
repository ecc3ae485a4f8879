"""``attnkit eval``: what each task kind reports. The task registry names one of these per kind."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from attnkit.api import plot_confusion


def report_lm(lm, args: argparse.Namespace) -> int:
    """Loss, bits and perplexity per token, and bits per character."""
    m = lm.evaluate(args.split, args.max_batches)
    if args.json:
        print(json.dumps(m))
        return 0
    unit = m["unit"]
    print(f"{args.split}: {m['tokens']:,} predictions; unit = one {unit}")
    print(f"  loss {m['loss']:.4f} nats per {unit} = {m['bits_per_token']:.4f} bits per {unit}")
    print(f"  perplexity {m['ppl']:.3f} per {unit}; {m['bpc']:.4f} bits per character")
    return 0


def report_classifier(lm, args: argparse.Namespace) -> int:
    """Accuracy, macro-F1 and a confusion-matrix PNG."""
    m = lm.evaluate(args.split, args.max_batches)
    out = Path(args.out_dir) if args.out_dir else lm.path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{args.split}.confusion.png"
    plot_confusion(m["confusion"], m["labels"], png, title=f"{lm.cfg.data.dataset} {args.split}")
    m.update(checkpoint=str(lm.path), split=args.split)
    (out / f"{args.split}.scores.json").write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(m))
        return 0
    acc, f1 = 100 * m["accuracy"], 100 * m["macro_f1"]
    print(f"{args.split}: {m['examples']} examples; accuracy {acc:.2f}%, macro-F1 {f1:.2f}")
    print(f"  loss {m['loss']:.4f} nats per example; confusion matrix in {png}")
    return 0


def write_eval_files(lm, args: argparse.Namespace, lines: list[str], scores: dict) -> Path:
    """``<split>.hyp.txt`` (one line per example) and ``<split>.scores.json`` (``scores`` plus the
    checkpoint and split) in ``--out-dir`` or ``<run>/eval``; returns the hypotheses' path."""
    out = Path(args.out_dir) if args.out_dir else lm.path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    hyp_path = out / f"{args.split}.hyp.txt"
    hyp_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    scores.update(checkpoint=str(lm.path), split=args.split)
    (out / f"{args.split}.scores.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    return hyp_path


def report_seq2seq(lm, args: argparse.Namespace) -> int:
    """Decode the split, write hypotheses and scores next to the checkpoint, print the scores."""
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    m = lm.evaluate(args.split, args.max_batches, limit=args.limit, **decode)
    lines = [h.replace("\n", " ") for h in m.pop("hypotheses")]
    m.update(beam_size=decode.get("beam_size", lm.cfg.decode.beam_size))
    hyp_path = write_eval_files(lm, args, lines, m)
    if args.json:
        print(json.dumps(m))
        return 0
    print(f"{args.split}: {m['examples']} examples, beam {m['beam_size']}; hypotheses in {hyp_path}")
    word = f", {m['ppl_word']:.2f} per word" if "ppl_word" in m else ""
    print(f"  loss {m['loss']:.4f} nats per target token (ppl {m['ppl']:.2f}{word})")
    if "distinct1" in m:  # dialogue
        print(f"  BLEU-1 {m['bleu1']:.2f}  BLEU-2 {m['bleu2']:.2f}  distinct-1 {m['distinct1']:.4f}  "
              f"distinct-2 {m['distinct2']:.4f}  mean length {m['avg_len']:.1f}")  # fmt: skip
    elif "bleu" in m:
        print(f"  sacreBLEU {m['bleu']:.2f}  ({m['bleu_signature']})")
        print(f"  chrF {m['chrf']:.2f}  ({m['chrf_signature']})")
        print(f"  BLEU lowercased+tokenized {m['bleu_lc_tok']:.2f}  ({m['bleu_lc_tok_signature']})")
    else:
        print(f"  ROUGE-1 {m['rouge1']:.2f}  ROUGE-2 {m['rouge2']:.2f}  ROUGE-L {m['rougeL']:.2f}  "
              f"ROUGE-Lsum {m['rougeLsum']:.2f}")  # fmt: skip
        print(f"  ({m['rouge_signature']})")
    return 0


def report_speech(lm, args: argparse.Namespace) -> int:
    """Decode the split, write transcripts and scores next to the checkpoint, print the scores."""
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    m = lm.evaluate(args.split, args.max_batches, limit=args.limit, **decode)
    refs = lm.task.references(args.split)
    lines = [f"{h}\t{r}" for h, r in zip(m.pop("hypotheses"), refs, strict=False)]
    m.update(arch=lm.cfg.model.arch, holdout_speaker=lm.cfg.data.holdout_speaker)
    hyp_path = write_eval_files(lm, args, lines, m)
    if args.json:
        print(json.dumps(m))
        return 0
    who = f"speaker {m['holdout_speaker']} held out" if m["holdout_speaker"] else "official split"
    print(f"{args.split} ({who}): {m['examples']} examples; hypotheses<TAB>references in {hyp_path}")
    print(f"  accuracy {100 * m['accuracy']:.2f}%  WER {100 * m['wer']:.2f}%  CER {100 * m['cer']:.2f}%")
    print(f"  loss {m['loss']:.4f} nats per {m['unit']}")
    return 0
