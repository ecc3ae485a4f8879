"""Shared test fixtures: the tolerance table and seeded random inputs."""

from __future__ import annotations

import pytest
import torch

# One table per dtype: how far a backend in that dtype may be from the float64 reference.
# bf16 has an 8-bit mantissa (eps 2^-8 = 3.9e-3); errors of a few eps accumulate over D.
TOLERANCES: dict[torch.dtype, dict[str, dict[str, float]]] = {
    torch.float64: {"out": {"atol": 1e-10, "rtol": 1e-10}, "grad": {"atol": 1e-10, "rtol": 1e-10}},
    torch.float32: {"out": {"atol": 1e-5, "rtol": 1e-5}, "grad": {"atol": 5e-5, "rtol": 5e-5}},
    torch.bfloat16: {"out": {"atol": 2e-2, "rtol": 2e-2}, "grad": {"atol": 5e-2, "rtol": 5e-2}},
}


def tol(dtype: torch.dtype, kind: str = "out") -> dict[str, float]:
    return TOLERANCES[dtype][kind]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
