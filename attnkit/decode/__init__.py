"""Decoding: generation loops over a model's forward and KV cache."""

from attnkit.decode.greedy import greedy_generate, greedy_seq2seq

__all__ = ["greedy_generate", "greedy_seq2seq"]
