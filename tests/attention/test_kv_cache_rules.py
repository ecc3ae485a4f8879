"""KV-cache details by hand: buffer dtypes, the shape and capacity refusals in full, empty
cross-attention slots, and what allocate builds (`make mutate`, docs/testing.md)."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention.kv_cache import KVCache, LayerKVCache, StaticKV


def test_buffers_take_the_model_dtype():
    layer = LayerKVCache(2, 3, 5, 4, dtype=torch.bfloat16)
    assert layer.k.dtype == layer.v.dtype == torch.bfloat16 and layer.k.shape == (2, 3, 5, 4)
    cache = KVCache.allocate(2, 1, 1, 4, 8, dtype=torch.float64)
    assert [lc.k.dtype for lc in cache.layers] == [torch.float64] * 2 and cache.cross == []
    both = KVCache.allocate(3, 1, 1, 4, 8, cross_attention=True)
    assert len(both.cross) == 3 and not any(c.filled for c in both.cross)


def test_update_refuses_mismatched_keys_and_values_and_a_full_cache():
    layer = LayerKVCache(1, 2, 3, 4)
    k = torch.ones(1, 2, 2, 4)
    with pytest.raises(ValueError) as err:
        layer.update(k, torch.ones(1, 2, 1, 4))  # right (B, Hkv, D), different lengths
    assert str(err.value) == "KV cache holds (B, Hkv, *, D) = (1, 2, *, 4); got k(1, 2, 2, 4) v(1, 2, 1, 4)"
    keys, _ = layer.update(k, 2 * k)
    assert keys.shape == (1, 2, 2, 4) and layer.length == 2
    with pytest.raises(ValueError) as err:
        layer.update(k, k)
    assert str(err.value) == (
        "KV cache is full: 2 cached + 2 new > max_len=3; create the cache with a larger max_len"
    )


def test_an_empty_cross_attention_slot_is_not_filled():
    slot = StaticKV()
    assert slot.filled is False
    slot.set(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    assert slot.filled is True
    slot.reorder(torch.tensor([0, 0]))
    assert slot.k.shape == (2, 1, 2, 2)
    slot.reset()
    assert slot.filled is False


def test_repeat_copies_row_zero_of_the_prefix_into_every_new_row():
    cache = KVCache.allocate(2, 2, 3, 6, 4, dtype=torch.float64)
    for i, layer in enumerate(cache.layers):
        k = torch.arange(2 * 3 * 2 * 4, dtype=torch.float64).view(2, 3, 2, 4) + 100 * i
        layer.update(k, -k)
    out = cache.repeat(5, 8)
    assert out.length == 2 and len(out.layers) == 2 and out.cross == []
    for src, dst in zip(cache.layers, out.layers, strict=True):
        assert dst.k.shape == (5, 3, 8, 4) and dst.k.dtype == torch.float64 and dst.length == 2
        assert torch.equal(dst.k[:, :, :2], src.k[:1, :, :2].expand(5, 3, 2, 4))
        assert torch.equal(dst.v[:, :, :2], src.v[:1, :, :2].expand(5, 3, 2, 4))
        assert torch.equal(dst.k[:, :, 2:], torch.zeros(5, 3, 6, 4, dtype=torch.float64))
    with pytest.raises(ValueError) as err:
        cache.repeat(5, 1)
    assert str(err.value) == "max_len=1 is shorter than the 2 cached positions"
    with pytest.raises(ValueError) as err:
        KVCache.allocate(1, 1, 1, 4, 2, cross_attention=True).repeat(2, 4)
    assert str(err.value) == "repeat() is for decoder-only self-attention caches"
    with pytest.raises(ValueError, match="repeat"):
        KVCache([]).repeat(2, 4)


def test_repeat_with_rows_gives_each_new_row_its_own_source_row():
    cache = KVCache.allocate(2, 2, 3, 6, 4, dtype=torch.float64)
    for i, layer in enumerate(cache.layers):
        k = torch.arange(2 * 3 * 2 * 4, dtype=torch.float64).view(2, 3, 2, 4) + 100 * i
        layer.update(k, -k)
    rows = torch.tensor([0, 0, 0, 1, 1, 1])  # beams: three copies of each prompt, consecutive
    out = cache.repeat(6, 8, rows)
    for src, dst in zip(cache.layers, out.layers, strict=True):
        assert dst.k.shape == (6, 3, 8, 4) and dst.length == 2
        assert torch.equal(dst.k[:, :, :2], src.k[rows, :, :2])
        assert torch.equal(dst.v[:, :, :2], -dst.k[:, :, :2])
        assert torch.equal(dst.k[3, :, :2], src.k[1, :, :2])  # beam 0 of prompt 1
        assert torch.equal(dst.k[:, :, 2:], torch.zeros(6, 3, 6, 4, dtype=torch.float64))


def test_repeat_may_fill_the_new_cache_exactly():
    cache = KVCache.allocate(1, 1, 1, 4, 2)
    cache.layers[0].update(torch.ones(1, 1, 3, 2), torch.ones(1, 1, 3, 2))
    assert cache.repeat(2, 3).length == 3  # max_len equal to the cached length is enough


def test_step_inputs_without_a_cache_and_in_append_mode():
    from attnkit.attention.kv_cache import step_inputs

    ids = torch.zeros(2, 3, dtype=torch.long)
    pos, mask, causal = step_inputs(ids)
    assert pos.tolist() == [0, 1, 2] and mask is None and causal is True
    pad = torch.tensor([[True, True, False], [True, True, True]])
    given = torch.tensor([[0, 1, 1], [0, 1, 2]])
    pos, mask, causal = step_inputs(ids, pad, given)
    assert pos is given and mask.shape == (2, 1, 1, 3) and mask[:, 0, 0].equal(pad) and causal is True
    with pytest.raises(ValueError) as err:
        step_inputs(ids, pad, start=2)
    assert str(err.value) == "padding_mask (2, 3) must be (B, cached + T) = (2, 5)"
    cache = KVCache.allocate(1, 2, 1, 8, 4)
    cache.layers[0].length = 2  # two positions cached
    assert (cache.batch_size, cache.max_len) == (2, 8)
    full = torch.ones(2, 5, dtype=torch.bool)
    full[0, 0] = False
    pos, mask, causal = cache.step_inputs(ids, full)
    assert pos.tolist() == [2, 3, 4] and mask[:, 0, 0].equal(full) and causal is True
    left_padded = torch.tensor([[1, 2, 2], [2, 3, 4]])
    assert cache.step_inputs(ids, full, left_padded)[0] is left_padded
    with pytest.raises(ValueError) as err:
        cache.step_inputs(torch.zeros(3, 1, dtype=torch.long))
    assert str(err.value) == "cache batch 2 != ids batch 3 (3, 1)"


def test_step_inputs_in_slot_mode_mask_every_key_past_each_slot():
    cache = KVCache.allocate(2, 1, 1, 4, 2)
    cache.set_slots(torch.tensor([1, 2]))
    pos, mask, causal = cache.step_inputs(torch.zeros(1, 2, dtype=torch.long))
    assert pos.tolist() == [1, 2] and causal is False
    assert mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    want = "a slot-addressed cache takes (B, T) ids with T = 2 slots and no padding_mask or positions"
    for bad in (
        {"padding_mask": torch.ones(1, 2, dtype=torch.bool)},
        {"positions": torch.tensor([1, 2])},
        {},  # three ids for two slots
    ):
        ids = torch.zeros(1, 3 if not bad else 2, dtype=torch.long)
        with pytest.raises(ValueError) as err:
            cache.step_inputs(ids, **bad)
        assert str(err.value) == want
