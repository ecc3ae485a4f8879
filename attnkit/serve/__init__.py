"""The local web app and JSON API: ``attnkit serve --ckpt DIR [--ckpt DIR ...]``."""

from attnkit.serve.app import ServeLimits, create_app, model_name

__all__ = ["ServeLimits", "create_app", "model_name"]
