"""One decoding step as a CUDA graph: batch-1 generation without per-kernel launch costs.

At batch 1 a GPT-2-small step is about 200 small kernels; launched one by one from Python, the
GPU waits on the CPU most of the time. A CUDA graph records the step's kernels once and replays
them with one launch. Replay needs fixed shapes and fixed addresses, so the step runs on a
*slot-addressed* cache (:attr:`attnkit.attention.kv_cache.LayerKVCache.slots`): the new token,
its position and the slot it writes live in preallocated device tensors that are overwritten
before each replay, and attention reads the whole buffer with a mask of the keys at or before
that slot. The prompt (prefill) runs eagerly on the same cache.

:class:`StepGraph` works on the CPU too with ``capture=False`` (the same slot-addressed step, run
eagerly), which is how the tests check it against ordinary cached decoding, and with
``compile=True`` (``DecodeConfig.compile``) the step goes through ``torch.compile`` instead: on a
CPU that removes Python's per-layer overhead, which is most of a quantized model's step.
"""

from __future__ import annotations

import functools
import threading

import torch
from torch import Tensor, nn

# The web app decodes in worker threads: one capture at a time, and a capture does not forbid
# other threads' CUDA calls (capture_error_mode="thread_local"); replays need no lock.
_CAPTURE_LOCK = threading.Lock()


def can_graph(model: nn.Module, device: torch.device, kind: str = "cuda") -> bool:
    """True for a decoder-only attnkit Transformer on a ``kind`` device (``cuda`` for CUDA
    graphs, ``cpu`` for a compiled step) whose attention backend applies any mask as given
    (``Capabilities.any_mask``: not ``linear``, which takes key-padding masks only, nor
    ``local:<W>``, whose band is aligned to the last key). LSTM/conv LMs and cross-attention
    decoders keep the eager loop."""
    from attnkit.attention import get_backend
    from attnkit.models.decoder import Decoder  # decode sits above models; imported lazily

    return (
        device.type == kind
        and isinstance(model, Decoder)
        and not model.cross_attention
        and get_backend(model.cfg.attn_backend).caps.any_mask
    )


def _step_fn(model: nn.Module, token: Tensor, cache) -> Tensor:
    return model(token, cache=cache).logits[:, -1]  # (B, 1, V) -> (B, V)


@functools.cache
def compiled_step():
    """``_step_fn`` through ``torch.compile``, made once per process. The model, token and cache
    are arguments, so later generations of the same model and shape reuse the compiled program
    (its guards check them) instead of compiling again."""
    return torch.compile(_step_fn, dynamic=False)


class StepGraph:
    """Prefill eagerly, then replay one captured step per token.

    Args:
        model: a :class:`attnkit.models.decoder.Decoder` in eval mode.
        batch_size: rows decoded together.
        max_len: cache length (prompt + new tokens, or the context limit).
        capture: record a CUDA graph (needs CUDA); False runs the same step eagerly.
        compile: run the step through ``torch.compile`` instead (the CPU's analogue of a graph:
            one fused program per step, without Python's per-layer overhead).
    """

    def __init__(
        self, model: nn.Module, batch_size: int, max_len: int, *, capture: bool = True, compile: bool = False
    ) -> None:
        device = next(model.parameters()).device
        self.model = model
        self.cache = model.new_cache(batch_size, max_len)
        self.token = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
        self.slot = torch.zeros(1, dtype=torch.long, device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.logits: Tensor | None = None
        self.cache.set_slots(self.slot)
        self._run = compiled_step() if compile else _step_fn
        if capture and not compile:
            self._capture()

    @torch.no_grad()
    def _step(self) -> Tensor:
        return self._run(self.model, self.token, self.cache)

    def _capture(self) -> None:
        # Warm up on a side stream (cuBLAS workspaces, lazy init) before recording, as the CUDA
        # graph docs ask. It writes slot 0, which the prefill overwrites.
        with _CAPTURE_LOCK:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    self._step()
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.logits = self._step()

    @torch.no_grad()
    def prefill(self, ids: Tensor) -> Tensor:
        """Run ``ids`` ``(B, T)`` at positions ``0..T-1``; returns the last position's ``(B, V)``
        logits. Also used to restart from position 0 when a context window slides."""
        t = ids.shape[1]
        if t > self.cache.layers[0].max_len:
            raise ValueError(
                f"prefill of {t} tokens does not fit the cache of {self.cache.layers[0].max_len}"
            )
        self.cache.set_slots(torch.arange(t, device=self.slot.device))
        logits = self.model(ids, cache=self.cache).logits[:, -1]
        self.cache.set_slots(self.slot)
        return logits

    def step(self, token: Tensor, position: int) -> Tensor:
        """Feed ``token`` ``(B,)`` at ``position``; returns ``(B, V)`` logits. With a graph the
        result is a buffer that the next step overwrites: use it (or copy it) before then."""
        self.token.copy_(token[:, None])
        self.slot.fill_(position)
        if self.graph is None:
            return self._step()
        self.graph.replay()
        assert self.logits is not None
        return self.logits
