"""The long-range study: attention, LSTM and CNN of matched size on copy, recall and induction.

One harness trains every (task, model, length) cell the same way: fresh synthetic batches from a
seeded generator, AdamW with warmup and cosine decay, a fixed held-out set per (task, length) that
every model is scored on, and early stopping once a model is perfect on it. Models:

- ``transformer``: the attnkit :class:`Decoder` (RoPE, pre-norm), with the ``sdpa`` backend;
- ``transformer+<backend>``: the same model and weights budget on another registered backend
  (``local:<W>`` and ``linear`` by default; ``tiled`` computes the same function as ``sdpa``
  (tested equal), so it only joins the cost measurement unless listed; ``reference`` for the
  textbook O(T^2) cost);
- ``lstm``: :class:`LSTMLanguageModel`, width chosen to match the Transformer's parameters;
- ``cnn``: :class:`ConvLanguageModel` (causal, dilated), width matched likewise.

All use ``init: fan_in`` and an untied output head: at d_model=64, GPT-2's N(0, 0.02) init
leaves the Transformer on a plateau on associative recall for thousands of steps (measured:
~33% after 3,300 steps at T=16), where fan-in init learns it in a few hundred.

Results are appended to ``<out>/results.jsonl`` one cell at a time, so an interrupted study
resumes where it stopped (cells whose key is already there are skipped).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from attnkit.config.model import ModelConfig
from attnkit.data.synthetic import TASKS, make_batch
from attnkit.models.base import AttnkitModel
from attnkit.models.conv_lm import receptive_field
from attnkit.models.factory import build_model
from attnkit.training.optim import param_groups

log = logging.getLogger("attnkit")


@dataclass
class StudyConfig:
    """Everything that decides the study's numbers (saved beside the results)."""

    tasks: list[str] = field(default_factory=lambda: ["recall", "induction", "copy"])
    lengths: list[int] = field(default_factory=lambda: [16, 64, 256, 512])
    models: list[str] = field(
        default_factory=lambda: [
            "transformer",
            "lstm",
            "cnn",
            "transformer+local:32",
            "transformer+linear",
        ]
    )
    d_model: int = 64
    """Transformer width; the LSTM and CNN widths are solved to match its parameter count."""
    n_layers: int = 2
    n_heads: int = 4
    lstm_layers: int = 2
    cnn_layers: int = 6
    """Dilations 1, 2, ..., 32 with kernel 3: a receptive field of 127 positions."""
    steps: int = 800
    """Optimizer steps per cell at most (early stopping usually ends sooner)."""
    batch_tokens: int = 2048
    """Tokens per batch; the batch size is batch_tokens // length, at least min_batch."""
    min_batch: int = 8
    lr: float = 2e-3
    warmup_steps: int = 50
    eval_every: int = 100
    eval_sequences: int = 256
    """Held-out sequences per (task, length), the same for every model."""
    stop_accuracy: float = 0.995
    """Early stop once held-out accuracy reaches this."""
    seed: int = 1337
    threads: int = 0
    """torch threads (0 = torch's default)."""
    profile_lengths: list[int] = field(default_factory=lambda: [64, 128, 256, 512, 1024, 2048, 4096])
    profile_batch: int = 4


def _seed_for(*parts: object) -> int:
    # Stable across runs and machines (Python's hash() is salted per process).
    return int.from_bytes(hashlib.sha1(repr(parts).encode()).digest()[:4], "little")


def transformer_config(cfg: StudyConfig, vocab: int, max_len: int, backend: str = "sdpa") -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        positions="rope",
        max_seq_len=max_len,
        attn_backend=backend,
        init="fan_in",
        tie_embeddings=False,
    )


def _matched(target: int, make: Callable[[int], ModelConfig]) -> ModelConfig:
    """The width whose model has the parameter count nearest ``target``."""
    best = None
    for width in range(8, 1025, 2):
        mc = make(width)
        n = build_model(mc).num_parameters()
        if best is None or abs(n - target) < best[0]:
            best = (abs(n - target), mc)
        if n > target:
            break
    return best[1]


def model_config(name: str, cfg: StudyConfig, vocab: int, max_len: int) -> ModelConfig:
    """The config of study model ``name`` (see the module docstring)."""
    base = transformer_config(cfg, vocab, max_len)
    if name == "transformer":
        return base
    if name.startswith("transformer+"):
        return transformer_config(cfg, vocab, max_len, backend=name.split("+", 1)[1])
    target = build_model(base).num_parameters()
    common = dict(vocab_size=vocab, n_heads=1, max_seq_len=max_len, init="fan_in", tie_embeddings=False)
    if name == "lstm":
        return _matched(
            target,
            lambda w: ModelConfig(arch="lstm", d_model=w, n_layers=cfg.lstm_layers, **common),
        )
    if name == "cnn":
        return _matched(
            target,
            lambda w: ModelConfig(arch="cnn", d_model=w, n_layers=cfg.cnn_layers, **common),
        )
    raise ValueError(
        f"unknown study model {name!r}: use transformer, transformer+<backend> "
        "(tiled, local:<W>, linear, reference), lstm or cnn"
    )


