"""Attention as PNG files: one head, a grid of heads, the alignment matrix and word links."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from attnkit.viz.fonts import font_families
from attnkit.viz.streams import AttentionStream

MAX_TICKS = 60
"""Beyond this many tokens an axis shows every k-th label: more would overlap into a black bar."""


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    return plt


def _tick_step(n: int) -> int:
    return max(1, -(-n // MAX_TICKS))  # ceil(n / MAX_TICKS)


def _ticks(ax, labels: Sequence[str], axis: str, fontsize: float) -> None:
    step = _tick_step(len(labels))
    pos = list(range(0, len(labels), step))
    names = [labels[i] for i in pos]
    if axis == "x":
        ax.set_xticks(pos, names, rotation=90, fontsize=fontsize)
    else:
        ax.set_yticks(pos, names, fontsize=fontsize)


def _label_size(n: int) -> float:
    """Font size for ``n`` labels along an axis; only every k-th of a long axis is drawn."""
    shown = -(-n // _tick_step(n))  # the labels _ticks draws
    return max(7.0, min(10.0, 520.0 / max(shown, 1)))  # 7 pt at 110 dpi: about 11 px, readable


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (closed afterwards), for pages that embed it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, bbox_inches="tight", format="png")
    pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    tmp.replace(p)
    return p


def heatmap(
    w: Tensor, queries: Sequence[str], keys: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """One ``(T, S)`` map with token labels: rows are queries, columns keys."""
    if w.dim() != 2 or tuple(w.shape) != (len(queries), len(keys)):
        raise ValueError(f"heatmap of shape {tuple(w.shape)} needs {len(queries)} x {len(keys)} labels")
    plt = pyplot()
    with plt.rc_context({"font.family": font_families([*queries, *keys])}):
        side = min(14.0, max(4.0, 0.22 * max(len(queries), len(keys)) + 2))
        fig, ax = plt.subplots(
            figsize=(side * max(len(keys), 1) / max(len(queries), len(keys), 1) + 1.5, side)
        )
        im = ax.imshow(w.float().cpu().numpy(), cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-6))
        _ticks(ax, keys, "x", _label_size(len(keys)))
        _ticks(ax, queries, "y", _label_size(len(queries)))
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        out = save_figure(fig, path)
        plt.close(fig)
    return out


def head_grid(stream: AttentionStream, path: str | Path, *, row: int = 0) -> Path:
    """Every captured layer (rows) x head (columns) of a stream, with labels on the outer axes."""
    plt = pyplot()
    n_l, n_h = len(stream.layers), len(stream.heads)
    labelled = max(len(stream.queries), len(stream.keys)) <= 40
    with plt.rc_context({"font.family": font_families([*stream.queries, *stream.keys])}):
        cell = 2.6 if labelled else 2.0
        fig, axes = plt.subplots(n_l, n_h, figsize=(cell * n_h + 1, cell * n_l + 1), squeeze=False)
        for li, layer in enumerate(stream.layers):
            for hi, head in enumerate(stream.heads):
                ax = axes[li][hi]
                ax.imshow(stream.weights[li, row, hi].float().cpu().numpy(), cmap="viridis", vmin=0.0)
                ax.set_xticks([])
                ax.set_yticks([])
                if li == 0:
                    ax.set_title(f"head {head}", fontsize=9)
                if hi == 0:
                    ax.set_ylabel(f"layer {layer}", fontsize=9)
                if labelled and li == n_l - 1:
                    _ticks(ax, stream.keys, "x", 5)
                if labelled and hi == 0:
                    _ticks(ax, stream.queries, "y", 5)
        fig.suptitle(stream.title)
        out = save_figure(fig, path)
        plt.close(fig)
    return out


def alignment_matrix(cross: AttentionStream, *, layer: int | None = None, row: int = 0) -> Tensor:
    """``(T_out, S_src)`` head-averaged cross-attention of ``layer`` (default: the last captured)."""
    li = len(cross.layers) - 1 if layer is None else cross.layers.index(layer)
    return cross.weights[li, row].float().mean(0)  # (H, T, S) -> (T, S)


def word_links(
    align: Tensor,
    sources: Sequence[str],
    targets: Sequence[str],
    path: str | Path,
    *,
    threshold: float = 0.1,
    title: str = "",
) -> Path:
    """Source tokens on top, output tokens below, a line per pair weighted above ``threshold``.

    Line opacity and width follow the weight; each output token's strongest link is drawn even
    when it is below the threshold, so every output word shows where it looked.
    """
    if tuple(align.shape) != (len(targets), len(sources)):
        raise ValueError(f"alignment {tuple(align.shape)} needs {len(targets)} x {len(sources)} labels")
    plt = pyplot()
    n = max(len(sources), len(targets), 1)
    with plt.rc_context({"font.family": font_families([*sources, *targets])}):
        fig, ax = plt.subplots(figsize=(min(40.0, 0.6 * n + 2), 3.2))
        xs = [i * (n - 1) / max(len(sources) - 1, 1) for i in range(len(sources))]
        xt = [i * (n - 1) / max(len(targets) - 1, 1) for i in range(len(targets))]
        best = align.argmax(-1)
        for t in range(len(targets)):
            for s in range(len(sources)):
                a = float(align[t, s])
                if a >= threshold or s == int(best[t]):
                    ax.plot(
                        [xt[t], xs[s]], [0, 1], color="tab:blue", alpha=min(1.0, 0.15 + a), lw=0.5 + 3 * a
                    )
        size = _label_size(n) + 1
        for x, lab in zip(xs, sources, strict=True):
            ax.text(x, 1.04, lab, ha="center", va="bottom", rotation=60, fontsize=size)
        for x, lab in zip(xt, targets, strict=True):
            ax.text(x, -0.04, lab, ha="center", va="top", rotation=60, fontsize=size)
        ax.set_xlim(-1, n)
        ax.set_ylim(-0.6, 1.6)
        ax.axis("off")
        ax.set_title(title or "cross-attention links (source above, output below)", fontsize=10)
        out = save_figure(fig, path)
        plt.close(fig)
    return out
