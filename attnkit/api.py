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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnkit.audio.segment import SilenceConfig, speech_spans
from attnkit.config.base import apply_overrides, load_yaml
from attnkit.config.run import RunConfig
from attnkit.decode.generate import generate_text
from attnkit.decode.seq2seq import transduce
from attnkit.models.factory import build_model
from attnkit.tasks import TASKS
from attnkit.text.base import Tokenizer
from attnkit.train import checkpoint as ckpt
from attnkit.train.device import select_device
from attnkit.train.trainer import Trainer


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RunConfig:
    """A recipe YAML plus dotted overrides, as a :class:`RunConfig`."""
    return load_yaml(RunConfig, path, overrides)


def train(cfg: RunConfig, *, resume: bool = False, until_step: int | None = None) -> dict:
    """Train as ``cfg`` says; ``resume`` continues from ``<out_dir>/last``. Returns the last eval."""
    pre = load(cfg.init_from) if cfg.init_from else None
    task = TASKS[cfg.task](cfg, tokenizer=pre.tokenizer) if pre else TASKS[cfg.task](cfg)
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
        )
        base = dataclasses.replace(pre.cfg.model, **{k: getattr(cfg.model, k) for k in keep})
    cfg = dataclasses.replace(cfg, model=task.model_config(base))
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


