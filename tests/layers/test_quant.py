"""Int8 and bf16 linear layers: the VNNI kernel against the PyTorch path, both against exact
integer arithmetic, and both against fp32 within the quantization error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnkit.layers import quant
from attnkit.layers.kernels import int8_extension
from attnkit.layers.quant import BLOCK, BF16Linear, Int8Linear, quantize_blocks, quantize_rows

needs_kernel = pytest.mark.skipif(not int8_extension(), reason="no AVX512-VNNI CPU or no C++ compiler here")


def test_quantize_rows_scale_and_round_trip():
    x = torch.tensor([[0.5, -1.27, 0.0], [0.0, 0.0, 0.0], [3.0, 1.0, -2.0]])
    q, s = quantize_rows(x)
    assert q.dtype == torch.int8 and s.dtype == torch.float32
    assert torch.allclose(s, torch.tensor([1.27 / 127, 1.0, 3.0 / 127]))
    assert q[0].tolist() == [50, -127, 0] and q[1].tolist() == [0, 0, 0] and q[2, 0] == 127
    # Round-to-nearest: each value within half a step of its row's grid.
    assert ((q.float() * s[:, None] - x).abs() <= s[:, None] / 2 + 1e-7).all()


def test_quantize_blocks_gives_each_block_its_own_scale():
    x = torch.zeros(2, 150)
    x[0, :64] = 0.5
    x[0, 64:128] = 100.0  # an outlier block must not flatten its neighbours
    x[0, 128:] = -3.0  # the last, shorter block (22 values)
    q, s = quantize_blocks(x)
    assert q.shape == (2, 150) and s.shape == (2, 3) and BLOCK == 64
    assert torch.allclose(s[0], torch.tensor([0.5, 100.0, 3.0]) / 127)
    assert (q[0, :64] == 127).all() and (q[0, 128:] == -127).all()
    assert s[1].tolist() == [1.0, 1.0, 1.0] and (q[1] == 0).all()


def _exact(layer: Int8Linear, x: torch.Tensor) -> torch.Tensor:
    """The product written out in float64: sw · Σ_b sx_b · (xq_b · wq_b) + b."""
    x2 = x.reshape(-1, layer.in_features).float()
    q, sx = quantize_blocks(x2)
    k = layer.in_features
    y = torch.zeros(x2.shape[0], layer.out_features, dtype=torch.float64)
    for b in range(sx.shape[1]):
        cols = slice(b * BLOCK, min(k, (b + 1) * BLOCK))
        dot = q[:, cols].long() @ layer.qweight[:, cols].long().t()  # exact integers
        y += dot.double() * sx[:, b, None].double()
    y = y * layer.scale.double()
    if layer.bias is not None:
        y = y + layer.bias.double()
    return y.view(*x.shape[:-1], layer.out_features)


@pytest.mark.parametrize("k", [64, 577, 1536])
@pytest.mark.parametrize("bias", [True, False])
def test_pytorch_path_equals_the_block_arithmetic(k, bias):
    layer = Int8Linear.from_linear(nn.Linear(k, 70, bias=bias))
    x = torch.randn(2, 5, k)
    assert torch.allclose(layer.reference(x).double(), _exact(layer, x), rtol=1e-5, atol=1e-6)


@needs_kernel
@pytest.mark.parametrize("m", [1, 3, 4, 9])
@pytest.mark.parametrize("k", [32, 64, 577, 1536])
@pytest.mark.parametrize("bias", [True, False])
def test_kernel_equals_the_block_arithmetic(m, k, bias):
    layer = Int8Linear.from_linear(nn.Linear(k, 131, bias=bias))
    assert layer.use_kernel

    def kernel(x):  # the op itself: the layer sends calls of over DENSE_ROWS rows elsewhere
        return torch.ops.attnkit.int8_linear(x, layer.qweight, layer.scale, layer.bias)

    x = torch.randn(2, m, k) * 3
    x[1, -1, : k // 2] *= 50  # outliers in the first half of a row
    want = _exact(layer, x)
    # Only the order of the fp32 block additions differs: a few ulp of the output's scale.
    assert torch.allclose(kernel(x).double(), want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    if 2 * m <= quant.DENSE_ROWS:
        assert torch.equal(layer(x), kernel(x))
    x[0, 0] = 0  # an all-zero row: scale 1, output = bias
    out = kernel(x)
    assert torch.equal(out[0, 0], layer.bias if bias else torch.zeros(131))


@needs_kernel
def test_kernel_keeps_a_bf16_input_dtype_and_rejects_a_wrong_width():
    layer = Int8Linear.from_linear(nn.Linear(96, 40))
    x = torch.randn(3, 96).bfloat16()
    out = layer(x)
    assert out.dtype == torch.bfloat16 and torch.allclose(out.float(), layer.reference(x).float(), rtol=1e-2)
    with pytest.raises(RuntimeError, match="last dimension"):
        layer(torch.randn(3, 95))


@pytest.mark.parametrize("use_kernel", [True, False])
def test_int8_close_to_fp32(use_kernel):
    if use_kernel and not int8_extension():
        pytest.skip("no AVX512-VNNI CPU or no C++ compiler here")
    lin = nn.Linear(384, 256)
    layer = Int8Linear.from_linear(lin)
    layer.use_kernel = use_kernel
    x = torch.randn(8, 384)
    ref = lin(x).detach()
    # Two roundings of at most half a step each: |err| <= Σ|x||w| (1/254 + 1/254) per output;
    # in practice a few tenths of a percent of the output scale.
    err = (layer(x) - ref).abs().max() / ref.abs().max()
    assert 0 < err < 0.01
    assert layer.qweight.dtype == torch.int8 and not list(layer.parameters())


def test_bf16_linear_equals_a_bf16_matmul():
    lin = nn.Linear(64, 32)
    layer = BF16Linear.from_linear(lin)
    x = torch.randn(4, 64)
    want = nn.functional.linear(x.bfloat16(), lin.weight.bfloat16(), lin.bias.bfloat16()).float()
    assert layer(x).dtype == torch.float32 and torch.equal(layer(x), want)
    assert layer.weight.dtype == torch.bfloat16 and not list(layer.parameters())


def test_modes_are_the_cli_choices():
    from attnkit.cli.options import QUANTIZE_MODES

    assert quant.QUANTIZE_MODES == QUANTIZE_MODES == ("none", "int8", "bf16")
    assert set(quant.QUANTIZED_LINEAR) == {"int8", "bf16"}


@pytest.mark.parametrize("fast_bf16", [True, False])
def test_many_rows_use_the_dense_kernel_on_dequantized_weights(monkeypatch, fast_bf16):
    monkeypatch.setattr(quant, "cpu_has_fast_bf16", lambda: fast_bf16)
    layer = Int8Linear.from_linear(nn.Linear(96, 40))
    dt = torch.bfloat16 if fast_bf16 else torch.float32
    w = layer.qweight.to(dt) * layer.scale.to(dt)[:, None]
    x = torch.randn(2, quant.DENSE_ROWS, 96)  # 32 rows: above the threshold
    want = nn.functional.linear(x.to(dt), w).float() + layer.bias
    assert torch.equal(layer(x), want)
    small = x[:1, :3]  # 3 rows: the int8 path, not this one
    assert not torch.equal(layer(small), nn.functional.linear(small.to(dt), w).float() + layer.bias)
    assert torch.allclose(layer(small), layer.reference(small), rtol=1e-5, atol=1e-5)
