"""``attnkit`` command line: ``attnkit <command> [options] [key=value overrides]``.

Commands:
    demo       build tiny models, run them, print parameter counts and attention-map shapes
    backends   list the registered attention backends and what each can do
"""

from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="attnkit", description="Self-attention for NLP, measured.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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


if __name__ == "__main__":
    raise SystemExit(main())
