"""Load check for ``attnkit serve``: N concurrent requests per endpoint over loopback.

Starts the real server (``python -m attnkit serve``) on a free 127.0.0.1 port with the recipe
checkpoints, then, per scenario, keeps ``--concurrency`` requests in flight until ``--requests``
have completed or ``--max-seconds`` pass. Records requests/s, p50/p99 latency and the error
count in RESULTS.md. The server's queue (``--max-queue``) is sized above the concurrency, so a
correct server answers every request: any error is a failure.

    python benchmarks/serve_load.py                       # recipe checkpoints under runs/
    python benchmarks/serve_load.py --requests 50 --concurrency 8 --ckpt runs/x/best
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import update_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CKPTS = ["runs/multi30k-de-en/best", "runs/shakespeare-char/best", "runs/chnsenticorp/best",
                 "runs/dailydialog/best"]  # fmt: skip
INPUTS = {
    "translate": ["Ein Mann fährt Fahrrad auf der Straße.", "Zwei Hunde spielen im Schnee.",
                  "Eine Frau in einem roten Kleid singt auf einer Bühne.", "Kinder spielen im Park."],
    "classify": ["这家酒店的服务非常好，房间也很干净。", "房间太小了，而且很吵，不会再来了。",
                 "早餐一般，位置不错。", "前台态度很差。"],
    "generate": ["ROMEO:", "JULIET:\nO ", "First Citizen:\n", "KING HENRY:"],
    "chat": [["Hi, how are you?"], ["What are you doing tonight?"],
             ["Can I help you?", "Yes, I need a room."]],
}  # fmt: skip


def body(verb: str, i: int, attention: bool) -> dict:
    x = INPUTS[verb][i % len(INPUTS[verb])]
    if verb == "chat":
        return {"history": x, "attention": attention}
    extra = {"max_new_tokens": 32, "seed": i} if verb == "generate" else {}
    return {"text": x, "attention": attention, **extra}


async def scenario(url: str, verb: str, attention: bool, n: int, conc: int, max_s: float) -> dict:
    lat: list[float] = []
    errors: dict[int, int] = {}
    counter = iter(range(n))
    t0 = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() - t0 > max_s:
                return
            s = time.perf_counter()
            try:
                r = await client.post(f"/api/{verb}", json=body(verb, i, attention))
                code = r.status_code
            except httpx.HTTPError:
                code = -1
            lat.append(time.perf_counter() - s)
            if code != 200:
                errors[code] = errors.get(code, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(conc)))
    wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {"verb": verb, "attention": attention, "done": len(lat), "conc": conc, "wall": wall,
            "rps": len(lat) / wall, "p50": 1000 * q[49], "p99": 1000 * q[98], "errors": errors}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", action="append", help="checkpoint dirs (default: recipe checkpoints in runs/)")
    ap.add_argument("--requests", type=int, default=200, help="requests per scenario")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time bound per scenario")
    ap.add_argument("--server-concurrency", type=int, default=2, help="the server's --max-concurrency")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = ap.parse_args()
    ckpts = [c for c in (args.ckpt or DEFAULT_CKPTS) if (ROOT / c).is_dir() or Path(c).is_dir()]
    if not ckpts:
        sys.exit("no checkpoints found: train the recipes first or pass --ckpt DIR")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "attnkit", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--max-concurrency", str(args.server_concurrency),
           "--max-queue", str(4 * args.concurrency)]  # fmt: skip
    for c in ckpts:
        cmd += ["--ckpt", c]
    server = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                models = httpx.get(f"{url}/api/models", timeout=2).json()["models"]
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the server did not come up")
                time.sleep(0.5)
        verbs = [m["verb"] for m in models]
        rows = []
        for verb in ("translate", "classify", "generate", "chat"):
            if verb not in verbs:
                continue
            for attention in (False, True):
                asyncio.run(scenario(url, verb, attention, 2 * args.server_concurrency, 2, 30))  # warm-up
                r = scenario(url, verb, attention, args.requests, args.concurrency, args.max_seconds)
                r = asyncio.run(r)
                r["model"] = next(m["name"] for m in models if m["verb"] == verb)
                rows.append(r)
                print(f"{verb:9} attention={attention!s:5} {r['done']} req in {r['wall']:.1f}s: "
                      f"{r['rps']:.1f} req/s, p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
                      f"errors {r['errors']}", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(20)
    bad = sum(sum(r["errors"].values()) for r in rows)
    lines = [
        f"`python benchmarks/serve_load.py --requests {args.requests} --concurrency {args.concurrency}` "
        f"on {date.today()}: {platform.machine()}, {os.cpu_count()} CPU cores, CPU only; server "
        f"`--max-concurrency {args.server_concurrency} --max-queue {4 * args.concurrency}` (torch threads "
        "per call = cores / concurrency); client and server on one machine over loopback, sharing the cores.",
        "",
        "| endpoint | model | attention view | requests | in flight | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| /api/{r['verb']} | {r['model']} | {'yes' if r['attention'] else 'no'} | {r['done']} | "
            f"{r['conc']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {sum(r['errors'].values())} |"
        )
    if not args.no_write:
        update_section("serve-load", "Web app under load (CPU)", "\n".join(lines))
    print("\n".join(lines))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
