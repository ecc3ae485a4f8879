"""The local web app and JSON API: ``attnkit serve --ckpt DIR [--ckpt DIR ...]``."""

from typing import Any

__all__ = ["ServeLimits", "create_app", "model_name"]


def __getattr__(name: str) -> Any:  # lazy: the CLI reads ServeLimits without loading FastAPI
    if name == "ServeLimits":
        from attnkit.serve.limits import ServeLimits

        return ServeLimits
    if name in ("create_app", "model_name"):
        from attnkit.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'attnkit.serve' has no attribute {name!r}")
