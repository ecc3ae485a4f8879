"""Attention-based attributions, as rows of the same ``(R, S)`` table as the gradient methods.

All read the last attention layer that looks at the inputs (self-attention of a classifier's
encoder or an LM; cross-attention of a seq2seq's decoder), at the query of each explained row:

- ``attention``: the weights, mean over heads;
- ``rollout``: attention rollout over every layer (Abnar & Zuidema 2020; a seq2seq's last
  cross-attention times its encoder's rollout);
- ``value_norm``: ``‖Σ_h α^h_ij · W_O^h v^h_j‖``, the norm of what each input actually adds to the
  output (Kobayashi et al. 2020);
- ``attention_grad``: ``Σ_h α^h_ij · ∂f_r/∂α^h_ij``, attention weighted by its gradient.

A classifier that pools by mean or max reads every position: its query is the mean over the real
tokens (``cls`` pooling reads position 0).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from attnkit.attention.reference import reference_attention
from attnkit.attribution.target import BATCH, Target
from attnkit.models.seq2seq import EncoderDecoder
from attnkit.viz.rollout import attention_rollout
from attnkit.viz.streams import capture_streams


def last_attention(model: nn.Module) -> nn.Module:
    """The attention module whose keys are the explained inputs."""
    if isinstance(model, EncoderDecoder):
        return model.decoder.layers[-1].cross_attn
    stack = model.encoder if hasattr(model, "encoder") else model
    return stack.layers[-1].self_attn


class _Recorder:
    """Stands in for an attention module's backend: the reference math, with the weights kept
    (in the autograd graph) and the values projected for ``value_norm``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.weights: Tensor | None = None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, q, k, v, **kw):
        out, w = reference_attention(q, k, v, need_weights=True, **kw)
        self.weights = w  # (B, H, T, S)
        return out, None


@contextlib.contextmanager
def recording(module: nn.Module):
    rec = _Recorder(module.backend)
    values = {}
    handle = module.v_proj.register_forward_hook(lambda m, a, out: values.__setitem__("v", out))
    module.backend = rec
    try:
        yield rec, values
    finally:
        module.backend = rec.inner
        handle.remove()


def _queries(t: Target) -> list[list[int]]:
    """For each row, the query positions whose attention it reads (averaged when several)."""
    if t.kind == "classifier":
        return [[0]] if t.model.cfg.pooling == "cls" else [list(range(t.n_inputs))]
    if t.kind == "seq2seq":
        return [[r] for r in range(len(t.output_ids))]
    return [[p] for p in t.positions]


def _rows(w: Tensor, t: Target) -> Tensor:
    """``(H, T, S)`` -> ``(R, H, S)``: each row's query (mean over its query set)."""
    return torch.stack([w[:, q].mean(1) for q in _queries(t)])


@torch.no_grad()
def attention(t: Target) -> Tensor:
    with recording(last_attention(t.model)) as (rec, _):
        t.score(t.embeddings())
    return _rows(rec.weights[0].float(), t).mean(1).cpu()  # (R, H, S) -> (R, S)


@torch.no_grad()
def rollout(t: Target) -> Tensor:
    if t.kind == "seq2seq":
        streams = capture_streams(t.model, t.inputs, t.decoder_inputs)
        enc = attention_rollout(streams["encoder"].weights[:, 0])  # (S, S)
        cross = streams["cross"].weights[-1, 0].mean(0)  # (H, T, S) -> (T, S)
        return (cross[: len(t.output_ids)] @ enc).float().cpu()
    streams = capture_streams(t.model, t.inputs)
    roll = attention_rollout(next(iter(streams.values())).weights[:, 0])  # (T, T)
    return torch.stack([roll[q].mean(0) for q in _queries(t)]).float().cpu()


@torch.no_grad()
def value_norm(t: Target) -> Tensor:
    module = last_attention(t.model)
    with recording(module) as (rec, values):
        t.score(t.embeddings())
    w = _rows(rec.weights[0].float(), t)  # (R, H, S)
    h, d = module.n_heads, module.head_dim
    v = values["v"][0].float().view(-1, module.n_kv_heads, d)  # (S, Hkv*D) -> (S, Hkv, D)
    v = v.repeat_interleave(h // module.n_kv_heads, dim=1)  # (S, Hkv, D) -> (S, H, D)
    w_o = module.out_proj.weight.float().view(-1, h, d)  # (C, H*D) -> (C, H, D)
    f = torch.einsum("shd,chd->hsc", v, w_o)  # each head's transformed value (H, S, C)
    # Σ_h α^h_rj f^h_j, then its norm: per row, so memory is R·S·C, not T·S·C.
    return torch.stack([torch.einsum("hs,hsc->sc", w[r], f).norm(dim=-1) for r in range(len(w))]).cpu()


def attention_grad(t: Target, *, batch: int = BATCH) -> Tensor:
    module = last_attention(t.model)
    e = t.embeddings()
    n_rows = len(t.output_ids)
    out = torch.zeros(n_rows, t.n_inputs)
    queries = _queries(t)
    for r0 in range(0, n_rows, batch):
        rows = torch.arange(r0, min(n_rows, r0 + batch), device=e.device)
        with recording(module) as (rec, _):
            scores = t.score(e.expand(len(rows), -1, -1))  # (k, R)
            w = rec.weights  # (k, H, T, S), in the graph
            (g,) = torch.autograd.grad(scores.gather(1, rows[:, None]).sum(), w)
        prod = (w * g).sum(1).detach()  # (k, T, S)
        for i, r in enumerate(rows.tolist()):
            out[r] = prod[i, queries[r]].mean(0).float().cpu()
    return out
