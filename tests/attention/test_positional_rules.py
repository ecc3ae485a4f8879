"""Position modules by hand: the sinusoidal table against the paper's formula in float64, what
is (not) saved in checkpoints, RoPE's frequencies, and the range refusals in full."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.attention.positional import LearnedPositions, RotaryEmbedding, SinusoidalPositions


def test_sinusoidal_table_is_the_papers_formula_rounded_once():
    d, n = 8, 4096
    table = SinusoidalPositions(d, n).table
    for p in (0, 1, 1000, 4095):
        want = []
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            want += [math.sin(angle), math.cos(angle)]
        assert table[p].tolist() == torch.tensor(want, dtype=torch.float64).float().tolist()


def test_fixed_tables_are_not_saved_but_learned_positions_are():
    assert "table" not in SinusoidalPositions(4, 8).state_dict()
    assert dict(RotaryEmbedding(8).state_dict()) == {}
    assert list(LearnedPositions(4, 8).state_dict()) == ["weight"]


def test_rope_frequencies_by_hand():
    rope = RotaryEmbedding(8)
    assert rope.inv_freq.tolist() == pytest.approx([1.0, 10000**-0.25, 10000**-0.5, 10000**-0.75])
    assert RotaryEmbedding(4, theta=100.0).inv_freq.tolist() == pytest.approx([1.0, 0.1])


@pytest.mark.parametrize(
    ("module", "what"), [(SinusoidalPositions(4, 8), "sinusoidal"), (LearnedPositions(4, 8), "learned")]
)
def test_out_of_range_positions_are_refused_in_full(module, what):
    with pytest.raises(ValueError) as err:
        module(torch.tensor([3, 8]))
    assert str(err.value) == (
        f"{what} position 8 is out of range: max_seq_len=8; shorten the input or build the model "
        "with a larger max_seq_len"
    )


def test_position_modules_by_name_and_from_config():
    from attnkit.attention.positional import position_table

    assert isinstance(position_table("sinusoidal", 4, 8), SinusoidalPositions)
    assert isinstance(position_table("learned", 4, 8), LearnedPositions)
    assert position_table("rope", 4, 8) is None and position_table("none", 4, 8) is None
    with pytest.raises(ValueError) as err:
        position_table("alibi", 4, 8)
    assert str(err.value) == "unknown positions 'alibi'; choose sinusoidal, learned, rope, none"
    rope = RotaryEmbedding.for_positions("rope", 8, 500.0)
    assert rope.inv_freq.tolist() == pytest.approx([500.0 ** (-i / 8) for i in range(0, 8, 2)])
    assert RotaryEmbedding.for_positions("learned", 8) is None
    default = RotaryEmbedding.for_positions("rope", 8)  # theta 10000, as RoFormer and LLaMA use
    assert default.inv_freq.tolist() == pytest.approx([10000.0 ** (-i / 8) for i in range(0, 8, 2)])
