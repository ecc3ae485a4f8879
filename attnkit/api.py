"""The Python API, mirroring the CLI verbs: ``train``, ``load`` -> ``generate`` / ``evaluate``.

import attnkit
cfg = attnkit.load_config("configs/lm/shakespeare-char.yaml", ["train.max_steps=200"])
attnkit.train(cfg)
lm = attnkit.load("runs/shakespeare-char/best")
print(lm.generate("ROMEO:", max_new_tokens=100, temperature=0.8))
lm.evaluate("valid")            # {'loss': ..., 'ppl': ..., 'bpc': ..., 'unit': 'character'}
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnkit.config.base import apply_overrides, load_yaml
from attnkit.config.run import RunConfig
from attnkit.decode.generate import generate_text
from attnkit.decode.seq2seq import transduce
from attnkit.models.factory import build_model
from attnkit.tasks import TASKS
from attnkit.text.base import Tokenizer
from attnkit.train import checkpoint as ckpt
from attnkit.train.trainer import Trainer


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RunConfig:
    """A recipe YAML plus dotted overrides, as a :class:`RunConfig`."""
    return load_yaml(RunConfig, path, overrides)


def train(cfg: RunConfig, *, resume: bool = False, until_step: int | None = None) -> dict:
    """Train as ``cfg`` says; ``resume`` continues from ``<out_dir>/last``. Returns the last eval."""
    task = TASKS[cfg.task](cfg)
    cfg = dataclasses.replace(cfg, model=task.model_config(cfg.model))
    torch.manual_seed(cfg.train.seed)  # the initial weights are part of the run's reproducibility
    model = build_model(cfg.model, task.family)
    trainer = Trainer(cfg, task, model)
    reports = getattr(task, "vocab_reports", None)
    if reports and trainer.dist.is_main:  # tokens per character and <unk> rate, per side
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out_dir) / "vocab_report.json").write_text(json.dumps(reports, indent=2) + "\n")
    if resume:
        trainer.resume()
    return trainer.fit(until_step=until_step)


@dataclass
class LoadedModel:
    """A trained checkpoint: model, tokenizer and the config it was trained with."""

    model: nn.Module
    tokenizer: Tokenizer
    cfg: RunConfig
    path: Path
    manifest: dict[str, Any]
    _task: Any = field(default=None, init=False, repr=False)
    """The task (corpus + token streams), built on the first evaluate and reused."""

    def stream(self, prompt: str, **decode: Any) -> Iterator[str]:
        """Yield the continuation of ``prompt`` chunk by chunk (decode overrides as kwargs)."""
        cfg = dataclasses.replace(self.cfg.decode, **decode)
        return generate_text(self.model, self.tokenizer, prompt, cfg)

    def generate(self, prompt: str, **decode: Any) -> str:
        return "".join(self.stream(prompt, **decode))

    @property
    def task(self) -> Any:
        """The task (data + tokenized splits), built on first use: loading it is the slow part."""
        if self._task is None:
            self._task = TASKS[self.cfg.task](self.cfg, tokenizer=self.tokenizer)
        return self._task

    @property
    def is_seq2seq(self) -> bool:
        return TASKS[self.cfg.task].family == "seq2seq"

    def transduce(
        self, texts: Sequence[str], *, batch_size: int = 64, progress=None, **decode: Any
    ) -> list[str]:
        """Translate or summarize each text (decode overrides as kwargs, e.g. ``beam_size=1``)."""
        if not self.is_seq2seq:
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model; use generate() instead")
        cfg = dataclasses.replace(self.cfg.decode, **decode)
        return transduce(
            self.model,
            self.tokenizer,
            list(texts),
            cfg,
            self.cfg.data,
            batch_size=batch_size,
            progress=progress,
        )

    translate = transduce
    summarize = transduce

    def respond(self, history: Sequence[str], **decode: Any) -> str:
        """The next turn after ``history`` (the dialogue so far, oldest first; a dialogue checkpoint).

        The context is built as in training: the last ``data.context_turns`` turns with speaker
        markers, the first turn being speaker A.
        """
        if self.cfg.task != "dialogue":
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model, not a dialogue model")
        if not history:
            raise ValueError("respond() needs the dialogue so far: at least one turn")
        from attnkit.data.pair_datasets import dialogue_context

        return self.transduce([dialogue_context(list(history), self.cfg.data.context_turns)], **decode)[0]

    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``{"label": best, "probs": {label: p}}`` for each text (a classification checkpoint)."""
        if self.cfg.task != "classification":
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model, not a classifier")
        from attnkit.tasks.classify import ClassificationTask

        task = ClassificationTask.for_inference(self.cfg, self.tokenizer)
        probs = task.predict_proba(self.model, list(texts))
        labels = self.cfg.model.labels or []
        return [
            {
                "label": labels[int(p.argmax())],
                "probs": {name: round(float(x), 6) for name, x in zip(labels, p, strict=True)},
            }
            for p in probs
        ]

    def evaluate(
        self,
        split: str = "test",
        max_batches: int | None = None,
        *,
        decode: bool = True,
        limit: int | None = None,
        **decode_overrides: Any,
    ) -> dict:
        """Metrics of the task on ``split`` (the data is loaded the way the run loaded it).

        Seq2seq models also decode the split (unless ``decode=False``; ``limit`` keeps the
        first N examples) and add BLEU/chrF or ROUGE; the outputs are under ``"hypotheses"``.
        """
        m = self.task.evaluate(self.model, split, self.cfg.train.batch_size, max_batches)
        if self.is_seq2seq and decode:
            sources = self.task.sources(split)[:limit]
            hyps = self.transduce(sources, **decode_overrides)
            m = {**m, **self.task.score(hyps, split), "hypotheses": hyps, "examples": len(hyps)}
        return m


def load(path: str | os.PathLike, *, device: str = "cpu", overrides: Sequence[str] = ()) -> LoadedModel:
    """Load a checkpoint directory (or a run directory, meaning its ``last/``).

    Raises:
        FileNotFoundError: nothing loadable at ``path``.
        ValueError: corrupt weights, or a tokenizer that does not match the weights.
    """
    d = ckpt.resolve_checkpoint(path)
    manifest = ckpt.read_manifest(d)
    cfg = apply_overrides(ckpt.load_run_config(d), overrides)
    tokenizer = ckpt.load_tokenizer_checked(d, manifest, cfg)
    family = TASKS[cfg.task].family
    model = build_model(cfg.model, family)
    ckpt.load_weights(model, d)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, cfg, d, manifest)
