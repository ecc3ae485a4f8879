"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse

from attnkit.train.device import DEVICES


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        help=f"where the model runs: {', '.join(DEVICES)} or cuda:N (default auto: CUDA, then MPS, then CPU)",
    )
