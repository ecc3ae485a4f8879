"""Speech to text on recorded digits: spelled words, digit strings, held-out speakers.

One task, three settings of ``data``:

- **spell-word** (``min_words = max_words = 1``): a recording of "7" -> ``seven``.
- **digit strings** (``max_words > 1``): 2-5 recordings joined with random silences ->
  ``three one four``. Joined examples are synthetic concatenations of real recordings (see
  :mod:`attnkit.data.audio_batches`); training draws new ones every batch, evaluation splits use
  ``data.eval_strings`` fixed ones drawn with a seed derived from the split name.
  ``data.noise_snr_db`` adds white noise over every example (fresh in training, seeded for
  evaluation), so that the pauses between words are no longer digital silence.
- **speaker-independent** (``holdout_speaker``): every recording of one speaker is the test set.

Validation is 10% of train chosen by a hash of the file name; the test split only gives the
final score. Features are :func:`attnkit.audio.featurize` frames (loudness-normalised log-mel),
computed once per fixed example; each band is then normalised with training-set statistics that
the model stores (``data.cmvn: global``) or per recording (``utterance``). Training can play
recordings at random speeds (``data.speed_perturb``) and masks bands (SpecAugment).

Models: ``arch: transformer`` is :class:`SpeechEncoderDecoder` (characters out, loss per
character); ``arch: logreg`` is the non-attention baseline that picks one of the training
transcripts (single recordings only). :meth:`SpeechTask.score` turns decoded transcripts into
accuracy (whole output right), WER and CER.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.audio import FeatureConfig, change_speed, featurize, load_audio, normalize_loudness, spec_augment
from attnkit.config.model import ModelConfig
from attnkit.config.run import DataConfig, RunConfig
from attnkit.data.audio_batches import draw_string, join_waveforms, pad_frames
from attnkit.data.datasets import load_dataset
from attnkit.data.seq2seq import IGNORE_INDEX, teacher_forcing
from attnkit.data.speech_datasets import hold_out_recordings, load_speech_files, speaker_split
from attnkit.metrics import asr_scores
from attnkit.models.base import eval_mode
from attnkit.tasks.base import Batch
from attnkit.text import CharTokenizer, Tokenizer


def feature_config(data: DataConfig) -> FeatureConfig:
    return FeatureConfig(n_mels=data.n_mels, cmvn=data.cmvn == "utterance")


def load_speech_tables(data: DataConfig) -> dict[str, dict[str, list]]:
    """``{split: columns}`` with train/valid/test, as ``data`` asks (official or held-out speaker)."""
    if data.dataset is None:
        if data.train_file is None:
            raise ValueError(
                "task: speech needs data.dataset (e.g. fsdd), or data.train_file: a TSV of "
                "audio.wav<TAB>transcript lines (plus data.valid_file / data.test_file)"
            )
        tables = load_speech_files(data.train_file, data.valid_file, data.test_file)
    else:
        tables = load_dataset(data.dataset)
    if not isinstance(tables.get("train"), dict) or "path" not in tables["train"]:
        raise ValueError(f"dataset {data.dataset!r} holds no recordings; task: speech needs e.g. fsdd")
    if data.holdout_speaker:
        tables = speaker_split(tables, data.holdout_speaker)
    return tables if "valid" in tables else hold_out_recordings(tables)


def _split_seed(name: str) -> int:
    return int(hashlib.sha1(f"speech-eval-{name}".encode()).hexdigest()[:8], 16)


class SpeechTask:
    family = "speech"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer | None = None, splits: dict | None = None):
        self.cfg, d = cfg, cfg.data
        self.fcfg = feature_config(d)
        self.strings = d.max_words > 1
        tables = splits if splits is not None else load_speech_tables(d)
        self.texts = {s: list(t["text"]) for s, t in tables.items()}
        # Each recording is read once and loudness-normalised; joined strings mix normalised pieces.
        self.waves = {
            s: [normalize_loudness(load_audio(p, self.fcfg), self.fcfg.target_rms) for p in t["path"]]
            for s, t in tables.items()
        }  # fmt: skip
        if tokenizer is None:
            tokenizer = CharTokenizer.train(" ".join(self.texts["train"]))
        self.tokenizer = tokenizer
        self.labels = sorted(set(self.texts["train"]))
        if d.noise_snr_db is not None and not math.isfinite(d.noise_snr_db):
            raise ValueError(
                f"data.noise_snr_db={d.noise_snr_db} is not a number of dB; "
                "give e.g. 20, or null for clean audio"
            )
        # The logreg baseline picks one of the training words per recording (a classifier); every
        # other arch spells its transcript character by character.
        self.whole_words = cfg.model.arch == "logreg"
        if self.whole_words and self.strings:
            raise ValueError(
                "the logreg baseline labels single recordings (data.max_words: 1); digit strings "
                "need arch: transformer"
            )
        self._fixed: dict[str, tuple[list[Tensor], list[str]]] = {}
        self._pieces: dict[str, list[list[int]]] = {}

    # --- examples --------------------------------------------------------------------------

    def _gap_samples(self) -> tuple[int, int]:
        d, sr = self.cfg.data, self.fcfg.sample_rate
        return d.min_gap_ms * sr // 1000, d.max_gap_ms * sr // 1000

    def _perturb(self, wave: Tensor, gen: torch.Generator | None) -> Tensor:
        x = self.cfg.data.speed_perturb
        if gen is None or x <= 0:
            return wave
        factor = 1.0 + x * (2 * float(torch.rand((), generator=gen)) - 1)  # uniform in [1 - x, 1 + x]
        return change_speed(wave, factor, self.fcfg.sample_rate)

    def _draw(
        self, split: str, gen: torch.Generator, train: bool = False, noise_gen: torch.Generator | None = None
    ) -> tuple[Tensor, str, list[int]]:
        """One joined example of ``split``: its waveform, transcript and recording indices
        (pieces speed-perturbed in training; noise from ``noise_gen``, default ``gen``)."""
        d = self.cfg.data
        lo, hi = self._gap_samples()
        idx, gaps = draw_string(
            len(self.waves[split]), gen, min_words=d.min_words, max_words=d.max_words, min_gap=lo, max_gap=hi
        )
        pieces = [self._perturb(self.waves[split][i], gen if train else None) for i in idx]
        wave = self._noise(join_waveforms(pieces, gaps), noise_gen or gen)
        return wave, " ".join(self.texts[split][i] for i in idx), idx

    def _noise(self, wave: Tensor, gen: torch.Generator) -> Tensor:
        """``wave`` plus white noise ``data.noise_snr_db`` below the speech (unchanged if None)."""
        snr = self.cfg.data.noise_snr_db
        if snr is None:
            return wave
        # Recordings are at target_rms, so the noise level is fixed, gaps included.
        return wave + self.fcfg.target_rms * 10 ** (-snr / 20) * torch.randn(wave.shape, generator=gen)

    def _fixed_waves(
        self, split: str, count: int | None = None
    ) -> tuple[list[Tensor], list[str], list[list[int]]]:
        """The first ``count`` (default all) fixed examples of ``split``: waveforms, transcripts and
        the recordings each joins. Joined strings and noise are drawn from the split's own seed."""
        if split not in self.waves:
            raise ValueError(f"split {split!r} not in this dataset; available: {', '.join(self.waves)}")
        gen = torch.Generator().manual_seed(_split_seed(split))
        noise = torch.Generator().manual_seed(_split_seed(split) + 1)  # same strings with and without noise
        if self.strings and split != "train":
            n = self.cfg.data.eval_strings if count is None else count
            drawn = [self._draw(split, gen, noise_gen=noise) for _ in range(n)]
            return [w for w, _, _ in drawn], [t for _, t, _ in drawn], [i for _, _, i in drawn]
        waves = [self._noise(w, noise) for w in self.waves[split][:count]]
        return waves, self.texts[split][:count], [[i] for i in range(len(waves))]

    def examples(self, split: str) -> tuple[list[Tensor], list[str]]:
        """The fixed examples of ``split``: ``(features (T, M) each, transcripts)``."""
        if split not in self._fixed:
            waves, texts, self._pieces[split] = self._fixed_waves(split)
            self._fixed[split] = ([featurize(w, self.fcfg) for w in waves], list(texts))
        return self._fixed[split]

    def pieces(self, split: str) -> list[list[int]]:
        """For each fixed example of ``split``, the recordings it joins (indices into the split;
        what an oracle segmentation of the string would find)."""
        self.examples(split)
        return self._pieces[split]

    def example_waves(self, split: str, count: int | None = None) -> list[Tensor]:
        """The waveforms of the first ``count`` (default all) fixed examples of ``split``
        (re-drawn from their seed rather than kept)."""
        return self._fixed_waves(split, count)[0]

    def example_wave(self, split: str, index: int) -> Tensor:
        """The waveform of fixed example ``index`` of ``split``."""
        return self.example_waves(split, index + 1)[index]

    def recording_features(self, split: str, index: int) -> Tensor:
        """Frames of one recording of ``split`` on its own."""
        return featurize(self.waves[split][index], self.fcfg)

    def references(self, split: str) -> list[str]:
        return self.examples(split)[1]

    @property
    def split_names(self) -> list[str]:
        return list(self.texts)

    def features(self, split: str) -> list[Tensor]:
        return self.examples(split)[0]

    # --- batches ---------------------------------------------------------------------------

    def _batch(self, feats: list[Tensor], texts: list[str]) -> Batch:
        x, mask = pad_frames(feats)
        batch = {"feats": x, "feat_mask": mask}
        if self.whole_words:
            batch["label"] = torch.tensor(
                [self.labels.index(t) if t in self.labels else IGNORE_INDEX for t in texts]
            )
            return batch
        tok = self.tokenizer
        tgt = [[tok.bos_id, *tok.encode(t), tok.eos_id] for t in texts]
        return {**batch, **teacher_forcing(tgt, tok.pad_id)}

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        if self.strings:
            drawn = [self._draw("train", gen, train=True) for _ in range(batch_size)]
            feats, texts = [featurize(w, self.fcfg) for w, _, _ in drawn], [t for _, t, _ in drawn]
        elif self.cfg.data.speed_perturb > 0 or self.cfg.data.noise_snr_db is not None:  # fresh each draw
            idx = torch.randint(0, len(self.waves["train"]), (batch_size,), generator=gen).tolist()
            feats = [
                featurize(self._noise(self._perturb(self.waves["train"][i], gen), gen), self.fcfg)
                for i in idx
            ]
            texts = [self.texts["train"][i] for i in idx]
        else:
            all_feats, all_texts = self.examples("train")
            idx = torch.randint(0, len(all_feats), (batch_size,), generator=gen).tolist()
            feats, texts = [all_feats[i] for i in idx], [all_texts[i] for i in idx]
        if self.cfg.data.spec_augment:
            feats = [spec_augment(f, gen) for f in feats]
        return self._batch(feats, texts)

    # --- Task protocol ---------------------------------------------------------------------

    def input_stats(self) -> tuple[list[float], list[float]]:
        """Per-band mean and standard deviation over every frame of the training recordings."""
        frames = torch.cat(self.features("train"))  # (sum T, M): train examples are single recordings
        mean, std = frames.mean(0), frames.std(0).clamp_min(1e-3)
        return [round(float(v), 5) for v in mean], [round(float(v), 5) for v in std]

    def model_config(self, base: ModelConfig) -> ModelConfig:
        d = self.cfg.data
        # The longest input training can build: max_words of the longest recordings, max gaps.
        samples = d.max_words * max(w.numel() for ws in self.waves.values() for w in ws)
        samples += (d.max_words - 1) * self._gap_samples()[1]
        longest = samples // self.fcfg.hop + 1
        mean, std = self.input_stats() if d.cmvn == "global" else (None, None)
        cap = int(self.fcfg.max_seconds * self.fcfg.sample_rate / self.fcfg.hop) + 1
        return dataclasses.replace(
            base,
            vocab_size=self.tokenizer.vocab_size,
            pad_id=self.tokenizer.pad_id,
            input_dim=d.n_mels,
            input_mean=mean,
            input_std=std,
            labels=self.labels if base.arch == "logreg" else None,
            # Room for max_seconds of audio (or the longest joined string) after subsampling,
            # and for the longest transcript.
            max_seq_len=max(base.max_seq_len, math.ceil(max(cap, longest) / base.subsample) + 1,
                            d.max_words * (max(map(len, self.texts["train"])) + 1) + 1),
        )  # fmt: skip

    def _logits(self, model: nn.Module, batch: Batch) -> Tensor:
        if self.whole_words:
            return model(batch["feats"], batch["feat_mask"])  # (B, K)
        return model(batch["feats"], batch["tgt_in"], src_mask=batch["feat_mask"]).logits  # (B, U, V)

    def _targets(self, batch: Batch) -> Tensor:
        return batch["label"] if self.whole_words else batch["tgt_out"]

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        logits, y = self._logits(model, batch), self._targets(batch)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),  # (B, U, V) -> (B*U, V); (B, K) stays
            y.reshape(-1),
            ignore_index=IGNORE_INDEX,
            label_smoothing=label_smoothing,
        )
        return loss, int((y != IGNORE_INDEX).sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None = None) -> dict:
        """Teacher-forced cross-entropy per target character (per recording for ``logreg``)."""
        with eval_mode(model):
            device = next(model.parameters()).device
            feats, texts = self.examples(split)
            total, count, right = 0.0, 0, 0
            for i, s in enumerate(range(0, len(feats), batch_size)):
                if max_batches is not None and i >= max_batches:
                    break
                batch = {
                    k: v.to(device)
                    for k, v in self._batch(feats[s : s + batch_size], texts[s : s + batch_size]).items()
                }
                logits, y = self._logits(model, batch), self._targets(batch)
                flat = logits.reshape(-1, logits.shape[-1]).float()
                total += F.cross_entropy(
                    flat, y.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
                ).item()
                count += int((y != IGNORE_INDEX).sum())
                right += int((flat.argmax(-1) == y.reshape(-1)).sum())
        loss = total / max(count, 1)
        unit = "recording" if self.whole_words else "character"
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "token_accuracy": right / max(count, 1),
                "tokens": count, "unit": unit}  # fmt: skip

    def score(self, hyps: list[str], split: str) -> dict:
        """Accuracy, WER and CER of decoded ``hyps`` against ``split``'s transcripts, in order."""
        return asr_scores(hyps, self.references(split)[: len(hyps)])
