"""Write everything ``attnkit viz`` produces for one input into a directory.

- ``attention.html``: the offline head view / model view (open it from disk);
- ``attention.safetensors`` + ``tokens.json``: the exact float weights and their labels;
- ``<stream>_grid.png``: every captured layer x head; ``heads/<stream>_L<l>_H<h>.png`` per head;
- ``rollout.png`` for the encoder or decoder self-attention (when every layer was captured);
- ``alignment.png`` and ``links.png`` for models with cross-attention;
- ``spectrogram_alignment.png`` for speech: the letters-by-time cross-attention under the
  spectrogram.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from safetensors.torch import save_file

from attnkit.viz import png
from attnkit.viz.html import write_html
from attnkit.viz.inspect import AttentionView
from attnkit.viz.payload import view_payload

log = logging.getLogger(__name__)


def _save_tensors(view: AttentionView, path: Path) -> None:
    tensors = {name: s.weights.float().contiguous().cpu() for name, s in view.streams.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    save_file(tensors, tmp, metadata={"layout": "(L, B, H, T, S)", "task": view.task})
    os.replace(tmp, path)


OUTPUTS = ("attention.html", "attention.safetensors", "tokens.json", "*_grid.png", "rollout.png",
           "alignment.png", "links.png", "spectrogram_alignment.png", "heads/*.png")  # fmt: skip
"""What :func:`export_view` writes; a previous export in the same folder is removed first."""


def _clear_previous(out: Path) -> None:
    """Remove an earlier export from ``out`` so no stale map survives (a run with fewer layers
    would otherwise leave the old ones beside the new); refuse a folder holding anything else."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the attention views")
    ours = {p for pattern in OUTPUTS for p in out.glob(pattern)}
    others = [p for p in out.rglob("*") if p.is_file() and p not in ours]
    if others:
        raise ValueError(f"--out {out} holds files attnkit viz did not write ({others[0].name}, …); "
                         "choose a new or empty folder")  # fmt: skip
    for p in ours:
        p.unlink()


def export_view(
    view: AttentionView, out_dir: str | Path, *, per_head: bool = True, title: str = ""
) -> list[Path]:
    """Write the view's files into ``out_dir``; returns their paths in the order written."""
    out = Path(out_dir)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_html(view_payload(view), out / "attention.html", title or f"attnkit · {view.task}")]
    _save_tensors(view, out / "attention.safetensors")
    written.append(out / "attention.safetensors")
    labels = {
        "task": view.task, "input": view.input, "output": view.output,
        "streams": {n: {"layers": s.layers, "heads": s.heads, "queries": s.queries, "keys": s.keys}
                    for n, s in view.streams.items()},
    }  # fmt: skip
    (out / "tokens.json").write_text(
        json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    written.append(out / "tokens.json")
    for name, s in view.streams.items():
        written.append(png.head_grid(s, out / f"{name}_grid.png"))
        if per_head:
            for li, layer in enumerate(s.layers):
                for hi, head in enumerate(s.heads):
                    title = f"{s.title}, layer {layer}, head {head}"
                    path = out / "heads" / f"{name}_L{layer}_H{head}.png"
                    written.append(png.heatmap(s.weights[li, 0, hi], s.queries, s.keys, path, title=title))
    try:
        r = view.rollout()
        written.append(png.heatmap(r.weights[0, 0, 0], r.queries, r.keys, out / "rollout.png", title=r.title))
    except ValueError as e:  # a layer subset or a cross-only selection: the maps are still written
        log.info("no rollout.png: %s", e)
    if "cross" in view.streams:
        c = view.streams["cross"]
        align = png.alignment_matrix(c)
        written.append(
            png.heatmap(align, c.queries, c.keys, out / "alignment.png",
                        title=f"alignment: cross-attention, layer {c.layers[-1]}, mean of heads")
        )  # fmt: skip
        if "spectrogram" in view.meta:  # speech: letters over the spectrogram; frame "links" say little
            from attnkit.viz.speech import spectrogram_alignment_png

            written.append(spectrogram_alignment_png(view, out / "spectrogram_alignment.png"))
        else:
            written.append(png.word_links(align, c.keys, c.queries, out / "links.png"))
    return written
