"""FastAPI app over loaded checkpoints: one JSON endpoint per task verb, pages that use them.

Safety rules the app keeps:
- it only serves models loaded at start-up, chosen by name; no request names a file, and the
  page assets are a fixed set of bundled files read once at start-up;
- inputs over ``max_input_chars`` get 413, requests beyond ``max_concurrency`` running plus
  ``max_queue`` waiting get 429 with ``Retry-After``; nothing over-limit reaches a model;
- a model's ValueError (bad input it can name) is a 422, anything else a 500, both as JSON
  ``{"error": ...}``; the server keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from attnkit.api import LoadedModel
from attnkit.viz.inspect import TASK_VERBS, inspect_attention
from attnkit.viz.payload import view_payload
from attnkit.viz.streams import has_attention

log = logging.getLogger(__name__)

VERBS = ("generate", "translate", "summarize", "chat", "classify", "embed", "zero-shot", "transcribe")


def verbs_of(lm: LoadedModel) -> list[str]:
    """The endpoints a model answers: its task's verb, plus chat and zero-shot for pretrained ones."""
    task = lm.cfg.task
    verbs = [TASK_VERBS[task]]
    if task == "lm" and lm.chat_format:
        verbs.append("chat")
    if task in ("lm", "embedding") and lm.manifest.get("pretrained"):
        verbs.append("zero-shot")
    return verbs


ASSETS = {
    "app.js": ("serve", "text/javascript"),
    "app.css": ("serve", "text/css"),
    "attnview.js": ("viz", "text/javascript"),
    "attnview.css": ("viz", "text/css"),
}