def _checked_wave(wave: torch.Tensor, fcfg: Any) -> torch.Tensor:
    """``wave`` as float ``(N,)`` samples, refused if empty, not 1-D, or over ``fcfg.max_seconds``."""
    if wave.dim() != 1 or wave.numel() == 0:
        raise ValueError(f"expected non-empty (N,) samples, got shape {tuple(wave.shape)}")
    if wave.numel() > fcfg.max_seconds * fcfg.sample_rate:
        raise ValueError(f"{wave.numel() / fcfg.sample_rate:.1f} s of audio, more than the "
                         f"{fcfg.max_seconds:g} s limit; cut it into shorter pieces")  # fmt: skip
    return wave.float()


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
        return self.cfg.task in TASKS and TASKS[self.cfg.task].family == "seq2seq"

    @property
    def chat_format(self) -> dict[str, str] | None:
        """``{"format", "system"}`` for instruction-tuned pretrained LMs, else None."""
        return self.manifest.get("chat") or None

    @property
    def can_chat(self) -> bool:
        return self.cfg.task == "dialogue" or bool(self.chat_format)

    @torch.no_grad()
    def embed(self, texts: Sequence[str], *, batch_size: int = 32, normalize: bool = True) -> torch.Tensor:
        """Sentence embeddings ``(N, C)``: mean of the encoder's token states, L2-normalised
        (sentence-transformers' recipe for MiniLM). Inputs longer than the model's position table
        keep their first ``max_seq_len`` tokens."""
        if self.cfg.task != "embedding":
            raise ValueError(
                f"this checkpoint is a {self.cfg.task!r} model; embed() needs an encoder (minilm)"
            )
        from attnkit.data.masks import lengths_to_padding_mask
        from attnkit.data.seq2seq import pad_batch

        tok, limit = self.tokenizer, self.cfg.model.max_seq_len
        device = next(self.model.parameters()).device
        out = []
        for s in range(0, len(texts), batch_size):
            ids = [tok.encode(t, add_bos=True, add_eos=True)[:limit] for t in texts[s : s + batch_size]]
            x = pad_batch(ids, tok.pad_id).to(device)
            real = lengths_to_padding_mask(torch.tensor([len(r) for r in ids], device=device), x.shape[1])
            h = self.model(x, padding_mask=real).hidden  # (B, T, C)
            m = real.unsqueeze(-1).to(h.dtype)  # (B, T) -> (B, T, 1)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1)
            out.append(torch.nn.functional.normalize(e, dim=-1) if normalize else e)
        return torch.cat(out).cpu() if out else torch.empty(0, self.cfg.model.d_model)

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
        if not history:
            raise ValueError("respond() needs the dialogue so far: at least one turn")
        if self.chat_format:  # an instruction-tuned LM: the user speaks first, in its chat format
            return "".join(self.respond_stream(history, **decode)).strip()
        if self.cfg.task != "dialogue":
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model, not a dialogue model")
        from attnkit.data.pair_datasets import dialogue_context

        return self.transduce([dialogue_context(list(history), self.cfg.data.context_turns)], **decode)[0]

    def respond_stream(self, history: Sequence[str], **decode: Any) -> Iterator[str]:
        """An instruction-tuned LM's next turn after ``history`` (user first), chunk by chunk."""
        if not self.chat_format:
            raise ValueError("respond_stream() needs an instruction-tuned LM with a chat format (smollm2)")
        if not history:
            raise ValueError("respond_stream() needs the conversation so far: at least one turn")
        return self.stream(self.chat_prompt(history), **decode)

    def chat_prompt(self, history: Sequence[str]) -> str:
        """The prompt for the next assistant turn after ``history`` in the model's chat format."""
        from attnkit.text.chat import format_chat

        return format_chat(self.chat_format["format"], list(history), self.chat_format.get("system"))

    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``{"label": best, "probs": {label: p}}`` for each text (a classification checkpoint)."""
        if self.cfg.task != "classification":
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model, not a classifier")
        from attnkit.tasks.classify import ClassificationTask, label_results

        task = ClassificationTask.for_inference(self.cfg, self.tokenizer)
        return label_results(self.cfg.model.labels or [], task.predict_proba(self.model, list(texts)))

    def audio_waveform(self, audio: str | os.PathLike | bytes) -> torch.Tensor:
        """The ``(N,)`` samples of a WAV path (or the file's bytes) at this checkpoint's rate, mono."""
        from attnkit.audio import load_audio
        from attnkit.tasks.speech import feature_config

        return load_audio(audio, feature_config(self.cfg.data))

    def audio_features(self, audio: str | os.PathLike | bytes | torch.Tensor) -> torch.Tensor:
        """The ``(T, n_mels)`` frames a speech checkpoint reads for a WAV path (or the file's
        bytes) or ``(N,)`` samples at its sample rate (files are mixed to mono and resampled; see
        :func:`attnkit.audio.load_audio`)."""
        from attnkit.audio import featurize
        from attnkit.tasks.speech import feature_config

        fcfg = feature_config(self.cfg.data)
        wave = audio if isinstance(audio, torch.Tensor) else self.audio_waveform(audio)
        return featurize(_checked_wave(wave, fcfg), fcfg)

    def transcribe(
        self,
        audio: Sequence[str | os.PathLike | bytes | torch.Tensor],
        *,
        split_on_silence: bool | SilenceConfig = False,
        **decode: Any,
    ) -> list[str]:
        """The transcript of each WAV file (or ``(N,)`` waveform) with a speech checkpoint.

        ``split_on_silence`` (True, or a :class:`SilenceConfig`) cuts each input at its pauses
        and joins the pieces' transcripts with spaces (see :meth:`transcribe_pieces`)."""
        if not split_on_silence:
            return self.transcribe_frames([self.audio_features(a) for a in audio], **decode)
        silence = split_on_silence if isinstance(split_on_silence, SilenceConfig) else None
        return [" ".join(t for _, _, t in ps) for ps in self.transcribe_pieces(audio, silence, **decode)]

    def transcribe_pieces(
        self,
        audio: Sequence[str | os.PathLike | bytes | torch.Tensor],
        silence: SilenceConfig | None = None,
        **decode: Any,
    ) -> list[list[tuple[float, float, str]]]:
        """Each input cut at its pauses (:func:`attnkit.audio.speech_spans`), every piece
        transcribed on its own: ``[(start s, end s, transcript)]`` per input, none for silence.
        How a model trained on single words reads a string of them. Every input is read and
        checked before any decoding."""
        from attnkit.tasks.speech import feature_config

        fcfg = feature_config(self.cfg.data)
        sr = fcfg.sample_rate
        waves = [
            _checked_wave(a if isinstance(a, torch.Tensor) else self.audio_waveform(a), fcfg) for a in audio
        ]
        spans = [speech_spans(w, sr, silence or SilenceConfig()) for w in waves]
        frames = [self.audio_features(w[s:e]) for w, sp in zip(waves, spans, strict=True) for s, e in sp]
        said = iter(self.transcribe_frames(frames, **decode))
        return [[(s / sr, e / sr, next(said)) for s, e in sp] for sp in spans]

    def transcribe_frames(self, frames: Sequence[torch.Tensor], **decode: Any) -> list[str]:
        """The transcript of each ``(T, n_mels)`` feature tensor (from :meth:`audio_features`)."""
        if self.cfg.task != "speech":
            raise ValueError(f"this checkpoint is a {self.cfg.task!r} model, not a speech model")
        from attnkit.decode.speech import transcribe

        return transcribe(self.model, self.tokenizer, frames, dataclasses.replace(self.cfg.decode, **decode))

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
        if self.cfg.task == "speech" and decode:
            hyps = self.transcribe_frames(self.task.features(split)[:limit], **decode_overrides)
            m = {**m, **self.task.score(hyps, split), "hypotheses": hyps}
        elif self.is_seq2seq and decode:
            sources = self.task.sources(split)[:limit]
            hyps = self.transduce(sources, **decode_overrides)
            m = {**m, **self.task.score(hyps, split), "hypotheses": hyps, "examples": len(hyps)}
        return m


def load(path: str | os.PathLike, *, device: str = "cpu", overrides: Sequence[str] = ()) -> LoadedModel:
    """Load a checkpoint directory (or a run directory, meaning its ``last/``) onto ``device``
    (``cpu``, ``cuda``, ``cuda:N``, ``mps``, or ``auto``: CUDA, then MPS, then CPU).

    Raises:
        FileNotFoundError: nothing loadable at ``path``.
        ValueError: corrupt weights, or a tokenizer that does not match the weights.
    """
    from attnkit.pretrained.registry import PRETRAINED

    device = str(select_device(device))
    p = Path(path)
    if str(path) in PRETRAINED or ((p / "config.json").is_file() and not (p / "manifest.json").is_file()):
        return load_pretrained(path, device=device, overrides=overrides)
    d = ckpt.resolve_checkpoint(path)
    manifest = ckpt.read_manifest(d)
    cfg = apply_overrides(ckpt.load_run_config(d), overrides)
    tokenizer = ckpt.load_tokenizer_checked(d, manifest, cfg)
    family = TASKS[cfg.task].family
    model = build_model(cfg.model, family)
    ckpt.load_weights(model, d)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, cfg, d, manifest)


def load_pretrained(
    name_or_dir: str | os.PathLike, *, device: str = "cpu", overrides: Sequence[str] = ()
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
    decode = {"max_new_tokens": 256, "temperature": 0.0} if task == "lm" else {}
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
    return LoadedModel(model, tokenizer, cfg, d, manifest)
