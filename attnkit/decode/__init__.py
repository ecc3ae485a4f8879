"""Decoding: greedy helpers, logits processors, cached sampling and streamed text."""

from attnkit.decode.generate import fit_prompt, generate_ids, generate_text
from attnkit.decode.greedy import greedy_generate, greedy_seq2seq

__all__ = ["fit_prompt", "generate_ids", "generate_text", "greedy_generate", "greedy_seq2seq"]
