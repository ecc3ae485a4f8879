"""The tiled and local backends' own rules: the local family's capabilities and band, the
defaults and scale of the tiled function, and mask validation (docs/testing.md)."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import get_backend
from attnkit.attention.reference import reference_attention
from attnkit.attention.registry import Capabilities
from attnkit.attention.tiled import _local_family, _tiled_backend


def test_the_local_family_declares_its_limits_and_its_band():
    local = _local_family("2")
    assert local.name == "local:2"
    assert local.caps == Capabilities(weights=False, exact=True, any_mask=False)
    # causal, window 2, bottom-right aligned: query i (at position i + 1 of 4 keys) sees keys i, i + 1
    band = local.effective_mask(None, True, 3, 4, "cpu")
    t, f = True, False
    assert band.tolist() == [[t, t, f, f], [f, t, t, f], [f, f, t, t]]
    both_sides = _local_family("1").effective_mask(None, False, 4, 4, "cpu")  # one key on each side
    assert both_sides.tolist() == [[t, t, f, f], [t, t, t, f], [f, t, t, t], [f, f, t, t]]
    with pytest.raises(ValueError) as err:
        _local_family("x")
    assert str(err.value) == "local attention needs a positive window, as in 'local:64'; got 'local:x'"


def test_tiled_defaults_scale_and_mask_checks():
    fn = _tiled_backend(None)
    torch.manual_seed(6)
    q, k, v = (torch.randn(1, 2, 5, 4, dtype=torch.float64) for _ in range(3))
    out, w = fn(q, k, v)
    assert w is None
    torch.testing.assert_close(out, reference_attention(q, k, v)[0])
    torch.testing.assert_close(fn(q, k, v, scale=0.3)[0], reference_attention(q, k, v, scale=0.3)[0])
    with pytest.raises(ValueError, match="attention masks are bool"):
        get_backend("tiled")(q, k, v, mask=torch.ones(5, 5))


@pytest.mark.parametrize("block", [(1, 1), (2, 3), (3, 2)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [None, 1, 2])
@pytest.mark.parametrize(("t", "s"), [(5, 5), (3, 7), (1, 4)])
def test_tiny_tiles_cross_every_block_boundary_and_match_the_reference(block, causal, window, t, s):
    # Tiles of 1-3 rows and columns put block edges everywhere, so the key range each query
    # block visits (what the tiles skip) must be exactly right, not just inside one big tile.
    from attnkit.attention.tiled import tiled_attention_core
    from attnkit.data.masks import sliding_window_mask

    torch.manual_seed(7)
    q = torch.randn(2, 2, t, 4, dtype=torch.float64)
    k, v = (torch.randn(2, 2, s, 4, dtype=torch.float64) for _ in range(2))
    pad = torch.ones(2, 1, 1, s, dtype=torch.bool)
    pad[1, ..., 0] = False  # the second row cannot see its first key
    got = tiled_attention_core(
        q, k, v, mask=pad, is_causal=causal, scale=None, dropout_p=0.0, window=window,
        block_q=block[0], block_k=block[1],
    )  # fmt: skip
    mask = pad if window is None else pad & sliding_window_mask(t, window, s, causal=causal)
    want = reference_attention(q, k, v, mask=mask, is_causal=causal)[0]
    torch.testing.assert_close(got, want)


def test_tiled_low_precision_and_dropout():
    from attnkit.attention.tiled import tiled_attention_core

    torch.manual_seed(8)
    q, k, v = (torch.randn(1, 2, 6, 4).bfloat16() for _ in range(3))
    kw = dict(mask=None, is_causal=True, scale=None, dropout_p=0.0, block_q=2, block_k=2)
    got = tiled_attention_core(q, k, v, **kw)
    want = tiled_attention_core(q.float(), k.float(), v.float(), **kw).bfloat16()
    assert got.dtype == torch.bfloat16 and torch.equal(got, want)  # float32 inside, rounded once
    # Dropout: q = 0 and V = identity make the output the dropped-out probabilities (1/S each).
    s = 64
    zero, eye = torch.zeros(4, 4, s, s), torch.eye(s).expand(4, 4, s, s)
    out = tiled_attention_core(zero, zero, eye, mask=None, is_causal=False, scale=None, dropout_p=0.25)
    assert float((out == 0).double().mean()) == pytest.approx(0.25, abs=0.01)
