"""The speech task: batches, joined digit strings, the baseline's limits, and a tiny overfit run."""

from __future__ import annotations

import pytest
import torch

from attnkit.audio import featurize
from attnkit.config import RunConfig, apply_overrides
from attnkit.data.datasets import load_dataset
from attnkit.models.factory import build_model
from attnkit.tasks.speech import SpeechTask
from attnkit.training.trainer import Trainer

TINY = ["task=speech", "data.dataset=fsdd", "model.d_model=48", "model.n_heads=4", "model.n_layers=1",
        "model.n_encoder_layers=2", "model.positions=sinusoidal", "model.init=fan_in"]  # fmt: skip


def _subset(per_split: int, digits: int = 10) -> dict:
    """``per_split`` recordings of each split, spread evenly over the sorted names (which sort by
    digit), restricted to the first ``digits`` digits."""
    t = load_dataset("fsdd")
    t = {"train": t["train"], "valid": t["test"], "test": t["test"]}
    out = {}
    for split, cols in t.items():
        keep = [i for i, d in enumerate(cols["digit"]) if d < digits]
        pick = keep[:: max(1, len(keep) // per_split)][:per_split]
        out[split] = {c: [v[i] for i in pick] for c, v in cols.items()}
    return out


def test_batches_hold_frames_masks_and_teacher_forcing(shared_data):
    cfg = apply_overrides(RunConfig(), TINY)
    task = SpeechTask(cfg, splits=_subset(8))
    b = task.train_batch(torch.Generator().manual_seed(0), 4)
    assert b["feats"].shape[0] == 4 and b["feats"].shape[2] == 40 and b["feat_mask"].dtype == torch.bool
    tok = task.tokenizer
    row = [i for i in b["tgt_out"][0].tolist() if i != -100]
    assert tok.decode(row[:-1]) in task.labels and row[-1] == tok.eos_id
    assert b["tgt_in"][0, 0] == tok.bos_id
    mc = task.model_config(cfg.model)
    assert mc.input_dim == 40 and mc.vocab_size == tok.vocab_size
    assert mc.max_seq_len >= 1001 // 4  # 10 s of 10 ms frames after 4x subsampling


def test_digit_strings_are_fixed_per_split_and_drawn_fresh_in_training(shared_data):
    over = [*TINY, "data.min_words=2", "data.max_words=5", "data.eval_strings=40"]
    cfg = apply_overrides(RunConfig(), over)
    a, b = SpeechTask(cfg, splits=_subset(20, 2)), SpeechTask(cfg, splits=_subset(20, 2))
    feats, texts = a.examples("test")
    assert len(feats) == 40 and texts == b.examples("test")[1]  # seeded by the split name
    assert {len(t.split()) for t in texts} <= {2, 3, 4, 5} and len({len(t.split()) for t in texts}) > 1
    assert all(w in {"zero", "one"} for t in texts for w in t.split())
    waves = a.example_waves("test")  # re-drawn from the seed: the same audio the features came from
    assert len(waves) == 40 and torch.equal(a.example_wave("test", 3), waves[3])
    assert all(torch.equal(featurize(waves[k], a.fcfg), feats[k]) for k in (0, 3, 39))
    lo, hi = a._gap_samples()
    for w, p in zip(waves, a.pieces("test"), strict=True):  # the pieces plus 50-300 ms gaps
        pieces = sum(a.waves["test"][i].numel() for i in p)
        assert pieces + lo * (len(p) - 1) <= w.numel() <= pieces + hi * (len(p) - 1)
    g = torch.Generator().manual_seed(1)
    b1, b2 = a.train_batch(g, 3), a.train_batch(g, 3)
    assert not torch.equal(b1["tgt_in"][:, :3], b2["tgt_in"][:, :3]) or b1["feats"].shape != b2["feats"].shape
    with pytest.raises(ValueError, match="logreg baseline labels single recordings"):
        SpeechTask(apply_overrides(RunConfig(), [*over, "model.arch=logreg"]), splits=_subset(4))


def test_noise_sits_at_its_snr_is_seeded_for_evaluation_and_fresh_in_training(shared_data):
    strings = [*TINY, "data.min_words=2", "data.max_words=3", "data.eval_strings=6", "data.min_gap_ms=100"]
    noisy = SpeechTask(apply_overrides(RunConfig(), [*strings, "data.noise_snr_db=20"]), splits=_subset(6, 2))
    clean = SpeechTask(apply_overrides(RunConfig(), strings), splits=_subset(6, 2))
    assert noisy.references("test") == clean.references("test")  # the same strings, drawn the same way
    again = SpeechTask(apply_overrides(RunConfig(), [*strings, "data.noise_snr_db=20"]), splits=_subset(6, 2))
    waves = noisy.example_waves("test")
    assert all(torch.equal(a, b) for a, b in zip(waves, again.example_waves("test"), strict=True))
    assert all(
        torch.equal(featurize(w, noisy.fcfg), f) for w, f in zip(waves, noisy.features("test"), strict=True)
    )
    for w, p in zip(waves, noisy.pieces("test"), strict=True):  # the first gap: noise alone, 20 dB under 0.1
        n = noisy.waves["test"][p[0]].numel()
        assert float(w[n : n + 800].pow(2).mean().sqrt()) == pytest.approx(0.01, rel=0.1)
    # single words: fixed noise for evaluation, fresh noise in every training draw
    words = [*TINY, "data.noise_snr_db=20", "data.spec_augment=false"]
    one = SpeechTask(apply_overrides(RunConfig(), words), splits=_subset(4, 2))
    extra = one.example_waves("valid")[0] - one.waves["valid"][0]
    assert float(extra.pow(2).mean().sqrt()) == pytest.approx(0.01, rel=0.1)
    b1 = one.train_batch(torch.Generator().manual_seed(0), 2)
    b2 = one.train_batch(torch.Generator().manual_seed(0), 2)
    assert torch.equal(b1["feats"], b2["feats"])  # seeded by the training generator
    clean_feats = [one.recording_features("train", i) for i in range(4)]
    assert not any(torch.equal(b1["feats"][0, : len(f)], f) for f in clean_feats)
    with pytest.raises(ValueError, match="not a number of dB"):
        SpeechTask(apply_overrides(RunConfig(), [*TINY, "data.noise_snr_db=inf"]), splits=_subset(4, 2))


def test_tiny_speech_model_overfits_and_decodes_its_training_words(shared_data, tmp_path):
    over = [*TINY, f"out_dir={tmp_path}", "train.max_steps=120", "train.batch_size=16", "train.lr=3e-3",
            "train.warmup_steps=10", "train.eval_every=120", "train.progress=false", "train.log_every=10",
            "data.spec_augment=false", "model.dropout=0.0", "train.weight_decay=0.0"]  # fmt: skip
    cfg = apply_overrides(RunConfig(), over)
    task = SpeechTask(cfg, splits=_subset(16))
    cfg.model = task.model_config(cfg.model)
    torch.manual_seed(0)
    trainer = Trainer(cfg, task, build_model(cfg.model, "speech"))
    trainer.fit()
    losses = [r["loss"] for r in trainer.history if r["kind"] == "train"]
    assert losses[-1] < 0.3 * losses[0], losses
    from attnkit.config.run import DecodeConfig
    from attnkit.decode.speech import transcribe

    feats = task.features("train")
    hyps = transcribe(trainer.model, task.tokenizer, feats, DecodeConfig(beam_size=1))
    assert task.score(hyps, "train")["accuracy"] >= 0.9


def test_logreg_baseline_trains_in_the_same_harness(shared_data, tmp_path):
    over = ["task=speech", "data.dataset=fsdd", "model.arch=logreg", f"out_dir={tmp_path}",
            "train.max_steps=150", "train.batch_size=32", "train.lr=0.05", "train.warmup_steps=0",
            "train.eval_every=150", "train.progress=false", "data.spec_augment=false"]  # fmt: skip
    cfg = apply_overrides(RunConfig(), over)
    task = SpeechTask(cfg, splits=_subset(60, 2))
    assert task.labels == ["one", "zero"]
    cfg.model = task.model_config(cfg.model)
    assert cfg.model.labels == ["one", "zero"]
    trainer = Trainer(cfg, task, build_model(cfg.model, "speech"))
    m = trainer.fit()
    assert m["unit"] == "recording" and m["token_accuracy"] >= 0.9  # zero vs one on held-in speakers


def test_own_recordings_from_a_tsv_manifest(tmp_path):
    import math
    import struct
    import wave

    def tone(name, freq, rate=16000):
        with wave.open(str(tmp_path / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            n = rate // 4
            w.writeframes(
                b"".join(
                    struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n)
                )
            )

    lines = []
    for i in range(6):
        name = f"t{i}.wav"
        tone(name, 1200 if i % 2 else 300)
        lines.append(f"{name}\t{'high' if i % 2 else 'low'}\t{'ann' if i < 3 else 'bob'}")
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    own = ["data.dataset=null", f"data.train_file={tmp_path / 'train.tsv'}", "data.holdout_speaker=bob"]
    cfg = apply_overrides(RunConfig(), [*TINY, *own])
    task = SpeechTask(cfg)
    assert task.references("test") == ["high", "low", "high"]  # bob's three, in file order
    assert task.labels == ["high", "low"] and len(task.waves["test"][0]) == 2000  # 16 kHz -> 8 kHz
    (tmp_path / "bad.tsv").write_text("t0.wav\tlow\nmissing.wav\thigh\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"1 audio file\(s\) not found.*missing\.wav"):
        SpeechTask(
            apply_overrides(cfg, [f"data.train_file={tmp_path / 'bad.tsv'}", "data.holdout_speaker=null"])
        )
    (tmp_path / "cols.tsv").write_text("t0.wav low\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1 should be audio\.wav<TAB>transcript"):
        SpeechTask(apply_overrides(cfg, [f"data.train_file={tmp_path / 'cols.tsv'}"]))
    with pytest.raises(ValueError, match=r"needs data\.dataset .* or data\.train_file"):
        SpeechTask(apply_overrides(RunConfig(), ["task=speech", "data.dataset=null"]))
