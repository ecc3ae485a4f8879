"""``export_model``: choose the writer for a loaded model, write atomically, check the copy.

Every export is run in its engine before it is kept, on fixed check inputs, against attnkit:

- the largest logit (or hidden-state) difference, divided by the largest attnkit value, must be
  at most :data:`TOLERANCE` (fp32 exports 1e-3; int8 exports 0.15: two different int8 schemes);
- fp32 decoder and encoder-decoder exports must choose the same 12 greedy tokens as attnkit;
  int8 exports report how many of the 12 agree.

A failed check raises :class:`ExportError` and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnkit.models.classifier import TransformerClassifier
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder
from attnkit.models.seq2seq import EncoderDecoder

FORMATS = ("onnx", "ct2")
TOLERANCE = {"none": 1e-3, "int8": 0.15}
GREEDY_TOKENS = 12


class ExportError(ValueError):
    """An export that cannot be written or did not match attnkit (the message says which)."""


def onnx_kind(model: nn.Module) -> str | None:
    """``decoder``, ``classifier`` or ``encoder`` for what ONNX export holds, else None."""
    if isinstance(model, Decoder) and not model.cross_attention:
        return "decoder"
    if isinstance(model, TransformerClassifier):
        return "classifier"
    # Exactly an Encoder: the speech model's audio encoder subclasses it with a frame front end.
    return "encoder" if type(model) is Encoder else None


def check_exportable(model: nn.Module, fmt: str) -> None:
    """Raise ExportError naming the option when ``fmt`` cannot hold ``model``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if getattr(model, "quantized", "none") != "none":
        raise ExportError(
            "export from the fp32 model: load it without --quantize and pass --quantize to export"
        )
    if fmt == "onnx" and onnx_kind(model) is None:
        hint = " (use --format ct2)" if isinstance(model, EncoderDecoder) else ""
        what = "ONNX export holds decoders, encoders and Transformer classifiers"
        raise ExportError(f"{what}, not {type(model).__name__}{hint}")
    if fmt == "ct2":
        from attnkit.export.ct2 import check_ct2

        why = check_ct2(model)
        if why:
            raise ExportError(f"cannot export to CTranslate2: {why}")


def export_model(
    lm: Any, fmt: str, out: str | os.PathLike, *, quantize: str = "none", force: bool = False
) -> dict:
    """Write ``lm`` (an :class:`attnkit.api.LoadedModel`) to ``out`` in ``fmt`` and check it;
    returns the check report, also saved as ``out/attnkit-export.json``."""
    if quantize not in TOLERANCE:
        raise ExportError(f"export --quantize takes none or int8, not {quantize!r}")
    model = lm.model
    check_exportable(model, fmt)
    _check_engines(fmt)
    out = Path(out)
    if out.exists() and not force:
        raise ExportError(f"{out} already exists; choose another --out or pass --force to replace it")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model = model.float().cpu().eval()
        if fmt == "onnx":
            from attnkit.export.check import check_onnx

            report = check_onnx(model, tmp, quantize)
        else:
            from attnkit.export.check import check_ct2_export

            tok = lm.tokenizer
            specials = {"bos": tok.bos_id, "eos": tok.eos_id, "unk": tok.unk_id}
            report = check_ct2_export(model, tmp, quantize, specials)
        report |= {"format": fmt, "quantize": quantize, "source": str(lm.path), "task": lm.cfg.task}
        for name in ("tokenizer.json", "tokenizer_config.json"):
            if (Path(lm.path) / name).is_file():  # the ids the exported model reads
                shutil.copy(Path(lm.path) / name, tmp / name)
        (tmp / "attnkit-export.json").write_text(json.dumps(report, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


ENGINES = {"onnx": ("onnx", "onnxruntime"), "ct2": ("ctranslate2",)}


def _check_engines(fmt: str) -> None:
    import importlib.util

    missing = [name for name in ENGINES[fmt] if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(
            f"--format {fmt} needs {' and '.join(missing)}, which is not installed: "
            "pip install 'attnkit[export]'"
        )


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max |want|."""
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))
