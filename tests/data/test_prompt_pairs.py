"""Prompt + target rows for decoder-only pair training: labels, padding, bucketing."""

from __future__ import annotations

import pytest
import torch

from attnkit.data.prompt_pairs import PromptPairs, prompt_batch
from attnkit.data.seq2seq import IGNORE_INDEX


def test_prompt_batch_shifts_once_and_labels_only_the_target():
    b = prompt_batch([[5, 6, 7], [8]], [[9, 2], [10, 11, 2]], pad_id=0)
    # rows: 5 6 7 9 2 / 8 10 11 2 0 -> input drops the last column, labels drop the first
    assert b["input"].tolist() == [[5, 6, 7, 9], [8, 10, 11, 2]]
    assert b["labels"].tolist() == [[-100, -100, 9, 2], [10, 11, 2, -100]]


def test_buckets_are_runs_of_length_neighbours_and_padding_is_counted():
    lengths = [3, 9, 4, 8, 5, 7, 6, 2]
    data = PromptPairs([[1] * n for n in lengths], [[7, 2]] * 8, pad_id=0, name="train")
    assert [data.length(i) for i in data.order] == sorted(n + 2 for n in lengths)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        b = data.random_batch(2, gen)
        real = (b["input"] != 0).sum(1) + 1  # + the dropped last column
        assert int(real.max() - real.min()) <= 1  # neighbours in length order
    # pairs of neighbours differ by one token: 4 pads over 4 batches of 2
    assert data.padding_fraction(2) == pytest.approx(4 / (sum(lengths) + 16 + 4))
    idx, first = next(data.eval_batches(3))
    assert idx == data.order[:3] and first["labels"].shape[0] == 3
    assert (first["labels"] != IGNORE_INDEX).sum() == 6  # two target tokens per pair
    with pytest.raises(ValueError, match="no usable pairs"):
        PromptPairs([], [], 0, "valid")
