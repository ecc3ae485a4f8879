"""Which precision a run trains in: ``train.precision`` resolved against the hardware.

``auto`` trains under bf16 autocast where the hardware multiplies bf16 natively, and in fp32
elsewhere:

- CUDA: always bf16 (every GPU attnkit targets has bf16 tensor cores);
- CPU: bf16 when the CPU has AMX-BF16 or AVX512-BF16 (Intel Sapphire Rapids and later, AMD Zen 4
  and later). On this project's 2-core AVX512-BF16 CPU a (4096, 384) x (384, 1536) matmul takes
  15.6 ms in bf16 against 28.0 ms in fp32; on CPUs without these instructions bf16 is emulated
  and slower than fp32, so ``auto`` stays in fp32 there;
- MPS and anything else: fp32.

Autocast keeps the weights, the optimizer state, norms, softmax and the loss in fp32; only
matmuls and convolutions run in bf16. The loss difference against fp32 is measured per recipe
family in benchmarks/RESULTS.md ("Learning per CPU minute").
"""

from __future__ import annotations

import contextlib

import torch

from attnkit.layers.kernels import BF16_CPU_FLAGS, cpu_flags


def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AMX-BF16 or AVX512-BF16). Reads this module's
    ``cpu_flags`` (not the kernels' function), so tests can pin the precision alone."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: what ``train.precision`` means on ``device``."""
    if precision != "auto":
        return precision
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16()):
        return "bf16"
    return "fp32"


def autocast(precision: str, device: torch.device):
    """A bf16 autocast context where :func:`resolve_precision` says bf16, else a no-op context."""
    if resolve_precision(precision, device) != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
