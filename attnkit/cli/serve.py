"""``attnkit serve``: the local web app and JSON API over one or more checkpoints."""

from __future__ import annotations

import argparse
import dataclasses

from attnkit.cli.options import COUNT, add_device, number
from attnkit.serve.limits import ServeLimits


def add_parser(sub) -> None:
    s = sub.add_parser("serve", help="local web app + JSON API for checkpoints, with attention views")
    s.add_argument("--ckpt", action="append", required=True, help="a checkpoint directory (repeatable)")
    add_device(s)
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=number(int, 1, above=False, maximum=65535), default=8000)
    for f in dataclasses.fields(ServeLimits):  # the limits and their defaults are declared once
        kind = number(f.type, f.metadata.get("min", 0), above="min" not in f.metadata)
        help = f"{f.metadata['help']} (default {f.default})"
        s.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default, help=help)
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another name this server answers to in the Host header (repeatable; * = any). "
                   "By default only the bound address and localhost names: a page on another site "
                   "cannot drive the server through DNS rebinding")  # fmt: skip
    s.add_argument(
        "--threads", type=COUNT, help="torch threads per model call (default: CPU cores / --max-concurrency)"
    )
    s.set_defaults(func=run)


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(host: str, extra: list[str]) -> list[str]:
    """The Host names to accept: the bound address (the machine's name when bound to all
    interfaces), the loopback names, and any ``--allow-host``."""
    import socket

    bound = [socket.gethostname(), socket.getfqdn()] if host in ("0.0.0.0", "::", "") else [host]
    return sorted({*LOCAL_NAMES, *bound, *extra})


def load_models(paths: list[str], device: str = "cpu", quantize: str = "none") -> dict:
    from attnkit.api import load
    from attnkit.serve.app import model_name

    models: dict = {}
    for path in paths:
        base = name = model_name(path)
        n = 2
        while name in models:  # two runs with the same directory name: keep both
            name, n = f"{base}-{n}", n + 1
        models[name] = load(path, device=device, quantize=quantize)
    return models


def run(args: argparse.Namespace) -> int:
    import os

    import torch
    import uvicorn

    from attnkit.serve.app import create_app

    limits = ServeLimits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ServeLimits)})
    # Each running call gets its own OpenMP team of this size; cores / calls avoids oversubscription.
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.max_concurrency))
    torch.set_num_threads(threads)
    models = load_models(args.ckpt, args.device, args.quantize)
    for name, lm in models.items():
        print(f"loaded {name}: {lm.cfg.task} ({lm.cfg.model.arch}) from {lm.path}")
    print(
        f"attnkit: serving on http://{args.host}:{args.port}/  (API docs: /docs); "
        f"{args.max_concurrency} calls at once, {threads} torch thread(s) each",
        flush=True,
    )
    app = create_app(models, limits, allowed_hosts(args.host, args.allow_host))
    # Idle or slow connections cannot pile up: 5 s keep-alive, a cap on open connections (more
    # get 503), 16 KiB of headers at most; BodyLimit times out a stalled body.
    connections = args.max_concurrency + args.max_queue + 32
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=5,
                limit_concurrency=connections, h11_max_incomplete_event_size=16_384)  # fmt: skip
    return 0
