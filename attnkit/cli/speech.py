"""``attnkit transcribe`` and the speech part of ``attnkit eval``."""

from __future__ import annotations

import argparse
import json

from attnkit.cli.options import add_device


def add_parser(sub) -> None:
    t = sub.add_parser("transcribe", help="transcribe WAV files with a speech checkpoint")
    t.add_argument("--ckpt", required=True)
    add_device(t)
    t.add_argument("files", nargs="+", help="WAV files (16-bit PCM; resampled to the model's rate)")
    t.add_argument("--beam", type=int, help="beam width (default: the recipe's)")
    t.add_argument("--json", action="store_true", help="one JSON object per file")
    t.add_argument(
        "--split-on-silence",
        action="store_true",
        help="cut each file at its pauses and transcribe the pieces one by one, joined with spaces "
        "(how a model trained on single words reads a string of them)",
    )
    t.set_defaults(func=run_transcribe)


def run_transcribe(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt, device=args.device)
    if lm.cfg.task != "speech":
        raise ValueError(f"{args.ckpt} is a {lm.cfg.task!r} checkpoint; transcribe needs a speech one")
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    # reads and checks every file before decoding any
    texts = lm.transcribe(args.files, split_on_silence=args.split_on_silence, **decode)
    for f, t in zip(args.files, texts, strict=True):
        print(json.dumps({"file": f, "text": t}, ensure_ascii=False) if args.json else f"{f}\t{t}")
    return 0


def run_eval(lm, args: argparse.Namespace) -> int:
    """Decode the split, write transcripts and scores next to the checkpoint, print the scores."""
    from attnkit.cli.main import write_eval_files

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
