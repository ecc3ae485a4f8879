"""The mask module: one convention, bool, True = may attend."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnkit.data import masks


def test_padding_mask_from_ids():
    ids = torch.tensor([[5, 6, 0, 0], [1, 2, 3, 4]])
    m = masks.padding_mask(ids, pad_id=0)
    assert m.dtype == torch.bool
    assert m.tolist() == [[True, True, False, False], [True] * 4]
    assert masks.expand_padding(m).shape == (2, 1, 1, 4)


def test_lengths_to_padding_mask():
    m = masks.lengths_to_padding_mask(torch.tensor([2, 0, 3]), 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]]


def test_causal_is_bottom_right_aligned():
    assert masks.causal_mask(3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    # 2 queries continuing after 3 cached keys: query 0 is position 3.
    assert masks.causal_mask(2, 5).int().tolist() == [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    with pytest.raises(ValueError, match="S >= T"):
        masks.causal_mask(5, 3)


@given(t=st.integers(1, 20), window=st.integers(1, 25))
def test_sliding_window_is_a_banded_causal_mask(t, window):
    m = masks.sliding_window_mask(t, window)
    assert m.shape == (t, t)
    assert torch.equal(m & ~masks.causal_mask(t), torch.zeros_like(m))  # never sees the future
    assert m.sum(-1).tolist() == [min(i + 1, window) for i in range(t)]
    if window >= t:
        assert torch.equal(m, masks.causal_mask(t))


def test_bidirectional_sliding_window():
    m = masks.sliding_window_mask(5, 1, causal=False)
    assert m.sum(-1).tolist() == [2, 3, 3, 3, 2]


def test_combine_ands_and_broadcasts():
    pad = masks.expand_padding(torch.tensor([[True, True, False]]))
    both = masks.combine(pad, None, masks.causal_mask(3))
    assert both.shape == (1, 1, 3, 3)
    assert both[0, 0].int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 0]]
    assert masks.combine(None, None) is None
    with pytest.raises(ValueError, match="must be bool"):
        masks.combine(torch.ones(2, 2))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(B, S\)"):
        masks.padding_mask(torch.zeros(3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        masks.sliding_window_mask(3, 0)
    with pytest.raises(ValueError, match=r"bool of shape \(B, S\)"):
        masks.expand_padding(torch.ones(2, 3))
