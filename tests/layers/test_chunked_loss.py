"""The chunked head + cross-entropy against the plain one: values, gradients, autocast, memory,
and the tasks that use it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from attnkit.layers.chunked_loss import chunked_cross_entropy


def _inputs(n=37, c=16, v=50, dtype=torch.float32):
    torch.manual_seed(0)
    h = torch.randn(n, c, dtype=dtype, requires_grad=True)
    w = torch.randn(v, c, dtype=dtype, requires_grad=True)
    b = torch.randn(v, dtype=dtype, requires_grad=True)
    t = torch.randint(0, v, (n,))
    t[[3, 9]] = -100
    return h, w, b, t


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("chunk", [1, 8, 64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_plain_cross_entropy_and_its_gradients(smoothing, chunk, with_bias):
    h, w, b, t = _inputs()
    b = b if with_bias else None
    got = chunked_cross_entropy(h, w, t, b, chunk=chunk, label_smoothing=smoothing)
    want = F.cross_entropy(F.linear(h, w, b), t, ignore_index=-100, label_smoothing=smoothing)
    params = (h, w) + ((b,) if with_bias else ())
    g_got = torch.autograd.grad(3.0 * got, params)
    g_want = torch.autograd.grad(3.0 * want, params)
    assert torch.allclose(got, want, atol=1e-5)
    for a, e in zip(g_got, g_want, strict=True):
        assert torch.allclose(a, e, atol=1e-6, rtol=1e-5)


def test_equals_plain_under_bf16_autocast():
    h, w, b, t = _inputs(n=64, c=32, v=300)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = chunked_cross_entropy(h, w, t, b, chunk=16)
        want = F.cross_entropy(F.linear(h, w, b).float(), t, ignore_index=-100)
    g_got = torch.autograd.grad(got, (h, w))
    g_want = torch.autograd.grad(want, (h, w))
    assert got.dtype == torch.float32 and torch.allclose(got, want, atol=2e-2, rtol=1e-2)
    for a, e in zip(g_got, g_want, strict=True):
        assert torch.allclose(a, e, atol=2e-2, rtol=5e-2)


def test_all_ignored_is_zero_and_shapes_are_checked():
    h, w, b, t = _inputs()
    t[:] = -100
    loss = chunked_cross_entropy(h, w, t, b)
    assert loss.item() == 0.0
    (g,) = torch.autograd.grad(loss, (h,))
    assert g.abs().max() == 0
    with pytest.raises(ValueError, match=r"hidden \(N, C\), weight \(V, C\), targets \(N,\)"):
        chunked_cross_entropy(h[None], w, t)
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        chunked_cross_entropy(h, w, t, chunk=0)


PEAK = textwrap.dedent(
    """
    import resource, sys, torch, torch.nn.functional as F
    from attnkit.layers.chunked_loss import chunked_cross_entropy
    torch.manual_seed(0)
    n, c, v = 16 * 256, 64, 50_257
    h = torch.randn(n, c, requires_grad=True); w = (torch.randn(v, c) * 0.02).requires_grad_()
    t = torch.randint(0, v, (n,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.argv[1] == "chunked":
        loss = chunked_cross_entropy(h, w, t)
    else:
        loss = F.cross_entropy(F.linear(h, w).float(), t)
    loss.backward()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, loss.item())
    """
)


def test_peak_memory_is_under_a_quarter_at_vocab_50k():
    """B16 x T256 rows, vocab 50,257: each loss in a fresh process, peak RSS growth compared."""
    peak, loss = {}, {}
    for impl in ("plain", "chunked"):
        out = subprocess.run([sys.executable, "-c", PEAK, impl], capture_output=True, text=True, check=True)
        kib, value = out.stdout.split()
        peak[impl], loss[impl] = int(kib), float(value)
    assert abs(loss["plain"] - loss["chunked"]) < 1e-4
    assert peak["plain"] > 1_500_000  # the plain loss holds GBs of logits...
    assert peak["chunked"] <= peak["plain"] / 4, peak  # ...the chunked one a fraction
