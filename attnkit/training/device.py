"""Which torch device a run or a loaded model uses: ``auto`` (CUDA, then MPS, then CPU) or a name."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str) -> torch.device:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` as a ``torch.device``.

    Raises:
        ValueError: an unknown name, or a device this machine does not have (naming the fix).
    """
    kind = name.split(":", 1)[0]
    if kind not in DEVICES or (":" in name and kind != "cuda"):
        raise ValueError(f"unknown device {name!r}; choose from {', '.join(DEVICES)} (or cuda:N)")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} was asked for but no CUDA device is available; use auto or cpu"
            )
        index = torch.device(name).index
        if index is not None and index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but MPS is not available; use auto or cpu")
    return torch.device(name)
