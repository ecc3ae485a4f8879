"""The web app's routes: module-level functions that read the loaded models, the limits and the
concurrency gate from ``request.app.state`` (set by :func:`attnkit.serve.app.create_app`).

One POST per verb of the task registry (:data:`attnkit.tasks.registry.VERBS`); a model answers
the verbs its predictor serves. Every error is ``{"error": message}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from attnkit.api import LoadedModel
from attnkit.attribution import METHODS, explain
from attnkit.serve.limits import ApiError, ServeLimits
from attnkit.text.base import replace_surrogates
from attnkit.viz.inspect import inspect_attention
from attnkit.viz.payload import stream_payload, view_payload
from attnkit.viz.streams import has_attention

log = logging.getLogger(__name__)


Method = Literal[METHODS]  # one of attnkit.attribution.METHODS, checked by the request model


class TaskRequest(BaseModel):
    model: str | None = Field(
        None, description="a loaded model's name (GET /api/models); optional when one fits"
    )
    text: str = Field("", description="the input: prompt, source text, or text to classify")
    attention: bool = Field(True, description="include the attention view payload")
    layers: list[int] | None = Field(None, description="block indices to capture (default all)")
    heads: list[int] | None = Field(None, description="head indices to capture (default all)")
    methods: list[Method] = Field(
        [], description="attribution methods to add to the view (its method selector): " + ", ".join(METHODS)
    )


class GenerateRequest(TaskRequest):
    max_new_tokens: int = Field(64, ge=1, description="tokens to generate (capped by the server)")
    temperature: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="sampling temperature (default: the recipe's)"
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="sampling seed, for repeatable output")


class TransduceRequest(TaskRequest):
    beam: int | None = Field(None, ge=1, le=16, description="beam width (default: the recipe's)")


class ZeroShotRequest(TaskRequest):
    labels: str = Field(..., description='label names, "positive,negative", or "pos=a glowing review; neg=…"')


class ChatRequest(BaseModel):
    model: str | None = None
    history: list[str] = Field(
        ..., description="the dialogue so far, oldest turn first; the reply comes next"
    )
    attention: bool = True
    beam: int | None = Field(None, ge=1, le=16)
    max_new_tokens: int = Field(
        128, ge=1, description="language models: reply length cap (capped by the server)"
    )


def _limits(request: Request) -> ServeLimits:
    return request.app.state.limits


def pick(models: dict[str, LoadedModel], verb: str, name: str | None) -> tuple[str, LoadedModel]:
    """The model named ``name``, or the only one serving ``verb``; 404/400 otherwise."""
    if name is not None:
        if name not in models:
            raise ApiError(404, f"unknown model {name!r}; loaded: {sorted(models)}")
        lm = models[name]
        if verb not in lm.verbs:
            raise ApiError(400, f"model {name!r} is a {lm.cfg.task!r} model; it serves "
                                f"{', '.join(lm.verbs)}: use POST /api/{lm.verbs[0]}")  # fmt: skip
        return name, lm
    fits = [n for n, lm in models.items() if verb in lm.verbs]
    if len(fits) != 1:
        why = "no loaded model does" if not fits else f"several do ({fits}); name one in 'model'"
        raise ApiError(404 if not fits else 400, f"/api/{verb}: {why}")
    return fits[0], models[fits[0]]


def check_len(request: Request, n: int) -> None:
    limit = _limits(request).max_input_chars
    if n > limit:
        raise ApiError(413, f"input is {n} characters; this server accepts at most {limit} "
                            "(start it with --max-input-chars to change that)")  # fmt: skip


def need_text(request: Request, text: str) -> str:
    """``text`` within the length limit and not blank; lone surrogates (``"\\ud800"``, valid in
    JSON, not in UTF-8) become U+FFFD here, so nothing downstream meets one."""
    check_len(request, len(text))
    if not text.strip():
        raise ApiError(422, "the input text is empty")
    return replace_surrogates(text)


async def call(
    request: Request, verb: str, name: str | None, fn: Callable[[LoadedModel], Any]
) -> dict[str, Any]:
    """Run ``fn(model)`` through the gate; a model's ValueError is a 422, anything else a 500."""
    mname, lm = pick(request.app.state.models, verb, name)
    t0 = time.perf_counter()
    try:
        result = await request.app.state.gate.run(lambda: fn(lm))
    except ApiError:
        raise
    except ValueError as e:  # the model names what is wrong with the input
        raise ApiError(422, str(e)) from None
    except Exception as e:  # a model failure must not take the server down
        log.exception("model %s failed on /api/%s", mname, verb)
        raise ApiError(500, f"model error: {type(e).__name__}: {e}") from None
    elapsed = round(1000 * (time.perf_counter() - t0), 1)
    return {"model": mname, "task": lm.cfg.task, **result, "elapsed_ms": elapsed}


def run_task(
    lm: LoadedModel, want: bool, plain: Callable[[], Any], methods: Sequence[str] = (), **kw: Any
) -> dict[str, Any]:
    """The output, with the attention view payload when asked for and the model has attention,
    and each attribution method's table as one more stream of that payload."""
    if want and has_attention(lm.model):
        view = inspect_attention(lm, **kw)
        payload = view_payload(view)
        for m in methods:
            a = explain(lm, kw["text"], m, max_new_tokens=min(kw.get("max_new_tokens") or 16, 16))
            payload["streams"].append(stream_payload(a.stream()))
        return {"output": view.output, "attention": payload, "notes": view.meta.get("notes", [])}
    return {"output": plain(), "attention": None, "notes": []}


