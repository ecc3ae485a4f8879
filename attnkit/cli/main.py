"""``attnkit`` command line: ``attnkit <command> [options] [key=value overrides]``.

Commands:
    train      train a model from a recipe YAML (+ dotted overrides)
    generate   stream a continuation of a prompt from a checkpoint
    eval       score a checkpoint on a split (perplexity with its unit)
    demo       build tiny models, run them, print parameter counts and attention-map shapes
    backends   list the registered attention backends and what each can do
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from attnkit.attention import BACKENDS


def _cmd_backends(args: argparse.Namespace) -> int:
    print(f"{'name':<12} weights  dropout  gqa  exact")
    for name in sorted(BACKENDS):
        c = BACKENDS[name].caps
        print(f"{name:<12} {c.weights!s:<8} {c.dropout!s:<8} {c.gqa!s:<4} {c.exact!s}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from attnkit.cli.demo import run_demo

    return run_demo(families=args.family, preset=args.preset, overrides=args.overrides, seed=args.seed)


def _cmd_train(args: argparse.Namespace) -> int:
    from attnkit.api import load_config, train

    cfg = load_config(args.config, args.overrides)
    metrics = train(cfg, resume=args.resume)
    print(json.dumps({"out_dir": cfg.out_dir, **metrics}))
    return 0


def _decode_overrides(args: argparse.Namespace) -> dict:
    pairs = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
    }
    out = {k: v for k, v in pairs.items() if v is not None}
    if args.stop:
        out["stop"] = list(args.stop)
    return out


def _cmd_generate(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt, overrides=args.overrides)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    sys.stdout.write(prompt)
    for chunk in lm.stream(prompt, **_decode_overrides(args)):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt)
    m = lm.evaluate(args.split, args.max_batches)
    if args.json:
        print(json.dumps(m))
    else:
        unit = m["unit"]
        print(f"{args.split}: {m['tokens']:,} predictions; unit = one {unit}")
        print(f"  loss {m['loss']:.4f} nats per {unit} = {m['bits_per_token']:.4f} bits per {unit}")
        print(f"  perplexity {m['ppl']:.3f} per {unit}; {m['bpc']:.4f} bits per character")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="attnkit", description="Self-attention for NLP, measured.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train from a recipe YAML")
    t.add_argument("--config", required=True, help="recipe YAML, e.g. configs/lm/shakespeare-char.yaml")
    t.add_argument("--resume", action="store_true", help="continue from <out_dir>/last")
    t.add_argument("overrides", nargs="*", help="dotted overrides such as train.max_steps=100")
    t.set_defaults(func=_cmd_train)

    g = sub.add_parser("generate", help="stream a continuation of --prompt (or stdin)")
    g.add_argument("--ckpt", required=True, help="checkpoint directory (or a run directory)")
    g.add_argument("--prompt", help="prompt text; read from stdin when absent")
    g.add_argument("--max-new-tokens", type=int)
    g.add_argument("--temperature", type=float, help="0 = greedy")
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--repetition-penalty", type=float)
    g.add_argument("--stop", action="append", help="stop string (repeatable)")
    g.add_argument("--seed", type=int)
    g.add_argument("overrides", nargs="*", help="config overrides, e.g. decode.prompt_overflow=error")
    g.set_defaults(func=_cmd_generate)

    e = sub.add_parser("eval", help="perplexity of a checkpoint on a split")
    e.add_argument("--ckpt", required=True)
    e.add_argument("--split", default="test")
    e.add_argument("--max-batches", type=int, help="evaluate only the first N batches")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    e.set_defaults(func=_cmd_eval)

    d = sub.add_parser("demo", help="build tiny models and show their attention-map shapes")
    d.add_argument(
        "--family",
        action="append",
        choices=["encoder", "decoder", "seq2seq"],
        help="model family (repeatable; default: all three)",
    )
    d.add_argument("--preset", default="tiny", help="model size preset (tiny, small, base)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("overrides", nargs="*", help="ModelConfig overrides such as n_layers=3")
    d.set_defaults(func=_cmd_demo)

    b = sub.add_parser("backends", help="list attention backends")
    b.set_defaults(func=_cmd_backends)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as e:
        print(f"attnkit: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # TrainingError and friends: the run stopped, state is kept
        print(f"attnkit: error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("attnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
