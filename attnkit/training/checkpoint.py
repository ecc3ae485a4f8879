"""Checkpoints: safetensors weights plus config, tokenizer, optimizer and RNG state.

A checkpoint is a directory::

    model.safetensors       weights (tied weights stored once)
    optimizer.safetensors   AdamW moment tensors   + optimizer.json (hyper-parameters, steps)
    rng.safetensors         torch CPU/CUDA and data-sampler generator states
    config.yaml             the resolved RunConfig
    tokenizer.json          the tokenizer
    manifest.json           format version, step, metrics, tokenizer fingerprint

Nothing is pickled, so loading a checkpoint never runs code from it. The directory is written
under a temporary name and swapped in with renames, so an interrupted save leaves the previous
checkpoint intact (a crash between the two renames leaves it as ``<dir>.old``, which
:func:`resolve_checkpoint` still finds).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from attnkit.config.base import from_dict, save_yaml
from attnkit.config.run import RunConfig
from attnkit.text.base import Tokenizer, load_tokenizer

FORMAT = 1


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")


def _optimizer_to_files(opt: torch.optim.Optimizer, d: Path) -> None:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{idx}.{k}"] = v
    save_file(tensors, str(d / "optimizer.safetensors"))
    _write_json(d / "optimizer.json", {"param_groups": sd["param_groups"], "scalars": scalars})


def _optimizer_from_files(opt: torch.optim.Optimizer, d: Path) -> None:
    meta = json.loads((d / "optimizer.json").read_text(encoding="utf-8"))
    state: dict[int, dict[str, Any]] = {}
    for key, t in load_file(str(d / "optimizer.safetensors")).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = t
    for key, v in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    cfg: RunConfig,
    tokenizer: Tokenizer,
    optimizer: torch.optim.Optimizer | None = None,
    rng: dict[str, torch.Tensor] | None = None,
    step: int = 0,
    metrics: dict[str, float] | None = None,
    schedule_steps: int | None = None,
) -> Path:
    """Write a checkpoint directory atomically; returns its path. ``schedule_steps`` records a
    schedule length fitted to a time budget (``train.fit_schedule_to_budget``)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    if optimizer is not None:
        _optimizer_to_files(optimizer, tmp)
    if rng:
        save_file({k: v.contiguous() for k, v in rng.items()}, str(tmp / "rng.safetensors"))
    save_yaml(cfg, tmp / "config.yaml")
    tokenizer.save(tmp / "tokenizer.json")
    _write_json(
        tmp / "manifest.json",
        {
            "format": FORMAT,
            "step": step,
            "metrics": metrics or {},
            **({"schedule_steps": schedule_steps} if schedule_steps is not None else {}),
            "model_class": type(model).__name__,
            "vocab_size": tokenizer.vocab_size,
            "tokenizer_sha256": tokenizer.fingerprint(),
        },
    )
    old = final.with_name(final.name + ".old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def recover_run_dir(out: Path, names: tuple[str, ...] = ("last", "best", "averaged")) -> list[str]:
    """Finish or undo what a killed run left in ``out``; returns what was done, for the log.

    :func:`save_checkpoint` swaps ``name`` aside to ``name.old`` before moving the new one in. A
    kill between the two leaves only ``name.old``: it is moved back, so the previous complete
    checkpoint (the true best, say) is never lost. With both present, the swap finished and the
    ``.old`` copy goes. Temporary directories of interrupted writes are removed."""
    done = []
    for name in names:
        final, old = out / name, out / f"{name}.old"
        if not old.is_dir():
            continue
        if (final / "manifest.json").is_file():
            shutil.rmtree(old, ignore_errors=True)
        elif (old / "manifest.json").is_file():
            shutil.rmtree(final, ignore_errors=True)
            os.replace(old, final)
            done.append(f"restored {final} from the interrupted swap ({old.name})")
    for tmp in sorted(out.glob(".*.tmp-*")) if out.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)
        done.append(f"removed {tmp.name}, left by an interrupted checkpoint write")
    return done


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint directory at ``path`` (or its ``.old`` twin after an interrupted swap).

    Raises:
        FileNotFoundError: naming what is missing.
    """
    p = Path(path)
    for cand in (p, p.with_name(p.name + ".old")):
        if (cand / "manifest.json").is_file():
            return cand
    if p.is_dir() and (p / "last" / "manifest.json").is_file():
        return p / "last"  # a run directory: use its latest checkpoint
    raise FileNotFoundError(
        f"no checkpoint at {p}: expected a directory with manifest.json, model.safetensors, "
        "config.yaml and tokenizer.json (or a run directory containing last/); attnkit.load also "
        "takes a pretrained name (minilm, smollm2) or an HF-format directory with config.json"
    )


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}/manifest.json is unreadable: {e}") from None
    if m.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {m.get('format')!r}, this attnkit reads {FORMAT}")
    return m


def load_run_config(path: Path) -> RunConfig:
    import yaml

    data = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    return from_dict(RunConfig, data)


def load_tokenizer_checked(path: Path, manifest: dict[str, Any], cfg: RunConfig) -> Tokenizer:
    """The checkpoint's tokenizer, refusing one that does not match the weights."""
    tok = load_tokenizer(path / "tokenizer.json")
    if tok.fingerprint() != manifest["tokenizer_sha256"] or tok.vocab_size != cfg.model.vocab_size:
        raise ValueError(
            f"{path}: tokenizer.json does not match this checkpoint (vocab {tok.vocab_size}, model "
            f"vocab {cfg.model.vocab_size}); it was replaced or edited. Restore the tokenizer saved "
            "with the model"
        )
    return tok


def load_weights(model: nn.Module, path: Path) -> None:
    f = path / "model.safetensors"
    if not f.is_file():
        raise FileNotFoundError(f"{f} is missing")
    try:
        missing, unexpected = load_model(model, str(f), strict=False)
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{f} is corrupt or not a safetensors file: {e}") from None
    if missing or unexpected:
        raise ValueError(
            f"{f} does not fit {type(model).__name__} built from config.yaml: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )


def load_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    _optimizer_from_files(opt, path)


def load_rng(path: Path) -> dict[str, torch.Tensor]:
    f = path / "rng.safetensors"
    return load_file(str(f)) if f.is_file() else {}


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of model state dicts (checkpoint averaging, Vaswani et al. 2017).

    Floating tensors are averaged in float64 and cast back; integer buffers are taken from the
    last state. Raises ValueError if the states do not have the same keys and shapes.
    """
    if not states:
        raise ValueError("no states to average")
    keys = list(states[-1])
    out = {}
    for k in keys:
        ts = [s[k] for s in states if k in s]
        if len(ts) != len(states) or any(t.shape != ts[0].shape for t in ts):
            raise ValueError(f"cannot average: parameter {k!r} is missing or differs in shape")
        if ts[0].is_floating_point():
            out[k] = (sum(t.double() for t in ts) / len(ts)).to(ts[0].dtype)
        else:
            out[k] = ts[-1].clone()
    return out