async def generate(req: GenerateRequest, request: Request) -> dict[str, Any]:
    """Continue a prompt (language models)."""
    text = need_text(request, req.text)
    n = min(req.max_new_tokens, _limits(request).max_new_tokens)
    dec = {k: v for k, v in (("temperature", req.temperature), ("seed", req.seed)) if v is not None}
    return await call(request, "generate", req.model, lambda lm: run_task(
        lm, req.attention, lambda: lm.generate(text, max_new_tokens=n, **dec),
        text=text, max_new_tokens=n, layers=req.layers, heads=req.heads, methods=req.methods, **dec,
    ))  # fmt: skip


def _transduce(verb: str) -> Callable[..., Any]:
    async def handler(req: TransduceRequest, request: Request) -> dict[str, Any]:
        text = need_text(request, req.text)
        dec = {"beam_size": req.beam} if req.beam else {}
        return await call(request, verb, req.model, lambda lm: run_task(
            lm, req.attention, lambda: lm.transduce([text], **dec)[0],
            text=text, layers=req.layers, heads=req.heads, methods=req.methods, **dec,
        ))  # fmt: skip

    handler.__name__ = verb
    return handler


async def chat(req: ChatRequest, request: Request) -> dict[str, Any]:
    """The next turn of a conversation (dialogue models and instruction-tuned LMs such as
    SmolLM2); send the whole history, user first, each time."""
    check_len(request, sum(len(t) for t in req.history))
    if not req.history or not all(t.strip() for t in req.history):
        raise ApiError(422, "history must hold at least one turn, and no empty turns")
    req.history = [replace_surrogates(t) for t in req.history]
    cap = min(req.max_new_tokens, _limits(request).max_new_tokens)

    def run(lm: LoadedModel) -> dict[str, Any]:
        dec = lm.predictor.chat_decode(max_new_tokens=cap, beam=req.beam)
        return run_task(lm, req.attention, lambda: lm.respond(req.history, **dec), history=req.history, **dec)

    return await call(request, "chat", req.model, run)


async def embed(req: TaskRequest, request: Request) -> dict[str, Any]:
    """A sentence embedding (pretrained encoders such as MiniLM): mean-pooled, L2-normalised."""
    text = need_text(request, req.text)

    def plain(lm: LoadedModel) -> dict[str, Any]:
        e = lm.embed([text])[0]
        return {"dim": int(e.numel()), "embedding": [round(float(x), 5) for x in e]}

    return await call(request, "embed", req.model, lambda lm: run_task(
        lm, req.attention, lambda: plain(lm), text=text, layers=req.layers, heads=req.heads,
    ))  # fmt: skip


async def zero_shot(req: ZeroShotRequest, request: Request) -> dict[str, Any]:
    """Classify with a pretrained model and label names only: embedding similarity to the label
    descriptions (encoders) or the likelihood of each label word (language models)."""
    text = need_text(request, req.text)
    check_len(request, len(req.labels))
    req.labels = replace_surrogates(req.labels)

    def run(lm: LoadedModel) -> dict[str, Any]:
        from attnkit.fewshot import parse_labels, zero_shot_classifier

        clf = zero_shot_classifier(lm, parse_labels(req.labels))
        result = clf.classify([text])[0]
        if not (req.attention and has_attention(lm.model)):
            return {"output": result, "attention": None}
        view = inspect_attention(lm, clf.prompt(text))  # what the model read for this text
        view.output = result
        return {"output": result, "attention": view_payload(view)}

    return await call(request, "zero-shot", req.model, run)


async def classify(req: TaskRequest, request: Request) -> dict[str, Any]:
    """Label a text with class probabilities (classification models)."""
    text = need_text(request, req.text)
    return await call(request, "classify", req.model, lambda lm: run_task(
        lm, req.attention, lambda: lm.classify([text])[0], text=text, layers=req.layers, heads=req.heads,
        methods=req.methods,
    ))  # fmt: skip


def _describe(name: str, lm: LoadedModel) -> dict[str, Any]:
    m = lm.cfg.model
    return {
        "name": name,
        "task": lm.cfg.task,
        "verb": lm.kind.main_verb,
        "verbs": list(lm.verbs),
        "arch": m.arch,
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "layers": m.n_layers,
        "heads": m.n_heads,
        "attention": has_attention(lm.model),
        "labels": list(m.labels or []),
        "dataset": lm.cfg.data.dataset,
    }


async def health(request: Request) -> dict[str, Any]:
    state = request.app.state
    return {"status": "ok", "models": len(state.models), "in_flight": state.gate.inside}


async def list_models(request: Request) -> dict[str, Any]:
    """The loaded models and the limits requests must respect."""
    limits = _limits(request)
    return {
        "models": [_describe(n, lm) for n, lm in request.app.state.models.items()],
        "limits": {k: getattr(limits, k) for k in ServeLimits.__dataclass_fields__},
    }


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.pages["index"])


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.pages["docs"])


async def static(name: str, request: Request) -> Response:
    assets = request.app.state.assets
    if name not in assets:  # a fixed table: nothing on disk is looked up by a client's name
        raise ApiError(404, f"no asset {name!r}")
    body, mime = assets[name]
    return Response(body, media_type=mime, headers={"Cache-Control": "no-cache"})


HANDLERS: dict[str, Callable[..., Any]] = {
    "generate": generate, "translate": _transduce("translate"), "summarize": _transduce("summarize"),
    "chat": chat, "classify": classify, "embed": embed, "zero-shot": zero_shot,
}  # fmt: skip
"""The POST handler of each text verb (the WAV upload, ``transcribe``, is in :mod:`attnkit.serve.speech`)."""
