"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from attnkit.api import DEVICES


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        help=f"where the model runs: {', '.join(DEVICES)} or cuda:N (default auto: CUDA, then MPS, then CPU)",
    )


def number(kind: type | str, minimum: float = 0, *, above: bool = True) -> Callable[[str], float | int]:
    """An argparse type: a finite ``kind`` (int or float) above ``minimum`` (or at least it, with
    ``above=False``), else argparse's one-line usage error (exit 2)."""
    cast = {"int": int, "float": float}.get(kind, kind) if isinstance(kind, str) else kind
    rule = f"{'above' if above else 'at least'} {minimum:g}"

    def parse(text: str) -> float | int:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {cast.__name__} {rule}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    parse.__name__ = cast.__name__
    return parse
