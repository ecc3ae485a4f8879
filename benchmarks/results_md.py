"""Write one benchmark's section of RESULTS.md between its begin/end markers."""

from __future__ import annotations

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
