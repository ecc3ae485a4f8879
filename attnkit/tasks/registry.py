"""The task registry: what each task kind is, declared once.

An entry names the task kind, the model family it runs on, the ``Task`` class that trains and
scores it, the verbs it serves, the predictor that runs those verbs on a loaded model, how its
attention is inspected and how ``attnkit eval`` reports it. ``RunConfig.task``, the Python API,
the CLI, the web app, the viewer and evaluation all read this table; none keeps a list of its own.

The predictor, inspector and report live in higher layers (``predict``, ``viz``, ``cli``) than
this package, so an entry may name them as ``"module:attribute"`` strings, imported on first use:
the declaration stays in one place and imports still point one way. A task kind defined outside
attnkit passes the objects themselves::

    register_task(TaskKind("echo", family="decoder", verbs=("generate",), predictor=EchoPredictor))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Ref = str | Callable[..., Any] | None
"""An object, or ``"package.module:attribute"`` naming it (imported when first used)."""

FAMILIES = ("decoder", "encoder", "seq2seq", "classifier", "speech")
"""The model families of :func:`attnkit.models.factory.build_model`."""


@dataclass(frozen=True)
class Verb:
    """One thing a loaded model can be asked to do: a CLI command, an API method, an endpoint."""

    name: str
    reads: Literal["text", "history", "audio"]
    """The request's input: one text, a conversation (oldest turn first), or a WAV upload."""
    returns: Literal["text", "labels", "vector"]
    """The response's output: text, ``{"label", "probs"}``, or ``{"dim", "embedding"}``."""
    summary: str


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("generate", "text", "text", "Continue a prompt (language models)."),
        Verb("translate", "text", "text", "Translate a text (translation models)."),
        Verb("summarize", "text", "text", "Summarize a document (summarization models)."),
        Verb("chat", "history", "text", "The next turn of a conversation; send the whole history."),
        Verb("classify", "text", "labels", "Label a text with class probabilities (classifiers)."),
        Verb("embed", "text", "vector", "A sentence embedding, mean-pooled and L2-normalised (encoders)."),
        Verb("zero-shot", "text", "labels", "Classify with label names only (pretrained encoders and LMs)."),
        Verb("transcribe", "audio", "text", "Transcribe a WAV recording (speech models)."),
    )
}


