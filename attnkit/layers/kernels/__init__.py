"""Native kernels attnkit compiles on first use, and the CPU feature checks that pick them.

``int8_linear.cpp`` is an AVX512-VNNI int8 matrix product (see its header), registered as the
dispatcher op ``torch.ops.attnkit.int8_linear``. It is built once per machine with
``torch.utils.cpp_extension.load`` (a C++ compiler and about 30 s; cached under
``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``). Where the CPU lacks the
instructions, no compiler is found, or ``ATTNKIT_NO_KERNELS=1``, :func:`int8_extension` returns
False and callers use their pure-PyTorch path, which multiplies the same quantized values.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path

VNNI_FLAGS = ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "bmi2")
"""``/proc/cpuinfo`` flags the int8 kernel is compiled for (and checked against before loading)."""


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of CPUs with native bf16 dot products."""


def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AMX-BF16 or AVX512-BF16)."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


@functools.cache
def int8_extension() -> bool:
    """True once ``torch.ops.attnkit.int8_linear`` is built and loaded; False where it cannot run
    here (the reason is warned once, except for a CPU without the instructions)."""
    if os.environ.get("ATTNKIT_NO_KERNELS") or not all(f in cpu_flags() for f in VNNI_FLAGS):
        return False
    import torch
    from torch.utils.cpp_extension import load

    source = Path(__file__).with_name("int8_linear.cpp")
    flags = ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mbmi2"]
    try:
        # The name carries a hash of the source, so an edited kernel is rebuilt, not reused.
        tag = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
        load(f"attnkit_int8_{tag}", [str(source)], extra_cflags=flags, is_python_module=False, verbose=False)
    except Exception as exc:  # no compiler, no ninja, a read-only cache: the PyTorch path runs
        msg = f"attnkit's int8 kernel could not be built ({exc}); using the slower PyTorch path"
        warnings.warn(msg, stacklevel=2)
        return False

    @torch.library.register_fake("attnkit::int8_linear")
    def _(x, w, scale, bias):  # the output's shape and dtype, for torch.compile
        return x.new_empty((*x.shape[:-1], w.shape[0]))

    return True
