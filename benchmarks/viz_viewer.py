"""How the offline HTML viewer copes with long inputs: file size, load time, redraw time.

Builds a viewer file for T tokens with L layers x H heads of peaked attention rows
(softmax of 3·N(0,1) logits: most weights small, a few large, as in trained models; it
compresses worse than near-uniform maps), opens it from disk in the system Chromium with the
network unused, and measures in the page:

- load: navigation start to the first drawn view (base64 decode, gunzip, first heatmap);
- redraw: median / max over 20 moves of the query-window slider (the viewer's own timer);
- window 192, model view (all L x H thumbnails) and head view (links) draw times.

    python benchmarks/viz_viewer.py            # T = 1000 and 2000, L=6, H=8
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_md import update_section  # noqa: E402

from attnkit.viz.html import write_html  # noqa: E402
from attnkit.viz.payload import stream_payload  # noqa: E402
from attnkit.viz.streams import AttentionStream  # noqa: E402
from tests.serve.browser import browser_page  # noqa: E402


def build(t: int, n_l: int, n_h: int, path: Path) -> tuple[float, int]:
    g = torch.Generator().manual_seed(0)
    w = torch.softmax(3 * torch.randn(n_l, 1, n_h, t, t, generator=g), -1)  # (L, B, H, T, S)
    labels = [f"tok{i}" for i in range(t)]
    s = AttentionStream("encoder", w, list(range(n_l)), list(range(n_h)), labels, labels)
    t0 = time.perf_counter()
    payload = {"task": "benchmark", "input": f"{t} tokens", "output": "", "streams": [stream_payload(s)]}
    write_html(payload, path)
    return time.perf_counter() - t0, path.stat().st_size


def measure(path: Path) -> dict:
    with browser_page() as (page, seen):
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("#ak-view[data-ready='1']", timeout=120_000)
        load_ms = 1000 * (time.perf_counter() - t0)
        draws = []
        for i in range(20):
            page.fill("input.ak-qFrom", str(37 * i))
            draws.append(float(page.get_attribute("#ak-view", "data-draw-ms")))
        page.select_option("#ak-view label:has-text('window') select", "192")
        w192 = float(page.get_attribute("#ak-view", "data-draw-ms"))
        page.select_option("#ak-view label:has-text('window') select", "48")
        page.select_option("#ak-view label:has-text('view') select", "model")
        model = float(page.get_attribute("#ak-view", "data-draw-ms"))
        page.select_option("#ak-view label:has-text('view') select", "head")
        head = float(page.get_attribute("#ak-view", "data-draw-ms"))
        assert all(u.startswith("file://") for u in seen), seen
        assert page.errors == [], page.errors
    return {"load": load_ms, "p50": statistics.median(draws), "max": max(draws), "w192": w192, "model": model,
            "head": head}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for t in args.tokens:
            path = Path(d) / f"view{t}.html"
            secs, size = build(t, args.layers, args.heads, path)
            m = measure(path)
            rows.append((t, secs, size, m))
            print(f"T={t}: write {secs:.1f}s, {size / 1e6:.1f} MB; {m}", flush=True)
    lines = [
        f"`python benchmarks/viz_viewer.py` on {date.today()}: {platform.machine()}, {os.cpu_count()} CPU "
        "cores, headless system Chromium, file opened from disk; "
        f"{args.layers} layers x {args.heads} heads of peaked attention rows. "
        "Redraw = the viewer's own timer around one window redraw (48 tokens unless noted).",
        "",
        "| tokens | weights | HTML size | write (Python) | open to first view | redraw p50 / max | "
        "window 192 | model view | head view |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t, secs, size, m in rows:
        lines.append(
            f"| {t:,} | {args.layers * args.heads * t * t / 1e6:.0f}M | {size / 1e6:.1f} MB | {secs:.1f} s | "
            f"{m['load']:.0f} ms | {m['p50']:.1f} / {m['max']:.1f} ms | {m['w192']:.0f} ms | "
            f"{m['model']:.0f} ms | {m['head']:.0f} ms |"
        )
    if not args.no_write:
        update_section("viz-viewer", "Attention viewer at long inputs", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