@dataclass
class ServeLimits:
    max_input_chars: int = 2000
    """Longest accepted text (or whole chat history), in characters."""
    max_concurrency: int = 2
    """Model calls running at once (the rest wait in the queue)."""
    max_queue: int = 16
    """Requests allowed to wait for a slot; one more gets 429."""
    max_new_tokens: int = 256
    """Cap on ``max_new_tokens`` for generation."""
    max_audio_bytes: int = 1_000_000
    """Largest accepted WAV upload (413 beyond)."""
    max_audio_seconds: float = 10.0
    """Longest accepted recording (413 beyond), checked from the WAV header before decoding."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class Gate:
    """At most ``running`` calls at once and ``waiting`` more queued; beyond that, refuse."""

    def __init__(self, running: int, waiting: int) -> None:
        if running < 1 or waiting < 0:
            raise ValueError(f"max_concurrency must be >= 1 and max_queue >= 0, got {running}, {waiting}")
        self.sem = asyncio.Semaphore(running)
        self.limit = running + waiting
        self.inside = 0

    async def run(self, fn: Callable[[], Any]) -> Any:
        if self.inside >= self.limit:
            raise ApiError(
                429,
                f"server busy: {self.inside} requests in progress or queued (limit {self.limit}); "
                "retry shortly",
                {"Retry-After": "1"},
            )  # fmt: skip
        self.inside += 1
        try:
            async with self.sem:
                return await run_in_threadpool(fn)
        finally:
            self.inside -= 1


class TaskRequest(BaseModel):
    model: str | None = Field(
        None, description="a loaded model's name (GET /api/models); optional when one fits"
    )
    text: str = Field("", description="the input: prompt, source text, or text to classify")
    attention: bool = Field(True, description="include the attention view payload")
    layers: list[int] | None = Field(None, description="block indices to capture (default all)")
    heads: list[int] | None = Field(None, description="head indices to capture (default all)")


class GenerateRequest(TaskRequest):
    max_new_tokens: int = Field(64, ge=1, description="tokens to generate (capped by the server)")
    temperature: float | None = Field(None, gt=0, description="sampling temperature (default: the recipe's)")
    seed: int | None = Field(None, description="sampling seed, for repeatable output")


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


def model_name(path: str | Path) -> str:
    """A checkpoint's display name: its run directory's name (``runs/x/best`` -> ``x``)."""
    p = Path(path).resolve()
    return p.parent.name if p.name in ("best", "last") else p.name


def _describe(name: str, lm: LoadedModel) -> dict[str, Any]:
    m = lm.cfg.model
    return {
        "name": name,
        "task": lm.cfg.task,
        "verb": TASK_VERBS.get(lm.cfg.task),
        "verbs": verbs_of(lm),
        "arch": m.arch,
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "layers": m.n_layers,
        "heads": m.n_heads,
        "attention": has_attention(lm.model),
        "labels": list(m.labels or []),
        "dataset": lm.cfg.data.dataset,
    }


def create_app(models: dict[str, LoadedModel], limits: ServeLimits | None = None) -> FastAPI:
    """The app serving ``models`` (name -> loaded checkpoint) within ``limits``."""
    if not models:
        raise ValueError("attnkit serve needs at least one checkpoint (--ckpt DIR)")
    limits = limits or ServeLimits()
    app = FastAPI(
        title="attnkit",
        description="Local attnkit models with their attention maps. Every endpoint returns JSON; "
        'errors are {"error": message}.',
        version="0.1.0",
        docs_url=None,  # the stock docs page loads its scripts from a CDN: serve our own, offline
        redoc_url=None,
    )
    gate = Gate(limits.max_concurrency, limits.max_queue)
    assets = {
        name: (resources.files(f"attnkit.{pkg}").joinpath("static", name).read_text(encoding="utf-8"), mime)
        for name, (pkg, mime) in ASSETS.items()
    }
    pages = {
        name: resources.files("attnkit.serve").joinpath("static", f"{name}.html").read_text(encoding="utf-8")
        for name in ("index", "docs")
    }

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    def pick(verb: str, name: str | None) -> tuple[str, LoadedModel]:
        if name is not None:
            if name not in models:
                raise ApiError(404, f"unknown model {name!r}; loaded: {sorted(models)}")
            lm = models[name]
            if verb not in verbs_of(lm):
                raise ApiError(
                    400, f"model {name!r} is a {lm.cfg.task!r} model; use POST /api/{verbs_of(lm)[0]}"
                )
            return name, lm
        fits = [n for n, lm in models.items() if verb in verbs_of(lm)]
        if len(fits) != 1:
            why = "no loaded model does" if not fits else f"several do ({fits}); name one in 'model'"
            raise ApiError(404 if not fits else 400, f"/api/{verb}: {why}")
        return fits[0], models[fits[0]]

    def check_len(n: int) -> None:
        if n > limits.max_input_chars:
            raise ApiError(
                413, f"input is {n} characters; this server accepts at most {limits.max_input_chars} "
                "(start it with --max-input-chars to change that)",
            )  # fmt: skip

    async def call(verb: str, name: str | None, fn: Callable[[LoadedModel], Any]) -> dict[str, Any]:
        mname, lm = pick(verb, name)
        t0 = time.perf_counter()
        try:
            result = await gate.run(lambda: fn(lm))
        except ApiError:
            raise
        except ValueError as e:  # the model names what is wrong with the input
            raise ApiError(422, str(e)) from None
        except Exception as e:  # a model failure must not take the server down
            log.exception("model %s failed on /api/%s", mname, verb)
            raise ApiError(500, f"model error: {type(e).__name__}: {e}") from None
        return {
            "model": mname,
            "task": lm.cfg.task,
            **result,
            "elapsed_ms": round(1000 * (time.perf_counter() - t0), 1),
        }

    def run_task(lm: LoadedModel, want: bool, plain: Callable[[], Any], **kw: Any) -> dict[str, Any]:
        if want and has_attention(lm.model):
            view = inspect_attention(lm, **kw)
            return {"output": view.output, "attention": view_payload(view)}
        return {"output": plain(), "attention": None}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(pages["index"])

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(pages["docs"])

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:  # a fixed table: nothing on disk is looked up by a client's name
            raise ApiError(404, f"no asset {name!r}")
        body, mime = assets[name]
        return Response(body, media_type=mime, headers={"Cache-Control": "no-cache"})

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "in_flight": gate.inside}

    @app.get("/api/models")
    async def list_models() -> dict[str, Any]:
        """The loaded models and the limits requests must respect."""
        return {
            "models": [_describe(n, lm) for n, lm in models.items()],
            "limits": {k: getattr(limits, k) for k in ServeLimits.__dataclass_fields__},
        }

    def need_text(text: str) -> str:
        check_len(len(text))
        if not text.strip():
            raise ApiError(422, "the input text is empty")
        return text

    @app.post("/api/generate")
    async def generate(req: GenerateRequest) -> dict[str, Any]:
        """Continue a prompt (language-model checkpoints)."""
        text = need_text(req.text)
        n = min(req.max_new_tokens, limits.max_new_tokens)
        dec = {k: v for k, v in (("temperature", req.temperature), ("seed", req.seed)) if v is not None}
        return await call("generate", req.model, lambda lm: run_task(
            lm, req.attention, lambda: lm.generate(text, max_new_tokens=n, **dec),
            text=text, max_new_tokens=n, layers=req.layers, heads=req.heads, **dec,
        ))  # fmt: skip

    def transduce_route(verb: str, doc: str) -> None:
        async def handler(req: TransduceRequest) -> dict[str, Any]:
            text = need_text(req.text)
            dec = {"beam_size": req.beam} if req.beam else {}
            return await call(verb, req.model, lambda lm: run_task(
                lm, req.attention, lambda: lm.transduce([text], **dec)[0],
                text=text, layers=req.layers, heads=req.heads, **dec,
            ))  # fmt: skip

        handler.__doc__ = doc
        app.post(f"/api/{verb}", name=verb)(handler)

    transduce_route("translate", "Translate a text (translation checkpoints).")
    transduce_route("summarize", "Summarize a document (summarization checkpoints).")

    @app.post("/api/chat")
    async def chat(req: ChatRequest) -> dict[str, Any]:
        """The next turn of a conversation (dialogue checkpoints and instruction-tuned LMs such as
        SmolLM2); send the whole history, user first, each time."""
        check_len(sum(len(t) for t in req.history))
        if not req.history or not all(t.strip() for t in req.history):
            raise ApiError(422, "history must hold at least one turn, and no empty turns")

        def run(lm: LoadedModel) -> dict[str, Any]:
            if lm.chat_format:  # a language model: its reply length is capped, beams do not apply
                dec: dict[str, Any] = {"max_new_tokens": min(req.max_new_tokens, limits.max_new_tokens)}
            else:
                dec = {"beam_size": req.beam} if req.beam else {}
            return run_task(
                lm, req.attention, lambda: lm.respond(req.history, **dec), history=req.history, **dec
            )

        return await call("chat", req.model, run)

    @app.post("/api/embed")
    async def embed(req: TaskRequest) -> dict[str, Any]:
        """A sentence embedding (pretrained encoders such as MiniLM): mean-pooled, L2-normalised."""
        text = need_text(req.text)

        def plain(lm: LoadedModel) -> dict[str, Any]:
            e = lm.embed([text])[0]
            return {"dim": int(e.numel()), "embedding": [round(float(x), 5) for x in e]}

        return await call("embed", req.model, lambda lm: run_task(
            lm, req.attention, lambda: plain(lm), text=text, layers=req.layers, heads=req.heads,
        ))  # fmt: skip

    @app.post("/api/zero-shot")
    async def zero_shot(req: ZeroShotRequest) -> dict[str, Any]:
        """Classify with a pretrained model and label names only: embedding similarity to the label
        descriptions (encoders) or the likelihood of each label word (language models)."""
        text = need_text(req.text)
        check_len(len(req.labels))

        def run(lm: LoadedModel) -> dict[str, Any]:
            from attnkit.fewshot import parse_labels, zero_shot_classifier

            clf = zero_shot_classifier(lm, parse_labels(req.labels))
            result = clf.classify([text])[0]
            if not (req.attention and has_attention(lm.model)):
                return {"output": result, "attention": None}
            view = inspect_attention(lm, clf.prompt(text))  # what the model read for this text
            view.output = result
            return {"output": result, "attention": view_payload(view)}

        return await call("zero-shot", req.model, run)

    from attnkit.serve.speech import add_transcribe_route

    add_transcribe_route(app, call, limits)

    @app.post("/api/classify")
    async def classify(req: TaskRequest) -> dict[str, Any]:
        """Label a text with class probabilities (classification checkpoints)."""
        text = need_text(req.text)
        return await call("classify", req.model, lambda lm: run_task(
            lm, req.attention, lambda: lm.classify([text])[0], text=text, layers=req.layers, heads=req.heads,
        ))  # fmt: skip

    return app
