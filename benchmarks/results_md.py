"""Write one benchmark's section of RESULTS.md between its begin/end markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def update_section(key: str, title: str, body: str, path: Path = RESULTS) -> None:
    """Replace the text between ``<!-- key:begin -->`` and ``<!-- key:end -->`` (or append a
    new ``## title`` section). Hand-written text outside the markers is kept."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def run_recipes(
    store_name: str, names: Sequence[str], order: Sequence[str], run: Callable[[str], dict]
) -> list[dict]:
    """Run each of ``names``, keeping every result in ``results/<store_name>.json`` (saved after
    each recipe, so an interrupted sweep keeps what finished); return all stored results that
    appear in ``order``, in that order."""
    store = RESULTS.parent / "results" / f"{store_name}.json"
    store.parent.mkdir(exist_ok=True)
    done = {r["recipe"]: r for r in json.loads(store.read_text())} if store.exists() else {}
    for name in names:
        print(f"== {name}", flush=True)
        done[name] = run(name)
        store.write_text(json.dumps(list(done.values()), indent=1, ensure_ascii=False))
    return [done[n] for n in order if n in done]


def train_recipe(
    recipe: str, overrides_env: str, *, train: bool = True
) -> tuple[Path, list[dict], list[dict]]:
    """``attnkit train --config configs/<recipe>.yaml`` plus the overrides in ``$overrides_env``
    (for smoke runs), in a child process (``train=False``: read a finished run); returns the run
    directory and its train and eval log rows."""
    from attnkit.api import load_config

    root = RESULTS.parent.parent
    extra = os.environ.get(overrides_env, "").split()
    cfg = load_config(root / "configs" / f"{recipe}.yaml", extra)
    if train:
        cmd = [sys.executable, "-m", "attnkit", "train", "--config", f"configs/{recipe}.yaml"]
        subprocess.run([*cmd, "train.progress=false", *extra], cwd=root, check=True, env=os.environ.copy())
    out = root / cfg.out_dir
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return out, [r for r in rows if r["kind"] == "train"], [r for r in rows if r["kind"] == "eval"]
