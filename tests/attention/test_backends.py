"""Every registered backend against the float64 reference, forward and backward, over the grid:
causal x padding x GQA (Hkv in {H, H/2, 1}) x query/key lengths (T == S, T < S, T > S, single-step
cached decode) x dtype (float32, bfloat16)."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnkit.attention import BACKENDS, get_backend, list_backends, reference_attention
from attnkit.data import masks
from tests.conftest import tol

# Every exact backend must equal the reference; a local window wider than any test sequence is
# exact too. (linear is not exact: tests/attention/test_efficient.py checks it its own way.)
EXACT = [n for n in sorted(BACKENDS) if BACKENDS[n].caps.exact] + ["local:4096"]

H = 4
D = 16
# (name, T, S): T > S only makes sense without causality (cross-attention to a short source).
LENGTHS = [("T=S", 8, 8), ("T<S", 5, 9), ("T>S", 9, 5), ("decode", 1, 9)]
GRID = [
    (causal, padding, h_kv, lname, t, s, dtype)
    for causal, padding, h_kv, (lname, t, s), dtype in itertools.product(
        [False, True], [False, True], [H, H // 2, 1], LENGTHS, [torch.float32, torch.bfloat16]
    )
    if not (causal and t > s)
]


def _inputs(b: int, h: int, h_kv: int, t: int, s: int, d: int = D):
    q = torch.randn(b, h, t, d, dtype=torch.float64)
    k = torch.randn(b, h_kv, s, d, dtype=torch.float64)
    v = torch.randn(b, h_kv, s, d, dtype=torch.float64)
    return q, k, v


def _pad_mask(b: int, s: int) -> torch.Tensor:
    lengths = torch.tensor([s, max(1, s - 3), max(1, s // 2)][:b])
    return masks.expand_padding(masks.lengths_to_padding_mask(lengths, s))  # (B, 1, 1, S)


def _run(backend: str, q, k, v, dtype, device="cpu", **kw):
    """Forward + backward in ``dtype`` on ``device``; returns out and grads in float64 on the CPU.
    (tests/gpu runs the same comparison on CUDA.)"""
    leaves = [x.detach().to(device, dtype).requires_grad_(True) for x in (q, k, v)]
    kw = {name: (m.to(device) if isinstance(m, torch.Tensor) else m) for name, m in kw.items()}
    out, _ = get_backend(backend)(*leaves, **kw)
    g = torch.linspace(-1, 1, out.numel(), dtype=torch.float64, device=device).reshape(out.shape)
    (out.double() * g).sum().backward()
    return tuple(x.detach().double().cpu() for x in (out, *(leaf.grad for leaf in leaves)))


# local:<W> is self-attention only (S >= T): its band is aligned on positions shared by q and k.
CASES = [(b, *g) for b in EXACT for g in GRID if not (b.startswith("local:") and g[4] > g[5])]


@pytest.mark.parametrize(("backend", "causal", "padding", "h_kv", "lname", "t", "s", "dtype"), CASES)
def test_backend_matches_float64_reference(backend, causal, padding, h_kv, lname, t, s, dtype):
    b = 3
    q, k, v = _inputs(b, H, h_kv, t, s)
    mask = _pad_mask(b, s) if padding else None
    kw = {"mask": mask, "is_causal": causal}
    ref = _run("reference", q, k, v, torch.float64, **kw)
    got = _run(backend, q, k, v, dtype, **kw)
    assert got[0].shape == (b, H, t, D)
    torch.testing.assert_close(got[0], ref[0], **tol(dtype, "out"))
    for g_got, g_ref in zip(got[1:], ref[1:], strict=True):
        assert g_got.shape == g_ref.shape
        torch.testing.assert_close(g_got, g_ref, **tol(dtype, "grad"))


def test_grid_covers_every_axis():
    assert len(GRID) == 2 * 3 * 2 * (4 + 3)  # padding x GQA x dtype x (4 non-causal + 3 causal lengths)
    assert {"reference", "sdpa"} <= set(list_backends())


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fully_masked_rows_give_zeros_and_finite_grads(backend, dtype):
    # Row 0 of the batch masks every key; with causal + left padding, early queries of row 1 see
    # nothing either. Both must give exact zeros, and no NaN anywhere in the gradients.
    q, k, v = _inputs(2, H, 2, 6, 6)
    key_mask = torch.tensor([[False] * 6, [False, False, True, True, True, True]])
    mask = masks.expand_padding(key_mask)
    out, gq, gk, gv = _run(backend, q, k, v, dtype, mask=mask, is_causal=True)
    assert torch.equal(out[0], torch.zeros_like(out[0]))
    assert torch.equal(out[1, :, :2], torch.zeros_like(out[1, :, :2]))
    assert out[1, :, 2:].abs().sum() > 0
    for g in (gq, gk, gv):
        assert torch.isfinite(g).all()
    assert torch.equal(gq[0], torch.zeros_like(gq[0]))


@pytest.mark.parametrize("backend", EXACT)
def test_scale_argument_is_used(backend):
    q, k, v = _inputs(1, 2, 2, 5, 5)
    ref, _ = reference_attention(q, k, v, scale=0.3)
    got, _ = get_backend(backend)(q.float(), k.float(), v.float(), scale=0.3)
    torch.testing.assert_close(got.double(), ref, **tol(torch.float32))
    default, _ = get_backend(backend)(q.float(), k.float(), v.float())
    assert (default.double() - ref).abs().max() > 1e-3


@pytest.mark.parametrize("backend", EXACT)
def test_sliding_window_mask_matches_reference(backend):
    q, k, v = _inputs(2, H, H, 12, 12)
    mask = masks.sliding_window_mask(12, window=4)
    ref, _ = reference_attention(q, k, v, mask=mask)
    got, _ = get_backend(backend)(q.float(), k.float(), v.float(), mask=mask)
    torch.testing.assert_close(got.double(), ref, **tol(torch.float32))


@pytest.mark.parametrize("backend", [n for n in EXACT if get_backend(n).caps.dropout])
def test_dropout_zeroes_probabilities_and_keeps_expectation(backend):
    # With v = 1 the output is the row sum of the dropped-out probabilities: 1 in expectation,
    # but no longer exactly 1 for any single row.
    q = torch.randn(4, 4, 128, 16)
    k = torch.randn(4, 4, 128, 16)
    v = torch.ones(4, 4, 128, 16)
    out, _ = get_backend(backend)(q, k, v, dropout_p=0.5)
    assert abs(out.mean().item() - 1.0) < 0.05
    assert (out - 1).abs().max() > 0.1
    plain, _ = get_backend(backend)(q, k, v, dropout_p=0.0)
    torch.testing.assert_close(plain, torch.ones_like(plain), atol=1e-5, rtol=1e-5)


def test_sdpa_uses_is_causal_fast_path(monkeypatch):
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    sdpa = get_backend("sdpa")
    sdpa(q, k, v, is_causal=True)  # T == S: flag, no mask tensor
    sdpa(q[:, :, :1], k, v, is_causal=True)  # single decode step: nothing to mask
    sdpa(q[:, :, :3], k, v, is_causal=True)  # T < S: bottom-right causality needs a mask
    assert [bool(c.get("is_causal")) for c in calls] == [True, False, False]
    assert [c.get("attn_mask") is None for c in calls] == [True, True, False]
    assert calls[2]["attn_mask"].shape == (3, 6)


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 3),
    h_kv=st.sampled_from([1, 2, 4]),
    group=st.sampled_from([1, 2]),
    t=st.integers(1, 12),
    extra=st.integers(0, 8),
    d=st.sampled_from([4, 8, 16]),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_and_masks_match_reference(b, h_kv, group, t, extra, d, causal, seed):
    gen = torch.Generator().manual_seed(seed)
    s = t + extra
    h = h_kv * group
    q = torch.randn(b, h, t, d, generator=gen, dtype=torch.float64)
    k = torch.randn(b, h_kv, s, d, generator=gen, dtype=torch.float64)
    v = torch.randn(b, h_kv, s, d, generator=gen, dtype=torch.float64)
    mask = torch.rand(b, 1, t, s, generator=gen) < 0.7  # random holes, some rows fully masked
    ref, _ = reference_attention(q, k, v, mask=mask, is_causal=causal)
    assert torch.isfinite(ref).all()
    for name in EXACT:
        got, _ = get_backend(name)(q.float(), k.float(), v.float(), mask=mask, is_causal=causal)
        torch.testing.assert_close(got.double(), ref, **tol(torch.float32))
