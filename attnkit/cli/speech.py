"""``attnkit transcribe`` and the speech part of ``attnkit eval``."""

from __future__ import annotations

import argparse
import json

from attnkit.cli.options import COUNT, add_device


def add_parser(sub) -> None:
    t = sub.add_parser("transcribe", help="transcribe WAV files with a speech checkpoint")
    t.add_argument("--ckpt", required=True)
    add_device(t)
    t.add_argument("files", nargs="+", help="WAV files (16-bit PCM; resampled to the model's rate)")
    t.add_argument("--beam", type=COUNT, help="beam width (default: the recipe's)")
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

    lm = load(args.ckpt, device=args.device, quantize=args.quantize)
    lm.require("transcribe")
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    # reads and checks every file before decoding any
    texts = lm.transcribe(args.files, split_on_silence=args.split_on_silence, **decode)
    for f, t in zip(args.files, texts, strict=True):
        print(json.dumps({"file": f, "text": t}, ensure_ascii=False) if args.json else f"{f}\t{t}")
    return 0
