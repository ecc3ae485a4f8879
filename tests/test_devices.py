"""Device selection for training and for loaded models: names, auto, and clear errors for a
device this machine lacks (CI has no GPU, so the CUDA branch is the error branch here)."""

from __future__ import annotations

import pytest
import torch

import attnkit
from attnkit.cli.main import main
from attnkit.training.device import select_device


def test_auto_and_named_devices():
    want = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert select_device("auto").type == want
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(
        ValueError, match=r"unknown device 'gpu'; choose from auto, cpu, cuda, mps \(or cuda:N\)"
    ):
        select_device("gpu")
    with pytest.raises(ValueError, match="unknown device 'cpu:1'"):
        select_device("cpu:1")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(
        ValueError, match="device 'cuda:0' was asked for but no CUDA device is available; use auto or cpu"
    ):
        select_device("cuda:0")


def test_load_and_the_cli_take_a_device(tiny_checkpoints, capsys):
    lm = attnkit.load(tiny_checkpoints["lm"], device="auto")
    assert next(lm.model.parameters()).device.type == select_device("auto").type
    rc = main(["generate", "--ckpt", str(tiny_checkpoints["lm"]), "--device", "cpu", "--prompt", "ab",
               "--max-new-tokens", "5", "--seed", "0"])  # fmt: skip
    assert rc == 0 and capsys.readouterr().out.startswith("ab")
    rc = main(["generate", "--ckpt", str(tiny_checkpoints["lm"]), "--device", "tpu", "--prompt", "ab"])
    assert rc == 2 and "unknown device 'tpu'" in capsys.readouterr().err
    for cmd in (["eval"], ["viz", "--text", "ab", "--out", "x"], ["serve"], ["transcribe", "a.wav"]):
        rc = main([*cmd, "--ckpt", str(tiny_checkpoints["lm"]), "--device", "tpu"])
        assert rc == 2 and "unknown device 'tpu'" in capsys.readouterr().err, cmd