def build(name: str, cfg: StudyConfig, task: str, max_len: int, seed: int) -> AttnkitModel:
    torch.manual_seed(seed)
    return build_model(model_config(name, cfg, TASKS[task][1], max_len))


def describe(model: AttnkitModel) -> str:
    c = model.cfg
    if c.arch == "cnn":
        return f"CNN {c.n_layers}x{c.d_model}, kernel {c.conv_kernel}, receptive field {receptive_field(c)}"
    if c.arch == "lstm":
        return f"LSTM {c.n_layers}x{c.d_model}"
    return f"Transformer {c.n_layers}x{c.d_model}, {c.n_heads} heads, RoPE, {c.attn_backend}"


def distance_bucket(d: int) -> int:
    """Upper edge of the power-of-two bucket holding distance ``d`` (1, 2, 4, 8, ...)."""
    return 1 << max(0, math.ceil(math.log2(max(d, 1))))


@torch.no_grad()
def evaluate(model: AttnkitModel, task: str, seq_len: int, cfg: StudyConfig, chunk: int = 32) -> dict:
    """Held-out accuracy overall and per distance bucket, on data fixed by (seed, task, length)."""
    model.eval()
    gen = torch.Generator().manual_seed(_seed_for(cfg.seed, "eval", task, seq_len))
    right: dict[int, int] = {}
    total: dict[int, int] = {}
    for start in range(0, cfg.eval_sequences, chunk):
        b = make_batch(task, min(chunk, cfg.eval_sequences - start), seq_len, gen)
        pred = model(b.ids).logits.argmax(-1)  # (B, T, V) -> (B, T)
        asked = b.targets >= 0
        ok = (pred == b.targets)[asked]
        for d, hit in zip(b.distance[asked].tolist(), ok.tolist(), strict=True):
            k = distance_bucket(d)
            total[k] = total.get(k, 0) + 1
            right[k] = right.get(k, 0) + int(hit)
    model.train()
    n = sum(total.values())
    return {
        "accuracy": sum(right.values()) / n,
        "by_distance": {str(k): [right[k], total[k]] for k in sorted(total)},
    }


def train_cell(
    task: str, name: str, seq_len: int, cfg: StudyConfig, progress: Callable[[str], None] | None = None
) -> dict:
    """Train one model on one task at one length; return its row of results."""
    seed = _seed_for(cfg.seed, task, seq_len)  # same init seed and data stream for every model
    model = build(name, cfg, task, seq_len, seed)
    model.train()
    opt = torch.optim.AdamW(param_groups(model, 0.0), lr=cfg.lr, betas=(0.9, 0.98))
    gen = torch.Generator().manual_seed(seed)
    batch = max(cfg.min_batch, cfg.batch_tokens // seq_len)
    t0 = time.perf_counter()
    result = {"accuracy": 0.0, "by_distance": {}}
    step = 0
    for step in range(1, cfg.steps + 1):
        lr = cfg.lr * min(step / cfg.warmup_steps, 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        b = make_batch(task, batch, seq_len, gen)
        loss = model(b.ids, b.targets).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name} on {task} at T={seq_len}: loss is {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            result = evaluate(model, task, seq_len, cfg)
            elapsed = time.perf_counter() - t0
            if progress:
                tok_s = step * batch * seq_len / elapsed
                eta = elapsed / step * (cfg.steps - step)
                progress(
                    f"{task:<9} {name:<22} T={seq_len:<5} step {step:>5}/{cfg.steps} loss {loss.item():.3f} "
                    f"acc {100 * result['accuracy']:6.2f}%  {tok_s:,.0f} tok/s  ETA(cap) {eta:.0f}s"
                )
            if result["accuracy"] >= cfg.stop_accuracy:
                break
    return {
        "task": task,
        "model": name,
        "length": seq_len,
        "params": model.num_parameters(),
        "describe": describe(model),
        "steps": step,
        "batch": batch,
        "train_s": time.perf_counter() - t0,
        **result,
    }


def cell_key(row: dict) -> str:
    return f"{row['task']}|{row['model']}|{row['length']}"


def run_study(cfg: StudyConfig, out: Path, progress: Callable[[str], None] | None = print) -> list[dict]:
    """Train every missing cell of ``cfg`` into ``out/results.jsonl``; return all rows."""
    for t in cfg.tasks:
        if t not in TASKS:
            raise ValueError(f"unknown synthetic task {t!r}; choose from {sorted(TASKS)}")
    for m in cfg.models:
        model_config(m, cfg, 8, 16)  # fail on a bad model name before hours of training
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    path = out / "results.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    done = {cell_key(r) for r in rows}
    for task in cfg.tasks:
        for seq_len in cfg.lengths:
            for name in cfg.models:
                if f"{task}|{name}|{seq_len}" in done:
                    continue
                row = train_cell(task, name, seq_len, cfg, progress)
                rows.append(row)
                with path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                if progress:
                    progress(
                        f"== {task} {name} T={seq_len}: {100 * row['accuracy']:.2f}% "
                        f"in {row['steps']} steps, {row['train_s']:.0f}s"
                    )
    keep = {f"{t}|{m}|{n}" for t in cfg.tasks for m in cfg.models for n in cfg.lengths}
    return [r for r in rows if cell_key(r) in keep]
