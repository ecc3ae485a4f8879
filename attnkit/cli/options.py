"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

DEVICE_HELP = "where the model runs: auto, cpu, cuda, mps or cuda:N (default auto: CUDA, then MPS, then CPU)"
"""Written out, not built from ``attnkit.api.DEVICES``, so that building the parser does not
import torch; tests/test_import_time.py checks that the two agree."""


QUANTIZE_MODES = ("none", "int8", "bf16")
"""``attnkit.layers.quant.QUANTIZE_MODES``, written out for the same reason (the import-time test
checks that they agree)."""


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--quantize``: where an inference command runs its model, and how."""
    parser.add_argument(
        "--device",
        default="auto",
        help=DEVICE_HELP,
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default="none",
        help="int8: int8 weights and activations (attnkit's AVX512-VNNI kernel where the CPU has "
        "it); bf16: bf16 weights; none (default): as trained. Transformer models only",
    )


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def number(
    kind: type | str, minimum: float = 0, *, above: bool = True, maximum: float | None = None
) -> Callable[[str], float | int]:
    """An argparse type: a finite ``kind`` (int or float) above ``minimum`` (or at least it, with
    ``above=False``) and at most ``maximum``; anything else is argparse's one-line usage error
    naming the option and the range (exit 2)."""
    cast = {"int": int, "float": float}.get(kind, kind) if isinstance(kind, str) else kind
    rule = f"{'above' if above else 'at least'} {_plain(minimum)}"
    rule += f" and at most {_plain(maximum)}" if maximum is not None else ""

    def parse(text: str) -> float | int:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {cast.__name__} {rule}, got {text!r}") from None
        low = value < minimum or (above and value == minimum)
        if not math.isfinite(value) or low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    parse.__name__ = cast.__name__
    return parse


COUNT = number(int, 1, above=False)
"""An argparse type: an integer of 1 or more."""
SEED = number(int, 0, above=False, maximum=2**63 - 1)
"""An argparse type: a seed torch accepts (0 .. 2**63 - 1)."""