@dataclass(frozen=True)
class TaskKind:
    """One task kind: everything the layers above need to know about it."""

    name: str
    family: str
    """The model family it runs on (one of ``FAMILIES``; ``build_model(cfg.model, family)``)."""
    verbs: tuple[str, ...]
    """Verbs it can serve, the main one first. A predictor may serve fewer for a given model
    (``chat`` only for an LM with a chat format): ask ``predictor.verbs()``."""
    predictor: Ref
    """``cls(loaded_model)``: runs the verbs (see :class:`attnkit.predict.Predictor`)."""
    task: Ref = None
    """The ``Task`` class that trains and scores it, ``cls(cfg, tokenizer=...)``; None: a kind
    that is only loaded (pretrained encoders), never trained or evaluated here."""
    inspect: Ref = None
    """``fn(lm, req: attnkit.viz.inspect.InspectRequest) -> AttentionView``."""
    report: Ref = None
    """``fn(lm, args) -> exit code``: what ``attnkit eval`` prints and writes; None: no evaluation."""
    summary: str = ""
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    """What a Task class shared by several kinds reads to tell them apart (``Seq2SeqTask``:
    ``metrics`` and whether the data are whole ``dialogues``)."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"task {self.name!r}: family must be one of {FAMILIES}, got {self.family!r}")
        unknown = [v for v in self.verbs if v not in VERBS]
        if not self.verbs or unknown:
            raise ValueError(f"task {self.name!r}: verbs must be among {list(VERBS)}, got {list(self.verbs)}")

    @property
    def main_verb(self) -> str:
        return self.verbs[0]

    def resolve(self, what: Literal["predictor", "task", "inspect", "report"]) -> Any:
        """The object behind field ``what`` (importing a ``"module:attr"`` reference), or None."""
        ref = getattr(self, what)
        if not isinstance(ref, str):
            return ref
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)

    def task_class(self) -> Any:
        """The ``Task`` class; a ValueError for kinds that are not trained here."""
        cls = self.resolve("task")
        if cls is None:
            raise ValueError(
                f"task {self.name!r} comes from pretrained weights only "
                f"(it serves {', '.join(self.verbs)}); "
                "it has no training data or metrics here. Fine-tune it with task: classification"
            )
        return cls


_KINDS: dict[str, TaskKind] = {}
_NAMES: dict[str, str] = {}  # every name and alias -> the entry's name


def register_task(kind: TaskKind, *, replace: bool = False) -> TaskKind:
    """Add ``kind`` to the registry (``replace=True`` to redefine one); returns it."""
    names = (kind.name, *kind.aliases)
    taken = [n for n in names if n in _NAMES and _NAMES[n] != kind.name]
    if taken or (kind.name in _KINDS and not replace):
        raise ValueError(f"task name(s) {taken or [kind.name]} already registered")
    _KINDS[kind.name] = kind
    _NAMES.update(dict.fromkeys(names, kind.name))
    return kind


def unregister_task(name: str) -> None:
    """Remove a kind and its aliases (tests that register toy kinds clean up with this)."""
    kind = _KINDS.pop(name)
    for n in (kind.name, *kind.aliases):
        _NAMES.pop(n, None)


def task_names() -> list[str]:
    """Every accepted task name, aliases included, sorted."""
    return sorted(_NAMES)


def get_task_kind(name: str) -> TaskKind:
    """The entry for ``name``; an unknown name is a ValueError listing the valid ones."""
    if name not in _NAMES:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(task_names())}")
    return _KINDS[_NAMES[name]]


def check_task_name(name: str) -> str:
    """``name`` if registered (for config validation), else the ValueError of :func:`get_task_kind`."""
    get_task_kind(name)
    return name


class _TaskClasses(Mapping):
    """``TASKS[name]``: the Task class of each trainable kind, read from the registry (kept for
    code written before the registry; new code asks :func:`get_task_kind`)."""

    def __getitem__(self, name: str) -> Any:
        kind = get_task_kind(name) if name in _NAMES else None
        if kind is None or kind.task is None:
            raise KeyError(name)
        return kind.resolve("task")

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in task_names() if _KINDS[_NAMES[n]].task is not None])

    def __len__(self) -> int:
        return len(list(iter(self)))


TASKS: Mapping[str, Any] = _TaskClasses()


def _builtin(name: str, family: str, verbs: tuple[str, ...], predictor: str, **kw: Any) -> None:
    register_task(TaskKind(name, family, verbs, f"attnkit.predict.{predictor}", **kw))


_SEQ2SEQ = {
    "task": "attnkit.tasks.seq2seq:Seq2SeqTask",
    "inspect": "attnkit.viz.inspect:inspect_seq2seq",
    "report": "attnkit.cli.evaluate:report_seq2seq",
}
_builtin(
    "lm", "decoder", ("generate", "chat", "zero-shot"), "lm:LMPredictor",
    task="attnkit.tasks.lm:LanguageModelingTask", inspect="attnkit.viz.inspect:inspect_lm",
    report="attnkit.cli.evaluate:report_lm", summary="language modeling: next-token prediction",
)  # fmt: skip
_builtin("translation", "seq2seq", ("translate",), "seq2seq:Seq2SeqPredictor",
         summary="translation: source text -> target text", options={"metrics": "translation"},
         **_SEQ2SEQ)  # fmt: skip
_builtin("summarization", "seq2seq", ("summarize",), "seq2seq:Seq2SeqPredictor",
         summary="summarization: document -> summary", options={"metrics": "rouge"}, **_SEQ2SEQ)  # fmt: skip
_builtin("dialogue", "seq2seq", ("chat",), "seq2seq:DialoguePredictor",
         summary="dialogue: the last turns -> the next turn",
         options={"metrics": "dialogue", "dialogues": True}, **_SEQ2SEQ)  # fmt: skip
_builtin(
    "classification", "classifier", ("classify",), "classify:ClassifierPredictor",
    task="attnkit.tasks.classify:ClassificationTask", inspect="attnkit.viz.inspect:inspect_encoder",
    report="attnkit.cli.evaluate:report_classifier", summary="text classification",
)  # fmt: skip
_builtin(
    "embedding", "encoder", ("embed", "zero-shot"), "classify:EmbeddingPredictor",
    inspect="attnkit.viz.inspect:inspect_encoder", summary="sentence embeddings (pretrained encoders)",
)  # fmt: skip
_builtin(
    "speech", "speech", ("transcribe",), "speech:SpeechPredictor",
    task="attnkit.tasks.speech:SpeechTask", inspect="attnkit.viz.speech:inspect_audio",
    report="attnkit.cli.evaluate:report_speech",
    summary="speech recognition: audio frames -> characters",
)  # fmt: skip

# Decoder-only variants: the same data and metrics, one causal LM on prompt + target
# (fine-tuning SmolLM2 or any imported LLaMA/GPT-2, fully or with LoRA).
_PROMPTED = {
    "task": "attnkit.tasks.prompted:PromptedLMTask",
    "inspect": "attnkit.viz.inspect:inspect_prompted",
    "report": "attnkit.cli.evaluate:report_seq2seq",
}
_builtin("summarization-lm", "decoder", ("summarize",), "prompted:PromptedPredictor",
         summary="summarization with a decoder-only LM (prompt -> summary)",
         options={"metrics": "rouge", "instruction": "Summarize the following text.",
                  "answer": "Summary:"}, **_PROMPTED)  # fmt: skip
_builtin("dialogue-lm", "decoder", ("chat",), "prompted:PromptedDialoguePredictor",
         summary="dialogue with a decoder-only LM (the last turns -> the next turn)",
         options={"metrics": "dialogue", "dialogues": True, "source_keep": "end",
                  "instruction": "Write the next turn of this conversation.", "answer": "Reply:"},
         **_PROMPTED)  # fmt: skip
_builtin("translation-lm", "decoder", ("translate",), "prompted:PromptedPredictor",
         summary="translation with a decoder-only LM (prompt -> translation)",
         options={"metrics": "translation", "instruction": "Translate the following text.",
                  "answer": "Translation:"}, **_PROMPTED)  # fmt: skip
