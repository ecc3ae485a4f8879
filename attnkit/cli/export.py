"""``attnkit export``: a checkpoint as an ONNX or CTranslate2 model, checked against attnkit."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    e = sub.add_parser(
        "export",
        help="write a checkpoint as ONNX (decoders, encoders, classifiers) or CTranslate2 "
        "(decoders, encoder-decoders), checked against attnkit on the way out",
    )
    e.add_argument("--ckpt", required=True, help="checkpoint directory, run directory or pretrained name")
    e.add_argument("--format", required=True, choices=("onnx", "ct2"))
    e.add_argument("--out", required=True, help="directory to create (refused if it exists, unless --force)")
    e.add_argument(
        "--quantize",
        choices=("none", "int8"),
        default="none",
        help="int8: ONNX Runtime's dynamic int8, or CTranslate2's int8 weights (default none)",
    )
    e.add_argument("--force", action="store_true", help="replace --out if it exists")
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from attnkit.api import load
    from attnkit.export import export_model

    lm = load(args.ckpt)
    report = export_model(lm, args.format, args.out, quantize=args.quantize, force=args.force)
    tokens = (
        f", greedy tokens equal {report['greedy_tokens_equal']}" if "greedy_tokens_equal" in report else ""
    )
    print(
        f"wrote {args.out} ({args.format}, {report['kind']}, quantize {args.quantize}); checked against "
        f"attnkit: max relative difference {report['max_relative_error']:.2e} "
        f"(tolerance {report['tolerance']:g}){tokens}"
    )
    return 0
