"""Tiny trained checkpoints of every task family, for the viz, serve and browser tests.

Each trains in seconds on CPU. They only need to be real checkpoints written by the real trainer:
the tests check shapes, labels and equality with the reference backend, not model quality.
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]

COMMON = [
    "model.d_model=32", "model.n_heads=4", "model.n_layers=2", "train.batch_size=32",
    "train.warmup_steps=5", "train.lr=3e-3", "train.progress=false", "train.log_every=50",
    "train.eval_batches=2",
]  # fmt: skip


def _pairs(path: Path, n: int, seed: int, fmt) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        w = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
        rows.append(fmt(w))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _pair_files(root: Path, fmt) -> list[str]:
    return [
        f"data.{split}_file={_pairs(root / f'{split}.tsv', n, i, fmt)}"
        for i, (split, n) in enumerate((("train", 800), ("valid", 40), ("test", 30)))
    ]


def make_checkpoints(root: Path) -> dict[str, Path]:
    """Train one tiny model per task under ``root``; returns task -> ``best/`` checkpoint dir."""
    from attnkit import api
    from attnkit.config import RunConfig, apply_overrides

    root.mkdir(parents=True, exist_ok=True)
    text = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n") * 60
    for split in ("train", "valid", "test"):
        (root / f"lm-{split}.txt").write_text(text, encoding="utf-8")
    seq2seq = ["data.dataset=null", "data.tokenizer=word", "data.max_src_len=16", "data.max_tgt_len=16",
               "model.max_seq_len=32", "model.share_embeddings=true", "decode.beam_size=1",
               "train.eval_batches=null"]  # fmt: skip
    (root / "rev").mkdir(exist_ok=True)
    (root / "chat").mkdir(exist_ok=True)
    recipes = {
        "lm": [
            "task=lm", "data.dataset=null", "data.tokenizer=char", "data.seq_len=48", "model.max_seq_len=64",
            *(f"data.{s}_file={root / f'lm-{s}.txt'}" for s in ("train", "valid", "test")),
            "train.max_steps=20", "train.eval_every=20",
        ],
        "translation": [
            "task=translation", *seq2seq,
            *_pair_files(root / "rev", lambda w: f"{' '.join(w)}\t{' '.join(w[::-1])}"),
            "model.d_model=64", "train.max_steps=150", "train.eval_every=150",
        ],
        "dialogue": [
            "task=dialogue", *seq2seq, "data.context_turns=2",
            *_pair_files(root / "chat", lambda w: f"A: {' '.join(w)}\t{' '.join(w[::-1])}"),
            "train.max_steps=20", "train.eval_every=20",
        ],
        "classification": [
            "task=classification", "data.dataset=trec", "data.tokenizer=word", "data.seq_len=40",
            "train.max_steps=20", "train.eval_every=20",
        ],
    }  # fmt: skip
    out = {}
    for task, overrides in recipes.items():
        cfg = apply_overrides(RunConfig(), [*COMMON, f"out_dir={root / task}", *overrides])
        api.train(cfg)
        out[task] = root / task / "best"
    return out


def make_speech_checkpoint(root: Path) -> Path:
    """A tiny speech Transformer trained briefly on FSDD (needs the dataset mirror)."""
    from attnkit import api
    from attnkit.config import RunConfig, apply_overrides

    cfg = apply_overrides(RunConfig(), [
        "task=speech", "data.dataset=fsdd", f"out_dir={root / 'speech'}", "model.d_model=32",
        "model.n_heads=4", "model.n_layers=1", "model.n_encoder_layers=1", "model.positions=sinusoidal",
        "train.max_steps=30", "train.eval_every=30", "train.batch_size=16", "train.lr=3e-3",
        "train.warmup_steps=5", "train.progress=false", "train.eval_batches=2", "decode.beam_size=2",
    ])  # fmt: skip
    api.train(cfg)
    return root / "speech" / "best"
