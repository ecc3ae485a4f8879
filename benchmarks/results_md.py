"""Write one benchmark's section of RESULTS.md between its begin/end markers."""

from __future__ import annotations

import json
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
