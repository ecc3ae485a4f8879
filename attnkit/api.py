"""The Python API, mirroring the CLI verbs: ``train``, ``load`` -> ``generate`` / ``evaluate``.

import attnkit
cfg = attnkit.load_config("configs/lm/shakespeare-char.yaml", ["train.max_steps=200"])
attnkit.train(cfg)
lm = attnkit.load("runs/shakespeare-char/best")
print(lm.generate("ROMEO:", max_new_tokens=100, temperature=0.8))
lm.evaluate("valid")            # {'loss': ..., 'ppl': ..., 'bpc': ..., 'unit': 'character'}

Pretrained models load by name or from an HF-format directory, into attnkit's own classes:

mini = attnkit.load("minilm");  mini.embed(["a sentence"])      # (1, 384), L2-normalised
smol = attnkit.load("smollm2"); smol.respond(["Hi, who are you?"])
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnkit.config.base import apply_overrides, load_yaml
from attnkit.config.run import RunConfig
from attnkit.layers.quant import QUANTIZE_MODES
from attnkit.models.factory import build_model
from attnkit.models.quantize import quantize_model
from attnkit.predict import Predictor
from attnkit.tasks.registry import TaskKind, get_task_kind
from attnkit.text.base import Tokenizer
from attnkit.training import checkpoint as ckpt
from attnkit.training.device import DEVICES, select_device
from attnkit.training.plots import plot_confusion, plot_losses
from attnkit.training.trainer import Trainer, TrainingError

__all__ = [
    "DEVICES",
    "LoadedModel",
    "TrainingError",
    "load",
    "load_config",
    "load_pretrained",
    "plot_confusion",
    "plot_losses",
    "select_device",
    "train",
]


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RunConfig:
    """A recipe YAML plus dotted overrides, as a :class:`RunConfig`."""
    return load_yaml(RunConfig, path, overrides)


def train(cfg: RunConfig, *, resume: bool = False, until_step: int | None = None) -> dict:
    """Train as ``cfg`` says; ``resume`` continues from ``<out_dir>/last``. Returns the last eval."""
    pre = load(cfg.init_from) if cfg.init_from else None
    task_cls = get_task_kind(cfg.task).task_class()
    task = task_cls(cfg, tokenizer=pre.tokenizer) if pre else task_cls(cfg)
    base = cfg.model
    if pre is not None:
        keep = (
            "dropout",
            "attn_dropout",
            "pooling",
            "attn_backend",
            "lora_rank",
            "lora_alpha",
            "lora_targets",
            "grad_checkpoint",
        )
        base = dataclasses.replace(pre.cfg.model, **{k: getattr(cfg.model, k) for k in keep})
    # A task that resolves data settings (a prompt template) saves them resolved with the run.
    cfg = dataclasses.replace(cfg, model=task.model_config(base), data=getattr(task, "data_config", cfg.data))
    torch.manual_seed(cfg.train.seed)  # the initial weights are part of the run's reproducibility
    model = build_model(cfg.model, task.family)
    if pre is not None:
        _load_pretrained_body(model, pre.model)
    trainer = Trainer(cfg, task, model)
    reports = getattr(task, "vocab_reports", None)
    if reports and trainer.dist.is_main:  # tokens per character and <unk> rate, per side
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out_dir) / "vocab_report.json").write_text(json.dumps(reports, indent=2) + "\n")
    if resume:
        trainer.resume()
    return trainer.fit(until_step=until_step)


def _load_pretrained_body(model: nn.Module, body: nn.Module) -> None:
    """Copy a pretrained stack into ``model``: all of it (an LM) or its ``encoder`` (a classifier).
    LoRA-wrapped projections keep their pretrained weight under ``.base``."""
    target = model.encoder if hasattr(model, "encoder") and not hasattr(body, "encoder") else model
    own = target.state_dict()
    sd = {}
    for k, v in body.state_dict().items():
        alt = k.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        sd[k if k in own else alt] = v
    missing, unexpected = target.load_state_dict(sd, strict=False)
    missing = [m for m in missing if "lora_" not in m and m != "lm_head.weight"]
    if missing or unexpected:
        raise ValueError(f"pretrained weights do not fit: missing={missing[:5]}, unexpected={unexpected[:5]}")


@dataclass
class LoadedModel:
    """A loaded checkpoint: model, tokenizer, the config it was trained with, and the predictor
    that runs its task's verbs. The verb methods below delegate to the predictor; a verb the
    task does not serve is a ValueError naming the task and the verbs it has."""

    model: nn.Module
    tokenizer: Tokenizer
    cfg: RunConfig
    path: Path
    manifest: dict[str, Any]
    _task: Any = field(default=None, init=False, repr=False)
    """The task (corpus + token streams), built on the first evaluate and reused."""
    _predictor: Any = field(default=None, init=False, repr=False)

    @property
    def kind(self) -> TaskKind:
        """The registry entry of this model's task."""
        return get_task_kind(self.cfg.task)

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            self._predictor = self.kind.resolve("predictor")(self)
        return self._predictor

    @property
    def verbs(self) -> tuple[str, ...]:
        """What this model serves: ``generate``, ``translate``, ``chat``, ``classify``, …"""
        return self.predictor.verbs()

    def require(self, verb: str) -> None:
        """A ValueError naming the task and its verbs unless this model serves ``verb``."""
        if verb not in self.verbs:
            raise self.predictor.refuse(verb)

    def _verb(self, verb: str, method: str) -> Callable[..., Any]:
        fn = getattr(self.predictor, method, None)
        if fn is None or verb not in self.verbs:
            raise self.predictor.refuse(verb, f" ({method}() is not available)")
        return fn

    @property
    def task(self) -> Any:
        """The task (data + tokenized splits), built on first use: loading it is the slow part."""
        if self._task is None:
            self._task = self.kind.task_class()(self.cfg, tokenizer=self.tokenizer)
        return self._task

    @property
    def is_seq2seq(self) -> bool:
        return self.kind.family == "seq2seq"

    @property
    def chat_format(self) -> dict[str, str] | None:
        """``{"format", "system"}`` for instruction-tuned pretrained LMs, else None."""
        return self.manifest.get("chat") or None

    @property
    def can_chat(self) -> bool:
        return "chat" in self.verbs

    # The verbs, as the README documents them; each delegates to the predictor.
    def generate(self, prompt: str, **decode: Any) -> str:
        return self._verb("generate", "generate")(prompt, **decode)

    def stream(self, prompt: str, **decode: Any) -> Iterator[str]:
        """Yield the continuation of ``prompt`` chunk by chunk (decode overrides as kwargs)."""
        return self._verb("generate", "stream")(prompt, **decode)

    def transduce(self, texts: Sequence[str], **kw: Any) -> list[str]:
        """Translate or summarize each text (``batch_size``, ``progress``, decode overrides)."""
        return self._verb(self.kind.main_verb, "transduce")(texts, **kw)

    def translate(self, texts: Sequence[str], **kw: Any) -> list[str]:
        return self._verb("translate", "translate")(texts, **kw)

    def summarize(self, texts: Sequence[str], **kw: Any) -> list[str]:
        return self._verb("summarize", "summarize")(texts, **kw)

    def respond(self, history: Sequence[str], **decode: Any) -> str:
        """The next turn after ``history`` (the conversation so far, oldest first)."""
        return self._verb("chat", "respond")(history, **decode)

    def respond_stream(self, history: Sequence[str], **decode: Any) -> Iterator[str]:
        """An instruction-tuned LM's next turn after ``history`` (user first), chunk by chunk."""
        return self._verb("chat", "respond_stream")(history, **decode)

    def chat_prompt(self, history: Sequence[str]) -> str:
        """The prompt for the next assistant turn after ``history`` in the model's chat format."""
        return self._verb("chat", "chat_prompt")(history)

    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``{"label": best, "probs": {label: p}}`` for each text (a classification checkpoint)."""
        return self._verb("classify", "classify")(texts)

    def embed(self, texts: Sequence[str], **kw: Any) -> torch.Tensor:
        """Sentence embeddings ``(N, C)`` (``batch_size``, ``normalize``; a pretrained encoder)."""
        return self._verb("embed", "embed")(texts, **kw)

    def transcribe(self, audio: Sequence[Any], **kw: Any) -> list[str]:
        """The transcript of each WAV file or ``(N,)`` waveform (``split_on_silence``, decode)."""
        return self._verb("transcribe", "transcribe")(audio, **kw)

    def transcribe_pieces(
        self, audio: Sequence[Any], *args: Any, **kw: Any
    ) -> list[list[tuple[float, float, str]]]:
        return self._verb("transcribe", "transcribe_pieces")(audio, *args, **kw)

    def transcribe_frames(self, frames: Sequence[torch.Tensor], **decode: Any) -> list[str]:
        return self._verb("transcribe", "transcribe_frames")(frames, **decode)

    def audio_waveform(self, audio: Any) -> torch.Tensor:
        return self._verb("transcribe", "audio_waveform")(audio)

    def audio_features(self, audio: Any) -> torch.Tensor:
        return self._verb("transcribe", "audio_features")(audio)

    def evaluate(self, split: str = "test", max_batches: int | None = None, **kw: Any) -> dict:
        """Metrics of the task on ``split`` (the data is loaded the way the run loaded it).

        Seq2seq and speech models also decode the split (unless ``decode=False``; ``limit``
        keeps the first N examples) and add BLEU/chrF, ROUGE or WER; the outputs are under
        ``"hypotheses"``."""
        return self.predictor.evaluate(split, max_batches, **kw)


def load(
    path: str | os.PathLike,
    *,
    device: str = "cpu",
    overrides: Sequence[str] = (),
    quantize: str = "none",
) -> LoadedModel:
    """Load a checkpoint directory (or a run directory, meaning its ``last/``) onto ``device``
    (``cpu``, ``cuda``, ``cuda:N``, ``mps``, or ``auto``: CUDA, then MPS, then CPU).

    ``quantize``: ``none``, ``int8`` (int8 weights and activations; attnkit's VNNI kernel on
    CPUs that have it) or ``bf16`` (bf16 weights); see :mod:`attnkit.models.quantize`.

    Raises:
        FileNotFoundError: nothing loadable at ``path``.
        ValueError: corrupt weights, a tokenizer that does not match the weights, or a model
            that has no ``quantize`` path.
    """
    from attnkit.pretrained.registry import PRETRAINED

    device = str(select_device(device))
    p = Path(path)
    if quantize not in QUANTIZE_MODES:  # before any file is read
        raise ValueError(f"unknown quantize mode {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if str(path) in PRETRAINED or ((p / "config.json").is_file() and not (p / "manifest.json").is_file()):
        return load_pretrained(path, device=device, overrides=overrides, quantize=quantize)
    d = ckpt.resolve_checkpoint(path)
    manifest = ckpt.read_manifest(d)
    cfg = apply_overrides(ckpt.load_run_config(d), overrides)
    tokenizer = ckpt.load_tokenizer_checked(d, manifest, cfg)
    family = get_task_kind(cfg.task).family
    model = build_model(cfg.model, family)
    ckpt.load_weights(model, d)
    model.to(device).eval()
    quantize_model(model, quantize)
    return LoadedModel(model, tokenizer, cfg, d, manifest)


def load_pretrained(
    name_or_dir: str | os.PathLike,
    *,
    device: str = "cpu",
    overrides: Sequence[str] = (),
    quantize: str = "none",
) -> LoadedModel:
    """A registered pretrained model (``minilm``, ``smollm2``) or an HF-format directory, in
    attnkit's own Encoder/Decoder with its own tokenizer (see :mod:`attnkit.pretrained`)."""
    device = str(select_device(device))
    from attnkit.pretrained.convert import model_from_hf_dir
    from attnkit.pretrained.registry import resolve, tokenizer_for

    d, spec = resolve(name_or_dir)
    model, hf_cfg = model_from_hf_dir(d)
    tokenizer = tokenizer_for(d, hf_cfg["model_type"])
    if tokenizer.vocab_size > model.cfg.vocab_size:
        raise ValueError(
            f"{d}: tokenizer has {tokenizer.vocab_size} tokens, the model {model.cfg.vocab_size}"
        )
    task = spec.task if spec else ("embedding" if hf_cfg["model_type"] == "bert" else "lm")
    generates = get_task_kind(task).family == "decoder"
    decode = {"max_new_tokens": 256, "temperature": 0.0} if generates else {}
    cfg = apply_overrides(
        RunConfig(task=task, model=model.cfg, out_dir=str(d)),
        [*(f"decode.{k}={v}" for k, v in decode.items()), *overrides],
    )
    manifest = {
        "pretrained": spec.name if spec else str(d),
        "model_type": hf_cfg["model_type"],
        "source": str(d),
        "chat": dict(spec.chat) if spec and spec.chat else {},
    }
    model.to(device).eval()
    quantize_model(model, quantize)
    return LoadedModel(model, tokenizer, cfg, d, manifest)
