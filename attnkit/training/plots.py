"""Loss curves as PNG from a run's metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def plot_losses(metrics_path: Path, png_path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = [], []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r.get("kind") == "train":
            train.append((r["step"], r["loss"]))
        elif r.get("kind") == "eval" and r.get("split") == "valid":
            valid.append((r["step"], r["loss"]))
    if not train:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(*zip(*train, strict=True), lw=1, alpha=0.8, label="train (per logged step)")
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", lw=2, label="valid")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = png_path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(png_path)


def plot_confusion(confusion: list[list[int]], labels: list[str], png_path: Path, title: str = "") -> None:
    """Confusion matrix (rows = true class, columns = predicted), row-normalised colours, counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cm = np.asarray(confusion, dtype=float)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
            )
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
