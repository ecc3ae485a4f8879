"""The one attention-backend registry.

Every backend is a pure function with one signature::

    fn(q, k, v, *, mask=None, is_causal=False, scale=None, dropout_p=0.0, need_weights=False)
        -> (out (B, H, T, D), weights (B, H, T, S) | None)

``mask`` follows :mod:`attnkit.data.masks` (bool, True = may attend); ``is_causal`` adds a
bottom-right-aligned causal constraint on top of it. Models pick a backend by name
(``ModelConfig.attn_backend``); there is no automatic choice. A request a backend cannot serve
(today: ``need_weights`` on a fused kernel) is served by ``reference`` after one logged warning,
never silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

log = logging.getLogger(__name__)

AttentionFn = Callable[..., tuple[Tensor, Tensor | None]]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the registry uses it to route requests it cannot serve."""

    weights: bool = False
    """Can return the (B, H, T, S) attention probabilities."""
    dropout: bool = True
    """Applies ``dropout_p`` to the attention probabilities."""
    gqa: bool = True
    """Accepts fewer key/value heads than query heads."""
    exact: bool = True
    """Computes softmax(QK^T * scale)V exactly (up to float rounding)."""
    any_mask: bool = True
    """Applies any bool mask as given, with no position arithmetic of its own, so a mask over a
    key buffer longer than the sequence (a slot-addressed cache, as CUDA-graph decoding uses)
    means what it says."""
    dtypes: tuple[torch.dtype, ...] = (torch.float64, torch.float32, torch.bfloat16, torch.float16)


@dataclass(frozen=True)
class Backend:
    """A registered backend: its name, its function and what it can do."""

    name: str
    fn: AttentionFn
    caps: Capabilities = field(default_factory=Capabilities)
    extra_mask: Callable[[int, int, bool, torch.device], Tensor] | None = None
    """``(T, S, is_causal, device) -> (T, S)`` bool mask this backend applies on top of the
    caller's (``local:<W>``'s band). Fallbacks and attention capture apply it too."""
    weights_fn: Callable[..., Tensor] | None = None
    """``(q, k, *, mask, is_causal, scale) -> (B, H, T, S)``: the weights this backend really
    uses, for capture, when they are not softmax(QK^T) (linear attention); None = softmax."""

    def effective_mask(self, mask: Tensor | None, is_causal: bool, t: int, s: int, device) -> Tensor | None:
        """The caller's mask combined with this backend's own (if any)."""
        if self.extra_mask is None:
            return mask
        band = self.extra_mask(t, s, is_causal, device)
        return band if mask is None else mask & band

    def __call__(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | None = None,
        is_causal: bool = False,
        scale: float | None = None,
        dropout_p: float = 0.0,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        fn = self.fn
        fallback = (need_weights and not self.caps.weights, q.dtype not in self.caps.dtypes)
        if any(fallback):
            if not self.caps.exact:
                raise ValueError(
                    f"attention backend {self.name!r} is not exact and cannot serve "
                    f"{'need_weights=True' if fallback[0] else f'dtype {q.dtype}'}; use capture_attention "
                    "for its weights, or another dtype"
                )
            _warn_once(self.name, "need_weights=True" if fallback[0] else f"dtype {q.dtype}")
            fn = BACKENDS["reference"].fn
            mask = self.effective_mask(mask, is_causal, q.shape[-2], k.shape[-2], q.device)
        return fn(
            q,
            k,
            v,
            mask=mask,
            is_causal=is_causal,
            scale=scale,
            dropout_p=dropout_p,
            need_weights=need_weights,
        )


BACKENDS: dict[str, Backend] = {}
FAMILIES: dict[str, tuple[Callable[[str], Backend], str]] = {}
"""Parametrised backends, named ``family:arg`` (``local:64``): factory and description."""
_family_cache: dict[str, Backend] = {}
_warned: set[tuple[str, str]] = set()


def _warn_once(name: str, what: str) -> None:
    if (name, what) not in _warned:
        _warned.add((name, what))
        log.warning("attention backend %r cannot serve %s; using 'reference' for it", name, what)


def register_backend(name: str, caps: Capabilities | None = None) -> Callable[[AttentionFn], AttentionFn]:
    """Decorator: add ``fn`` to the registry under ``name``."""

    def deco(fn: AttentionFn) -> AttentionFn:
        if name in BACKENDS:
            raise ValueError(f"attention backend {name!r} is already registered")
        BACKENDS[name] = Backend(name, fn, caps or Capabilities())
        return fn

    return deco


def register_family(name: str, factory: Callable[[str], Backend], description: str) -> None:
    """Add a parametrised backend: ``get_backend(f"{name}:{arg}")`` calls ``factory(arg)``."""
    if name in FAMILIES or name in BACKENDS:
        raise ValueError(f"attention backend {name!r} is already registered")
    FAMILIES[name] = (factory, description)


def get_backend(name: str) -> Backend:
    """Look a backend up by name (``sdpa``) or family and argument (``local:64``).

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    if name in BACKENDS:
        return BACKENDS[name]
    family, sep, arg = name.partition(":")
    if sep and family in FAMILIES:
        if name not in _family_cache:
            _family_cache[name] = FAMILIES[family][0](arg)
        return _family_cache[name]
    raise ValueError(f"unknown attention backend {name!r}; available: {', '.join(list_backends())}")


def list_backends() -> list[str]:
    """Names of the registered backends, sorted (families as ``family:<arg>``)."""
    return sorted([*BACKENDS, *(f"{f}:<arg>" for f in FAMILIES)])
