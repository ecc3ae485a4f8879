"""``attnkit viz``: one input through a checkpoint, its attention written as HTML, PNG and tensors."""

from __future__ import annotations

import argparse
from pathlib import Path

from attnkit.cli.options import COUNT, add_device, number

METHODS = ("grad_input", "ig", "occlusion", "attention", "rollout", "value_norm", "attention_grad")
"""``attnkit.attribution.METHODS``, written out so that building the parser does not import torch
(tests/attribution/test_faithfulness.py checks that they agree)."""


def parse_indices(text: str | None, what: str) -> list[int] | None:
    """``"0,2,5"`` or ``"0-3"`` -> ``[0, 2, 5]`` / ``[0, 1, 2, 3]``; None or ``"all"`` -> None."""
    if text is None or text.strip().lower() == "all":
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                out.extend(range(lo, hi + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise ValueError(f"--{what} must be indices like 0,2 or 0-3 (or all), got {text!r}") from None
    if not out:
        raise ValueError(f"--{what} selects nothing: {text!r}")
    return out


def add_parser(sub) -> None:
    v = sub.add_parser("viz", help="write an input's attention maps: HTML head/model view, PNGs, tensors")
    v.add_argument("--ckpt", required=True)
    add_device(v)
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help='the input; for a dialogue checkpoint turns are separated by "\\n"')
    src.add_argument("--input", help="read the input from this UTF-8 file (long inputs)")
    src.add_argument("--audio", help="speech checkpoints: a WAV file to transcribe and show")
    v.add_argument("--layers", help="block indices to capture, e.g. 0,2 or 0-3 (default all)")
    v.add_argument("--heads", help="head indices to capture (default all)")
    v.add_argument("--max-new-tokens", type=number(int, 0, above=False), default=0,
                   help="LM: tokens to generate after the prompt")  # fmt: skip
    v.add_argument("--beam", type=COUNT, help="seq2seq: beam width (default: the recipe's)")
    v.add_argument("--no-per-head", action="store_true", help="skip the one-PNG-per-head files")
    v.add_argument(
        "--method",
        action="append",
        choices=METHODS,
        help="also show an attribution method's output x input table in the viewer's method selector "
        "(repeatable): " + ", ".join(METHODS),
    )
    v.add_argument("--out", required=True, help="output directory")
    v.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from attnkit.api import load
    from attnkit.data.sources import read_text
    from attnkit.tasks.registry import VERBS
    from attnkit.viz.export import export_view
    from attnkit.viz.inspect import inspect_attention
    from attnkit.viz.payload import output_text

    lm = load(args.ckpt, device=args.device, quantize=args.quantize)
    decode = {"beam_size": args.beam} if args.beam is not None else {}
    sel = {"layers": parse_indices(args.layers, "layers"), "heads": parse_indices(args.heads, "heads")}
    reads = VERBS[lm.kind.main_verb].reads  # what the model's main verb takes: text, turns or audio
    if (reads == "audio") != bool(args.audio):
        raise ValueError("speech checkpoints take --audio FILE.wav; text checkpoints take --text or --input")
    if args.audio:
        kw: dict = {"audio": args.audio}
    else:
        text = read_text(args.input).rstrip("\n") if args.input else args.text.replace("\\n", "\n")
        kw = {"history": text.split("\n")} if reads == "history" else {"text": text}
    view = inspect_attention(lm, **kw, max_new_tokens=args.max_new_tokens, **sel, **decode)
    for method in args.method or []:
        if args.audio or args.quantize != "none":
            raise ValueError("--method explains text inputs of an unquantized model; drop --audio/--quantize")
        from attnkit.attribution import explain

        a = explain(lm, text, method, max_new_tokens=args.max_new_tokens or 16)
        view.streams[f"attr_{method}"] = a.stream()
    files = export_view(
        view, args.out, per_head=not args.no_per_head, title=f"attnkit · {Path(args.ckpt).name}"
    )
    print(f"{view.task}: {output_text(view.output)}")
    for s in view.streams.values():
        print(f"  {s.title}: (L, B, H, T, S) = {tuple(s.weights.shape)}, layers {s.layers}, heads {s.heads}")
    print(f"wrote {len(files)} files to {args.out}; open {Path(args.out) / 'attention.html'} in a browser")
    return 0
