"""Speech attention: which audio frames each output letter looked at, over the spectrogram.

``inspect_speech(lm, audio)`` transcribes one recording, then runs the model teacher-forced on
its own transcript with capture on (as :func:`attnkit.viz.inspect.inspect_attention` does for
text). Streams: ``encoder`` (frames x frames), ``decoder`` (letters x letters) and ``cross``
(letters x frames). Frame labels are times: encoder frame j covers feature frames
``j*s .. j*s+s-1`` (s = ``model.subsample``), i.e. from ``j * s * hop`` seconds.

``spectrogram_alignment_png`` draws the log-mel spectrogram with the letters-by-frames
cross-attention under it on the same time axis, plus each letter's attention peak over the
spectrogram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnkit.api import LoadedModel
from attnkit.viz import png
from attnkit.viz.inspect import AttentionView, InspectRequest
from attnkit.viz.streams import capture_streams
from attnkit.viz.tokens import token_labels


def inspect_speech(
    lm: LoadedModel,
    audio: str | Path | bytes | Tensor,
    *,
    layers: list[int] | None = None,
    heads: list[int] | None = None,
    name: str | None = None,
    **decode: Any,
) -> AttentionView:
    """Transcript of ``audio`` (a WAV path, its bytes, or ``(N,)`` samples) and its attention streams."""
    lm.require("transcribe")
    if lm.cfg.model.arch != "transformer":
        raise ValueError(
            f"this speech checkpoint is the {lm.cfg.model.arch!r} baseline, which has no attention to show; "
            "use a Transformer one (model.arch: transformer)"
        )
    from attnkit.tasks.speech import feature_config

    feats = lm.audio_features(audio)  # (T, M)
    output = lm.transcribe_frames([feats], **decode)[0]
    tok, m = lm.tokenizer, lm.cfg.model
    device = next(lm.model.parameters()).device
    out_ids = tok.encode(output)
    tgt_in, tgt_out = [tok.bos_id, *out_ids], [*out_ids, tok.eos_id]
    streams = capture_streams(
        lm.model, feats[None].to(device), torch.tensor([tgt_in], device=device), layers=layers, heads=heads
    )
    fcfg = feature_config(lm.cfg.data)
    hop_s = fcfg.hop / fcfg.sample_rate
    n_frames = -(-feats.shape[0] // m.subsample)
    frames = [f"{j * m.subsample * hop_s:.2f}s" for j in range(n_frames)]
    in_labels, out_labels = token_labels(tok, tgt_in), token_labels(tok, tgt_out)
    for key, (q, k) in {
        "encoder": (frames, frames), "decoder": (in_labels, in_labels), "cross": (out_labels, frames)
    }.items():  # fmt: skip
        if key in streams:
            streams[key].queries, streams[key].keys = q, k
    meta = {
        "n_layers": {"encoder": m.n_encoder_layers or m.n_layers, "decoder": m.n_layers, "cross": m.n_layers},
        "checkpoint": str(lm.path),
        "spectrogram": feats,
        "frame_seconds": hop_s,
        "subsample": m.subsample,
    }
    label = name or (Path(audio).name if isinstance(audio, str | Path) else "audio")
    return AttentionView("speech", label, output, streams, meta)


def inspect_audio(lm: LoadedModel, req: InspectRequest) -> AttentionView:
    """The registry's inspector for speech: :func:`inspect_speech` on ``req.audio``."""
    if req.audio is None:
        raise ValueError("a speech model's attention view needs audio: a WAV file or its bytes")
    return inspect_speech(lm, req.audio, **req.selection, **req.decode)


def spectrogram_alignment_png(view: AttentionView, path: str | Path) -> Path:
    """The spectrogram (top) and each layer's cross-attention, letters x time, time-aligned."""
    plt = png.pyplot()
    fig = spectrogram_alignment_figure(view)
    out = png.save_figure(fig, path)
    plt.close(fig)
    return out


def spectrogram_alignment_figure(view: AttentionView):
    """The figure :func:`spectrogram_alignment_png` saves (the web app sends its bytes): the
    log-mel spectrogram with each letter's attention peak in the last layer marked, then one
    panel per captured layer of cross-attention (mean of heads) on the same time axis."""
    spec: Tensor = view.meta["spectrogram"]  # (T, M)
    cross = view.streams["cross"]
    s, hop = view.meta["subsample"], view.meta["frame_seconds"]
    seconds = spec.shape[0] * hop
    n_layers = len(cross.layers)
    plt = png.pyplot()
    fig, axes = plt.subplots(
        1 + n_layers, 1, figsize=(max(6.0, 5 * seconds + 2), 3 + 2.2 * n_layers), sharex=True,
        gridspec_kw={"height_ratios": [1.2] + [1.0] * n_layers}, squeeze=False,
    )  # fmt: skip
    top = axes[0][0]
    top.imshow(
        spec.t().numpy(), origin="lower", aspect="auto", cmap="magma", extent=[0, seconds, 0, spec.shape[1]]
    )
    top.set_ylabel("mel band")
    last = png.alignment_matrix(cross)  # (U, S), the last captured layer
    peaks = (last.argmax(-1).float() * s + s / 2) * hop  # seconds of each letter's peak
    for i, (letter, t) in enumerate(zip(cross.queries, peaks.tolist(), strict=True)):
        top.axvline(t, color="white", lw=0.6, alpha=0.6)
        # Staggered heights keep letters that peak on the same frame readable.
        top.text(t, spec.shape[1] * (0.92 - 0.09 * (i % 3)), letter, color="white", ha="center", fontsize=9)
    top.set_title(f"{view.input}: “{view.output}” (log-mel; marks: last layer's peaks)", fontsize=10)
    for ax, layer in zip((a[0] for a in axes[1:]), cross.layers, strict=True):
        align = png.alignment_matrix(cross, layer=layer)  # (U, S)
        # Each encoder frame stands for s feature frames: repeat its column to the time axis.
        wide = align.repeat_interleave(s, dim=1)[:, : spec.shape[0]]  # (U, S) -> (U, T)
        ax.imshow(wide.numpy(), aspect="auto", cmap="viridis", vmin=0.0,
                  extent=[0, seconds, len(cross.queries), 0], interpolation="nearest")  # fmt: skip
        ax.set_yticks([i + 0.5 for i in range(len(cross.queries))], cross.queries)
        ax.set_ylabel("output letter")
        ax.set_title(f"cross-attention, layer {layer}, mean of heads", fontsize=10)
    axes[-1][0].set_xlabel("time (s)")
    return fig
