"""``attnkit transcribe`` and the speech part of ``attnkit eval``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    t = sub.add_parser("transcribe", help="transcribe WAV files with a speech checkpoint")
    t.add_argument("--ckpt", required=True)
    t.add_argument("files", nargs="+", help="WAV files (16-bit PCM; resampled to the model's rate)")
    t.add_argument("--beam", type=int, help="beam width (default: the recipe's)")
    t.add_argument("--json", action="store_true", help="one JSON object per file")
    t.set_defaults(func=run_transcribe)


def run_transcribe(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt)
    if lm.cfg.task != "speech":
        raise ValueError(f"{args.ckpt} is a {lm.cfg.task!r} checkpoint; transcribe needs a speech one")
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    texts = lm.transcribe(args.files, **decode)  # reads and checks every file before decoding any
    for f, t in zip(args.files, texts, strict=True):
        print(json.dumps({"file": f, "text": t}, ensure_ascii=False) if args.json else f"{f}\t{t}")
    return 0


def run_eval(lm, args: argparse.Namespace) -> int:
    """Decode the split, write transcripts and scores next to the checkpoint, print the scores."""
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    m = lm.evaluate(args.split, args.max_batches, limit=args.limit, **decode)
    out = Path(args.out_dir) if args.out_dir else lm.path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    hyp_path = out / f"{args.split}.hyp.txt"
    refs = lm.task.references(args.split)
    hyps = m.pop("hypotheses")
    hyp_path.write_text("".join(f"{h}\t{r}\n" for h, r in zip(hyps, refs, strict=False)), encoding="utf-8")
    m.update(checkpoint=str(lm.path), split=args.split, arch=lm.cfg.model.arch,
             holdout_speaker=lm.cfg.data.holdout_speaker)  # fmt: skip
    (out / f"{args.split}.scores.json").write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(m))
        return 0
    who = f"speaker {m['holdout_speaker']} held out" if m["holdout_speaker"] else "official split"
    print(f"{args.split} ({who}): {m['examples']} examples; hypotheses<TAB>references in {hyp_path}")
    print(f"  accuracy {100 * m['accuracy']:.2f}%  WER {100 * m['wer']:.2f}%  CER {100 * m['cer']:.2f}%")
    print(f"  loss {m['loss']:.4f} nats per {m['unit']}")
    return 0
