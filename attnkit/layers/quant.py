"""Quantized linear layers for inference: int8 weights with dynamic int8 activations, and bf16.

``Int8Linear`` stores W as int8 with one fp32 scale per output row (symmetric, ``s = max|w|/127``).
Each row of the input is quantized on the fly in blocks of :data:`BLOCK` values, one scale per
block (as llama.cpp's Q8_0 does with blocks of 32): with one scale per whole row, the outlier
features of an LM's activations flattened the rest and SmolLM2's greedy tokens left fp32's after
2 of 32; with 64-blocks all 32 stayed. The block products are exact int32 sums, rescaled in fp32:
``y = sw · Σ_b sx_b · (xq_b · wq_b) (+ b)``, for calls of up to :data:`DENSE_ROWS` rows (batch-1
and small-batch decoding; larger calls use the dense kernels). On CPUs with AVX512-VNNI this
runs attnkit's own kernel (``layers/kernels/int8_linear.cpp``); elsewhere the same quantized
values are multiplied in fp32 by PyTorch (:meth:`Int8Linear.reference`), equal to the kernel up
to float summation order. Why W8A8 and not weight-only int8: on this project's CPU (AMD EPYC, AVX512-VNNI, 2
threads) SmolLM2-135M's 211 matrices at batch 1 took 7–9 ms with the kernel, 9.0 with fbgemm's
dynamic int8 (deprecated with ``torch.ao``), 12.8 with ``aten._weight_int8pack_mm`` and bf16
activations, 25.0 in bf16 and 47.7 in fp32 (benchmarks/RESULTS.md, "CPU inference").

``BF16Linear`` keeps W in bf16 and multiplies in bf16 (native on AVX512-BF16/AMX CPUs and GPUs),
returning the input's dtype. Both are inference-only: they hold buffers, not parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnkit.layers.kernels import cpu_has_fast_bf16, int8_extension

QUANTIZE_MODES = ("none", "int8", "bf16")
"""What ``--quantize`` and ``attnkit.load(..., quantize=...)`` accept."""


BLOCK = 64
"""Activation values that share one int8 scale (one 64-byte VNNI register)."""
DENSE_ROWS = 16
"""Above this many rows per call (a prompt, an encoder batch, beam search) the CPU multiplies the
dequantized weights with its dense bf16/fp32 kernels: there the work is compute-bound and those
kernels are faster than int8 dot products with per-block scales (which cost as many instructions
per value as fp32's). At or below it (decoding) the int8 kernel reads a quarter of the bytes."""


def quantize_rows(x: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric int8 per row of ``x`` ``(M, K)``: ``(q int8 (M, K), scale fp32 (M,))`` with
    ``x ≈ q · scale``; an all-zero row gets scale 1."""
    amax = x.abs().amax(dim=-1)
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    q = (x * (1 / scale)[:, None]).round().to(torch.int8)  # |x·(1/s)| <= 127 by construction
    return q, scale


def quantize_blocks(x: Tensor, block: int = BLOCK) -> tuple[Tensor, Tensor]:
    """Symmetric int8 per block of ``block`` values along each row of ``x`` ``(M, K)``:
    ``(q int8 (M, K), scale fp32 (M, ceil(K / block)))``; the last block may be shorter."""
    m, k = x.shape
    nb = -(-k // block)
    padded = nn.functional.pad(x, (0, nb * block - k)).view(m * nb, block)  # (M, K) -> (M·nb, block)
    q, scale = quantize_rows(padded)
    return q.view(m, nb * block)[:, :k], scale.view(m, nb)  # (M·nb, block) -> (M, K)


def _dequantize_blocks(q: Tensor, scale: Tensor, block: int = BLOCK) -> Tensor:
    """``q · scale`` block by block: ``(M, K)`` fp32."""
    k = q.shape[1]
    per_value = scale.repeat_interleave(block, dim=1)[:, :k]  # (M, nb) -> (M, K)
    return q.float() * per_value


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights and dynamically quantized int8 activations."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        q, scale = quantize_rows(weight.detach().float())
        self.register_buffer("qweight", q.contiguous())
        self.register_buffer("scale", scale.contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        # Decided once here (building the kernel on first use), not per call: torch.compile then
        # sees a plain attribute, and tests can switch the kernel off to compare the two paths.
        self.use_kernel = int8_extension()

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        return cls(linear.weight, linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type == "cpu" and x.numel() > DENSE_ROWS * self.in_features:
            return self.dense(x)
        if self.use_kernel and x.device.type == "cpu":
            return torch.ops.attnkit.int8_linear(x, self.qweight, self.scale, self.bias)
        return self.reference(x)

    def dense(self, x: Tensor) -> Tensor:
        """Many rows: the int8 weights dequantized for this call (bf16 where the CPU multiplies
        bf16 natively, else fp32) and the activations unquantized, through the dense GEMM."""
        dt = torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
        w = self.qweight.to(dt) * self.scale.to(dt)[:, None]  # (N, K), freed after the call
        y = nn.functional.linear(x.to(dt), w).to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def reference(self, x: Tensor) -> Tensor:
        """The same quantized values multiplied by PyTorch in fp32 (any device): each product of
        int8 values and each 64-term block sum is exact in fp32, so this equals the kernel up to
        the order in which block sums are added."""
        x2 = x.reshape(-1, self.in_features).float()  # (..., K) -> (M, K)
        q, sx = quantize_blocks(x2)
        xd = _dequantize_blocks(q, sx)
        y = (xd @ self.qweight.float().t()) * self.scale  # (M, K) @ (K, N) -> (M, N)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)  # (M, N) -> (..., N)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class BF16Linear(nn.Module):
    """``nn.Linear`` with bf16 weights, multiplied in bf16; returns the input's dtype."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight.detach().to(torch.bfloat16).contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().to(torch.bfloat16).clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> BF16Linear:
        return cls(linear.weight, linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bf16"


QUANTIZED_LINEAR = {"int8": Int8Linear, "bf16": BF16Linear}
