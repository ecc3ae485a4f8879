"""Attribution methods: hand-computed results on a function with a known answer, then each method
against a direct computation on real (tiny) checkpoints of every family."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from attnkit.api import load
from attnkit.attribution import METHODS, attribute, build_target, explain
from attnkit.attribution import attention as attn
from attnkit.attribution.gradients import grad_input, integrated_gradients, occlusion
from attnkit.attribution.target import swap_embeddings
from attnkit.viz.streams import capture_streams


@dataclass
class Quadratic:
    """Row 0: f(e) = Σ_j (a·e_j)²; row 1: g(e) = Σ_j b·e_j: attributions known in closed form."""

    e: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    output_ids = (0, 1)

    @property
    def n_inputs(self) -> int:
        return self.e.shape[1]

    def embeddings(self):
        return self.e

    def score(self, embeds):  # (B, S, C) -> (B, 2)
        return torch.stack([((embeds @ self.a) ** 2).sum(-1), (embeds @ self.b).sum(-1)], dim=-1)


@pytest.fixture
def quad():
    torch.manual_seed(0)
    return Quadratic(torch.randn(1, 5, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64),
                     torch.randn(3, dtype=torch.float64))  # fmt: skip


def test_gradient_times_input_by_hand(quad):
    ae, be = (quad.e[0] @ quad.a), (quad.e[0] @ quad.b)  # (S,)
    got = grad_input(quad, batch=1).double()
    assert torch.allclose(got[0], 2 * ae**2, atol=1e-5) and torch.allclose(got[1], be, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 4, 32])
def test_integrated_gradients_by_hand_and_complete(quad, steps):
    ae, be = (quad.e[0] @ quad.a), (quad.e[0] @ quad.b)
    got, info = integrated_gradients(quad, steps=steps, batch=3)
    # ∫0..1 2α(a·e)² dα = (a·e)²: the midpoint rule is exact for a gradient linear in α.
    assert torch.allclose(got[0].double(), ae**2, atol=1e-5) and torch.allclose(
        got[1].double(), be, atol=1e-5
    )
    assert info["completeness_gap"] < 1e-5 and info["steps"] == steps and info["baseline"] == "zero embedding"
    with pytest.raises(ValueError, match="steps >= 1"):
        integrated_gradients(quad, steps=0)


def test_occlusion_by_hand(quad):
    ae, be = (quad.e[0] @ quad.a), (quad.e[0] @ quad.b)
    got = occlusion(quad, batch=2).double()
    assert torch.allclose(got[0], ae**2, atol=1e-5) and torch.allclose(got[1], be, atol=1e-5)


TEXTS = {"classification": "who wrote hamlet ?", "translation": "alpha beta gamma", "lm": "To be, or"}


@pytest.fixture(scope="module")
def targets(tiny_checkpoints):
    out = {}
    for task, text in TEXTS.items():
        lm = load(tiny_checkpoints[task])
        out[task] = (lm, build_target(lm, text, max_new_tokens=5))
    return out


@pytest.mark.parametrize("task", list(TEXTS))
def test_every_method_gives_one_row_per_output_and_one_column_per_input(task, targets):
    lm, t = targets[task]
    rows = {"classification": 1, "translation": len(t.output_ids), "lm": 5}[task]
    assert len(t.output_ids) == rows and len(t.output_labels) == rows
    for m in METHODS:
        scores, _ = attribute(t, m, steps=8)
        assert scores.shape == (rows, t.n_inputs), m
        assert torch.isfinite(scores).all() and scores.abs().sum() > 0, m
    a = explain(lm, TEXTS[task], "grad_input", max_new_tokens=5)
    assert a.inputs == t.input_labels and a.outputs == t.output_labels
    s = a.stream()
    assert s.weights.shape == (1, 1, 1, rows, t.n_inputs) and s.method == "grad_input"
    assert float(s.weights.max()) == pytest.approx(1.0) and s.title == "gradient × input"


@pytest.mark.parametrize("task", list(TEXTS))
def test_integrated_gradients_completeness_under_5_percent(task, targets):
    _, t = targets[task]
    with torch.enable_grad():
        _, info = attribute(t, "ig")  # the default 32 steps
    assert info["completeness_gap"] < 0.05


@pytest.mark.parametrize("task", list(TEXTS))
def test_occlusion_equals_leave_one_out_recomputed(task, targets):
    _, t = targets[task]
    scores, _ = attribute(t, "occlusion")
    e = t.embeddings()
    with torch.no_grad():
        full = t.logprobs(t.inputs)[0]
        for j in (0, t.n_inputs - 1):
            cut = e.clone()
            cut[0, j] = 0.0
            with swap_embeddings(t.model, cut):
                without = t.logprobs(t.inputs)[0]
            assert torch.allclose(scores[:, j], (full - without).float(), atol=1e-5)


def test_gradient_times_input_equals_autograd_on_the_lm(targets):
    _, t = targets["lm"]
    e = t.embeddings().clone().requires_grad_(True)
    with swap_embeddings(t.model, e):
        t.logprobs(t.inputs)[0, 2].backward()
    want = (e.grad * e).sum(-1)[0].detach()
    assert torch.allclose(attribute(t, "grad_input")[0][2], want, atol=1e-6)
    # causal: a token after the row's predicting position gets nothing
    assert attribute(t, "grad_input")[0][0, t.positions[0] + 1 :].abs().max() == 0


def test_attention_and_value_norm_equal_a_direct_computation(targets):
    lm, t = targets["classification"]
    assert lm.cfg.model.pooling == "cls"
    module = attn.last_attention(t.model)
    values = {}
    h = module.v_proj.register_forward_hook(lambda m, a, out: values.__setitem__("v", out))
    try:
        w = capture_streams(t.model, t.inputs)["encoder"].weights[-1, 0]  # (H, T, S)
    finally:
        h.remove()
    assert torch.allclose(attribute(t, "attention")[0][0], w[:, 0].mean(0), atol=1e-6)
    n_h, d = module.n_heads, module.head_dim
    v = values["v"][0].view(-1, n_h, d)  # (S, H, D): no GQA in the tiny model
    want = torch.zeros(t.n_inputs)
    for j in range(t.n_inputs):
        vec = sum(
            w[hh, 0, j] * module.out_proj.weight[:, hh * d : (hh + 1) * d] @ v[j, hh] for hh in range(n_h)
        )
        want[j] = vec.norm()
    assert torch.allclose(attribute(t, "value_norm")[0][0], want.detach(), atol=1e-5)


def test_attention_rows_of_a_translation_are_its_cross_attention(targets):
    _, t = targets["translation"]
    w = capture_streams(t.model, t.inputs, t.decoder_inputs)["cross"].weights[-1, 0]  # (H, T, S)
    assert torch.allclose(attribute(t, "attention")[0], w.mean(0)[: len(t.output_ids)], atol=1e-6)
    roll = attribute(t, "rollout")[0]
    assert torch.allclose(
        roll.sum(-1), torch.ones(len(t.output_ids)), atol=1e-5
    )  # rows of a product of stochastic maps


def test_refusals(tiny_checkpoints):
    lm = load(tiny_checkpoints["classification"])
    with pytest.raises(ValueError, match=r"unknown attribution method 'shap'; choose one of grad_input, ig"):
        explain(lm, "x", "shap")
    with pytest.raises(ValueError, match="nothing to explain: the input text is empty"):
        explain(lm, "  ", "ig")
    with pytest.raises(ValueError, match=r"unknown label 'SPORT'; this classifier's labels are ABBR"):
        explain(lm, "who ?", "ig", target="SPORT")
    a = explain(lm, "who wrote hamlet ?", "ig", target="HUM")
    assert a.outputs == ["HUM"] and math.isfinite(a.info["completeness_gap"])
