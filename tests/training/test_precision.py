"""The CPU capability check behind ``train.precision: auto``."""

from __future__ import annotations

from attnkit.layers import kernels
from attnkit.training import precision as prec

REAL_CPU_FLAGS = prec.cpu_flags  # conftest replaces it in every test; this one tests the real one


def test_cpu_flags_are_read_from_the_flags_line(tmp_path, monkeypatch):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 avx512f\n\nflags : other\n")
    real_path = kernels.Path
    monkeypatch.setattr(kernels, "Path", lambda p: fake if p == "/proc/cpuinfo" else real_path(p))
    monkeypatch.setattr(prec, "cpu_flags", REAL_CPU_FLAGS)
    prec.cpu_flags.cache_clear()
    try:
        assert prec.cpu_flags() == frozenset({"fpu", "sse", "avx512_bf16", "avx512f"})
        assert prec.cpu_has_fast_bf16() is True
        fake.write_text("flags\t: fpu sse avx512f avx512_vnni\n")
        prec.cpu_flags.cache_clear()
        assert prec.cpu_has_fast_bf16() is False
        fake.unlink()
        prec.cpu_flags.cache_clear()
        assert prec.cpu_flags() == frozenset()
    finally:
        prec.cpu_flags.cache_clear()
