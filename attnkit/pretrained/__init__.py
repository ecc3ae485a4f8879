"""Loading weights from other libraries into attnkit's own classes."""

from attnkit.pretrained.gpt2 import decoder_from_gpt2

__all__ = ["decoder_from_gpt2"]
