"""KVCache: preallocated append, reset, beam reorder, cross-attention K/V computed once."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import KVCache, LayerKVCache, StaticKV


def test_append_returns_all_cached_and_reuses_buffers():
    c = LayerKVCache(2, 3, max_len=10, head_dim=4)
    buf = c.k.data_ptr()
    k1, v1 = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    k2, v2 = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
    c.update(k1, v1)
    k, v = c.update(k2, v2)
    assert c.length == 5 and k.shape == (2, 3, 5, 4)
    assert torch.equal(k, torch.cat([k1, k2], 2)) and torch.equal(v, torch.cat([v1, v2], 2))
    assert c.k.data_ptr() == buf  # no reallocation
    c.reset()
    assert c.length == 0
    k, _ = c.update(k2, v2)
    assert torch.equal(k, k2)


def test_overflow_and_shape_errors():
    c = LayerKVCache(1, 2, max_len=3, head_dim=4)
    c.update(torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"KV cache is full: 3 cached \+ 1 new > max_len=3"):
        c.update(torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4))
    with pytest.raises(ValueError, match=r"holds \(B, Hkv, \*, D\) = \(1, 2, \*, 4\)"):
        c.update(torch.randn(1, 3, 1, 4), torch.randn(1, 3, 1, 4))


def test_reorder_by_beam_index():
    cache = KVCache.allocate(2, 3, 1, 8, 2, cross_attention=True)
    ks = torch.arange(3.0)[:, None, None, None].expand(3, 1, 4, 2).clone()  # row b is filled with b
    for layer in cache.layers:
        layer.update(ks, ks + 10)
    for cross in cache.cross:
        cross.set(ks[:, :, :2], ks[:, :, :2] + 20)
    cache.reorder(torch.tensor([2, 0, 0]))
    for layer in cache.layers:
        assert layer.k[:, 0, :4, 0].tolist() == [[2.0] * 4, [0.0] * 4, [0.0] * 4]
        assert layer.v[:, 0, 0, 0].tolist() == [12.0, 10.0, 10.0]
    assert cache.cross[1].k[:, 0, 0, 0].tolist() == [2.0, 0.0, 0.0]
    assert cache.length == 4
    cache.reset()
    assert cache.length == 0 and not cache.cross[0].filled


def test_static_kv_fills_once():
    s = StaticKV()
    assert not s.filled
    s.set(torch.ones(1), torch.zeros(1))
    assert s.filled and s.k.item() == 1.0
