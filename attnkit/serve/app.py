"""FastAPI app over loaded checkpoints: one JSON endpoint per task verb, pages that use them.

Safety rules the app keeps:
- it only serves models loaded at start-up, chosen by name; no request names a file, and the
  page assets are a fixed set of bundled files read once at start-up;
- inputs over ``max_input_chars`` get 413, requests beyond ``max_concurrency`` running plus
  ``max_queue`` waiting get 429 with ``Retry-After``; nothing over-limit reaches a model;
- a request that fails validation is a 422 naming the field and the rule (never echoing the
  input); a model's ValueError (bad input it can name) is a 422, anything else a 500; all as
  JSON ``{"error": ...}``; the server keeps running.

The routes live in :mod:`attnkit.serve.routes` (text verbs, pages) and
:mod:`attnkit.serve.speech` (the WAV upload); they read what they need from ``app.state``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from attnkit.api import LoadedModel
from attnkit.serve import routes
from attnkit.serve.guards import BodyLimit, HostCheck
from attnkit.serve.limits import ApiError, Gate, ServeLimits
from attnkit.serve.speech import TRANSCRIBE_OPENAPI, transcribe
from attnkit.tasks.registry import VERBS

__all__ = ["ApiError", "Gate", "ServeLimits", "create_app", "model_name"]

ASSETS = {
    "app.js": ("serve", "text/javascript"),
    "app.css": ("serve", "text/css"),
    "attnview.js": ("viz", "text/javascript"),
    "attnview.css": ("viz", "text/css"),
    "favicon.svg": ("serve", "image/svg+xml"),
}


def model_name(path: str | Path) -> str:
    """A checkpoint's display name: its run directory's name (``runs/x/best`` -> ``x``)."""
    p = Path(path).resolve()
    return p.parent.name if p.name in ("best", "last") else p.name


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """The field and the rule it broke, for each problem; the input is never echoed back."""
    problems = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        problems.append(f"{where}: {e.get('msg', 'invalid')}")
    return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=422)


def _bundled() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """The page assets and pages, read from the package once."""
    assets = {
        name: (resources.files(f"attnkit.{pkg}").joinpath("static", name).read_text(encoding="utf-8"), mime)
        for name, (pkg, mime) in ASSETS.items()
    }
    pages = {
        name: resources.files("attnkit.serve").joinpath("static", f"{name}.html").read_text(encoding="utf-8")
        for name in ("index", "docs")
    }
    return assets, pages


def create_app(
    models: dict[str, LoadedModel],
    limits: ServeLimits | None = None,
    allowed_hosts: Iterable[str] | None = None,
) -> FastAPI:
    """The app serving ``models`` (name -> loaded checkpoint) within ``limits``; with
    ``allowed_hosts``, a request whose ``Host`` names another server gets 421."""
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
    app.state.models, app.state.limits = models, limits
    app.state.gate = Gate(limits.max_concurrency, limits.max_queue)
    app.state.assets, app.state.pages = _bundled()
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    hidden = {"include_in_schema": False}
    app.add_api_route("/", routes.page, response_class=HTMLResponse, **hidden)
    app.add_api_route("/docs", routes.docs, response_class=HTMLResponse, **hidden)
    app.add_api_route("/static/{name}", routes.static, **hidden)
    app.add_api_route("/api/health", routes.health)
    app.add_api_route("/api/models", routes.list_models)
    audio = {f"/api/{v.name}" for v in VERBS.values() if v.reads == "audio"}
    def body_limit(path: str) -> int:
        return limits.max_audio_bytes if path in audio else limits.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=body_limit)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)  # added last: runs first
    handlers = {**routes.HANDLERS, "transcribe": transcribe}
    for verb in VERBS.values():  # one POST per verb the registry declares
        handler = handlers[verb.name]
        app.add_api_route(
            f"/api/{verb.name}", handler, methods=["POST"], name=verb.name,
            description=handler.__doc__ or verb.summary,
            openapi_extra=TRANSCRIBE_OPENAPI if verb.reads == "audio" else None,
        )  # fmt: skip
    return app
