"""``attnkit export``: a trained or imported model in another engine's format, checked on the way
out. :mod:`attnkit.export.onnx` writes ONNX (encoders, classifiers, decoders with KV-cache inputs
and outputs) for ONNX Runtime; :mod:`attnkit.export.ct2` writes CTranslate2 models (decoders and
encoder-decoders)."""

from attnkit.export.common import ExportError, export_model

__all__ = ["ExportError", "export_model"]
