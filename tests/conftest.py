"""Shared test fixtures: the tolerance table and seeded random inputs."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

# The triton attention backend runs on the CPU only under Triton's interpreter, which Triton reads
# when its kernels are first defined: set it before any test can reach them.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# CI runs the same examples every time (a red CI must be reproducible); local runs explore.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

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


@pytest.fixture(autouse=True)
def _fp32_by_default(monkeypatch) -> None:
    """``train.precision: auto`` resolves as on a CPU without native bf16, so a test's numbers do
    not depend on the machine that runs it; tests of the capability check patch it themselves."""
    from attnkit.training import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset())


@pytest.fixture
def shared_data() -> str:
    """The offline dataset mirror; tests that need it fail (never skip) when it is absent."""
    import os
    from pathlib import Path

    root = os.environ.get("ATTNKIT_DATA")
    if not root or not (Path(root) / "tinyshakespeare").is_dir():
        pytest.fail(
            "ATTNKIT_DATA must point at the dataset mirror (e.g. ATTNKIT_DATA=../shared/data); "
            f"got {root!r}. `make test` sets it when ../shared/data exists."
        )
    return root


TINY_CORPUS = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n"
) * 40


@pytest.fixture
def tiny_corpus(tmp_path):
    """Train/valid/test text files of a small corpus, for fast end-to-end runs."""
    paths = {}
    for split, text in (("train", TINY_CORPUS), ("valid", TINY_CORPUS[:2000]), ("test", TINY_CORPUS[-2000:])):
        p = tmp_path / f"{split}.txt"
        p.write_text(text, encoding="utf-8")
        paths[split] = str(p)
    return paths


def tiny_run_config(out_dir, corpus: dict, *extra: str):
    """A RunConfig that trains a tiny char model on ``corpus`` in a second or two."""
    from attnkit.config import RunConfig, apply_overrides

    return apply_overrides(
        RunConfig(),
        [
            f"out_dir={out_dir}",
            "data.dataset=null",
            f"data.train_file={corpus['train']}",
            f"data.valid_file={corpus['valid']}",
            f"data.test_file={corpus['test']}",
            "data.seq_len=32",
            "model.d_model=32",
            "model.n_heads=2",
            "model.n_layers=2",
            "model.max_seq_len=64",
            "train.batch_size=4",
            "train.max_steps=8",
            "train.eval_every=4",
            "train.eval_batches=2",
            "train.warmup_steps=2",
            "train.log_every=1",
            "train.progress=false",
            "train.lr=3e-3",
            *extra,
        ],
    )


@pytest.fixture
def spy_backend(monkeypatch):
    """A backend that runs the reference and keeps the weights it returned."""
    from attnkit.attention import BACKENDS, Backend, reference_attention

    seen: list[torch.Tensor] = []

    def spy(q, k, v, **kw):
        kw["need_weights"] = True
        out, w = reference_attention(q, k, v, **kw)
        seen.append(w)
        return out, None

    monkeypatch.setitem(BACKENDS, "spy", Backend("spy", spy))
    return seen


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict:
    """task -> a tiny trained checkpoint dir (lm, translation, dialogue, classification)."""
    from pathlib import Path

    root = os.environ.get("ATTNKIT_DATA")
    if not root or not (Path(root) / "trec").is_dir():  # the classifier trains on TREC
        pytest.fail(
            "ATTNKIT_DATA must point at the dataset mirror (e.g. ATTNKIT_DATA=../shared/data); "
            f"got {root!r}. `make test` sets it when ../shared/data exists."
        )
    from tests.checkpoints import make_checkpoints

    return make_checkpoints(tmp_path_factory.mktemp("ckpts"))


@pytest.fixture(scope="session")
def speech_checkpoint(tmp_path_factory):
    """A tiny trained speech checkpoint dir (FSDD; needs the dataset mirror)."""
    from pathlib import Path

    root = os.environ.get("ATTNKIT_DATA")
    if not root or not (Path(root) / "fsdd").is_dir():
        pytest.fail(
            "ATTNKIT_DATA must point at the dataset mirror holding fsdd/ (e.g. ATTNKIT_DATA=../shared/data); "
            f"got {root!r}. `make test` sets it when ../shared/data exists."
        )
    from tests.checkpoints import make_speech_checkpoint

    return make_speech_checkpoint(tmp_path_factory.mktemp("speech"))
