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
MAX_TEXT_BYTES = {"config.yaml": 1 << 20, "manifest.json": 1 << 20, "tokenizer.json": 64 << 20,
                  "optimizer.json": 64 << 20}  # fmt: skip
"""The largest text file of each kind a checkpoint may hold; a bigger one is refused unread."""
MANIFEST_KEYS = ("format", "step", "tokenizer_sha256")


def member(d: Path, name: str) -> Path:
    """``d/name`` if it is a regular file inside ``d`` (a link may point only within ``d``).

    A checkpoint folder is handed over by someone else: a link out of it, a device such as
    /dev/zero or a FIFO (which would hang the reader) is refused before anything is read.

    Raises:
        FileNotFoundError: it is missing. ValueError: it is not a regular file inside ``d``.
    """
    p = d / name
    if not p.exists() and not p.is_symlink():
        raise FileNotFoundError(f"{p} is missing")
    real = p.resolve()
    if p.is_symlink() and not real.is_relative_to(d.resolve()):
        raise ValueError(f"{p} links outside the checkpoint folder (to {real}); copy the file in instead")
    if not real.is_file():
        raise ValueError(f"{p} is not a regular file; a checkpoint holds plain files only")
    return p


def read_member(d: Path, name: str) -> str:
    """The UTF-8 text of ``d/name`` (see :func:`member`), refused unread over its size cap."""
    p = member(d, name)
    size, cap = p.stat().st_size, MAX_TEXT_BYTES.get(name, 1 << 20)
    if size > cap:
        raise ValueError(f"{p} is {size:,} bytes; a checkpoint's {name} is at most {cap:,}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start})") from None


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
    meta = json.loads(read_member(d, "optimizer.json"))
    state: dict[int, dict[str, Any]] = {}
    for key, t in load_file(str(member(d, "optimizer.safetensors"))).items():
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
        m = json.loads(read_member(path, "manifest.json"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}/manifest.json is unreadable: {e}") from None
    if isinstance(m, dict) and "format" in m and m["format"] != FORMAT:
        raise ValueError(f"{path}: checkpoint format {m.get('format')!r}, this attnkit reads {FORMAT}")
    missing = [k for k in MANIFEST_KEYS if k not in m] if isinstance(m, dict) else list(MANIFEST_KEYS)
    if missing:
        raise ValueError(f"{path}/manifest.json lacks {', '.join(missing)}; it was not written by attnkit")
    return m


def load_run_config(path: Path) -> RunConfig:
    import yaml

    f = path / "config.yaml"
    try:
        data = yaml.safe_load(read_member(path, "config.yaml"))
    except yaml.YAMLError as e:
        raise ValueError(f"{f} is not valid YAML: {' '.join(str(e).split())}") from None
    if data is None:
        raise ValueError(f"{f} is empty; a checkpoint's config.yaml holds the run's whole config")
    if not isinstance(data, dict):
        raise ValueError(f"{f} must be a mapping of config sections, got {type(data).__name__}")
    try:
        return from_dict(RunConfig, data)
    except ValueError as e:
        raise ValueError(f"{f}: {e}") from None


def load_tokenizer_checked(path: Path, manifest: dict[str, Any], cfg: RunConfig) -> Tokenizer:
    """The checkpoint's tokenizer, refusing one that does not match the weights."""
    read_member(path, "tokenizer.json")  # a regular file inside, within its size cap
    tok = load_tokenizer(path / "tokenizer.json")
    if tok.fingerprint() != manifest["tokenizer_sha256"] or tok.vocab_size != cfg.model.vocab_size:
        raise ValueError(
            f"{path}: tokenizer.json does not match this checkpoint (vocab {tok.vocab_size}, model "
            f"vocab {cfg.model.vocab_size}); it was replaced or edited. Restore the tokenizer saved "
            "with the model"
        )
    return tok


def load_weights(model: nn.Module, path: Path) -> None:
    f = member(path, "model.safetensors")
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
    return load_file(str(member(path, "rng.safetensors"))) if f.exists() or f.is_symlink() else {}


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
