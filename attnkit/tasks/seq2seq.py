"""Sequence-to-sequence tasks: machine translation, summarization and dialogue.

All three map a source text to a target text with an encoder-decoder and differ only in how
outputs are scored: ``translation`` reports sacreBLEU, chrF and a lowercased tokenized BLEU;
``summarization`` reports ROUGE-1/2/L; ``dialogue`` reports BLEU-1/2 and distinct-1/2 (and the
perplexity of the reference responses). A dialogue dataset (a ``turns`` column of whole
dialogues) becomes (context, response) pairs here: the context is the last
``data.context_turns`` turns with speaker markers, the response is the next turn.

During training the trainer sees the teacher-forced cross-entropy (``loss``, per target token,
nats); :meth:`Seq2SeqTask.score` turns decoded hypotheses into the task metrics (``attnkit eval``
decodes a split and calls it).

Tokenization: byte-level BPE, one joint vocabulary (``data.joint_vocab``, needed to share
embeddings) or one per side. Chinese text is split into characters before BPE (``split_cjk``).
Building a vocabulary logs tokens per character and the ``<unk>`` rate for each side (byte-level
BPE has no unknown symbols, so that rate is 0 unless a word tokenizer is chosen).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.config.run import DataConfig, RunConfig
from attnkit.data.datasets import load_dataset, load_pair_files
from attnkit.data.pair_datasets import dialogue_pairs
from attnkit.data.seq2seq import IGNORE_INDEX, PairData
from attnkit.metrics import dialogue_scores, rouge_scores, translation_scores
from attnkit.models.base import eval_mode
from attnkit.tasks.base import Batch
from attnkit.tasks.losses import output_loss
from attnkit.tasks.registry import get_task_kind
from attnkit.text import BPETokenizer, PairTokenizer, Tokenizer, build_tokenizer, has_cjk

log = logging.getLogger(__name__)

Table = dict[str, list]


def load_pairs(data: DataConfig) -> dict[str, Table]:
    if data.dataset is not None:
        table = load_dataset(data.dataset)
        first = next(iter(table.values()))
        if not isinstance(first, dict):
            raise ValueError(f"dataset {data.dataset!r} is a plain corpus, not paired data; use task: lm")
        return table
    if data.train_file is None:
        raise ValueError(
            "set data.dataset to a registered paired dataset, or data.train_file to your own TSV "
            "(source<TAB>target per line)"
        )
    return load_pair_files(data.train_file, data.valid_file, data.test_file)


def side_tokenizer(data: DataConfig, texts: list[str], vocab_size: int) -> Tokenizer:
    if data.tokenizer == "bpe":
        split = data.split_cjk == "yes" or (data.split_cjk == "auto" and has_cjk(texts))
        return BPETokenizer.train(texts, vocab_size, split_cjk=split)
    kw = {"min_freq": data.min_freq} if data.tokenizer == "word" else {}
    return build_tokenizer(data.tokenizer, "\n".join(texts), **kw)


def vocab_report(tok: Tokenizer, texts: list[str], side: str) -> dict:
    """Tokens per character and the ``<unk>`` rate of ``tok`` on ``texts``."""
    chars = sum(len(t) for t in texts) or 1
    ids = [i for seq in tok.encode_batch(texts) for i in seq]
    rep = {
        "side": side,
        "vocab_size": tok.vocab_size,
        "tokens_per_char": round(len(ids) / chars, 4),
        "unk_rate": round(sum(i == tok.unk_id for i in ids) / max(len(ids), 1), 6),
    }
    log.info("%s vocabulary: %s", side, rep)
    return rep


@dataclasses.dataclass
class PairTexts:
    """The (source, target) texts of every split, as the task's registry entry reads them."""

    texts: dict[str, tuple[list[str], list[str]]]
    """split -> (sources, targets), lowercased when ``data.lowercase``."""
    refs: dict[str, list[list[str]]]
    """split -> the original references of each example (one or more)."""
    src_col: str
    tgt_col: str

    @property
    def target_lang(self) -> str:
        return "zh" if has_cjk(self.texts["train"][1]) else "en"


def pair_texts(cfg: RunConfig, splits: dict | None = None) -> PairTexts:
    """Load the run's pairs (or use ``splits``); whole dialogues become (context, response) pairs
    when the task's registry entry says ``dialogues``."""
    d = cfg.data
    tables = splits if splits is not None else load_pairs(d)
    dialogues = get_task_kind(cfg.task).options.get("dialogues", False)
    if "turns" in tables["train"]:
        if not dialogues:
            raise ValueError(f"dataset {d.dataset!r} holds whole dialogues; use task: dialogue")
        tables = {s: dialogue_pairs(t["turns"], d.context_turns) for s, t in tables.items()}
    elif dialogues and splits is None and d.dataset is not None:
        raise ValueError(f"task: {cfg.task} needs a dialogue dataset such as dailydialog, got {d.dataset!r}")
    src_col, tgt_col = _columns(tables["train"], d)
    prep = (lambda s: s.lower()) if d.lowercase else (lambda s: s)
    texts = {
        split: ([prep(s) for s in t[src_col]], [prep(s) for s in t[tgt_col]]) for split, t in tables.items()
    }
    refs = {split: t.get(f"{tgt_col}_refs") or [[r] for r in t[tgt_col]] for split, t in tables.items()}
    return PairTexts(texts, refs, src_col, tgt_col)


def _columns(table: Table, d: DataConfig) -> tuple[str, str]:
    cols = [c for c in table if not c.endswith("_refs")]
    src = d.src or next((c for c in ("src", "context") if c in cols), None)
    tgt = d.tgt or next((c for c in ("tgt", "response") if c in cols), None)
    for name, col in (("data.src", src), ("data.tgt", tgt)):
        if col not in cols:
            raise ValueError(f"{name}={col!r} is not a column of this dataset; choose from {cols}")
    return src, tgt  # type: ignore[return-value]


def score_outputs(metrics: str, hyps: list[str], refs: list[list[str]], lang: str) -> dict:
    """The metrics named by a task's registry entry (``rouge``, ``dialogue``, ``translation``)."""
    if metrics == "rouge":
        return rouge_scores(hyps, refs, lang)
    if metrics == "dialogue":
        return dialogue_scores(hyps, refs)
    return translation_scores(hyps, refs, lang)


class Seq2SeqTask:
    """Source -> target with an encoder-decoder; the metrics and whether the data are whole
    dialogues come from the task's registry entry (``options``)."""

    family = "seq2seq"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer | None = None, splits: dict | None = None):
        self.cfg = cfg
        pairs = pair_texts(cfg, splits)
        self.metrics = get_task_kind(cfg.task).options.get("metrics", "translation")
        self.src_col, self.tgt_col = pairs.src_col, pairs.tgt_col
        self.texts, self.refs = pairs.texts, pairs.refs
        if tokenizer is None:
            tokenizer = self._build_tokenizer(cfg.data)
        if not isinstance(tokenizer, PairTokenizer):
            raise ValueError(f"seq2seq checkpoints need a pair tokenizer, got {tokenizer.kind!r}")
        self.tokenizer = tokenizer
        self.data = {split: self._encode(split) for split in self.texts}
        self.target_lang = pairs.target_lang

    def _build_tokenizer(self, d: DataConfig) -> PairTokenizer:
        src_train, tgt_train = self.texts["train"]
        if d.joint_vocab:
            tok = side_tokenizer(d, src_train + tgt_train, d.bpe_vocab_size)
            pair = PairTokenizer(tok, tok)
        else:
            src_tok = side_tokenizer(d, src_train, d.src_bpe_vocab_size or d.bpe_vocab_size)
            pair = PairTokenizer(src_tok, side_tokenizer(d, tgt_train, d.bpe_vocab_size))
        self.vocab_reports = [
            vocab_report(pair.src, src_train[:5000], f"source ({self.src_col})"),
            vocab_report(pair.tgt, tgt_train[:5000], f"target ({self.tgt_col})"),
        ]
        return pair

    def _encode(self, split: str) -> PairData:
        d, tok = self.cfg.data, self.tokenizer
        src_texts, tgt_texts = self.texts[split]
        src, _ = tok.encode_sources(src_texts, d.max_src_len)
        tgt = [[tok.bos_id, *ids[: d.max_tgt_len], tok.eos_id] for ids in tok.tgt.encode_batch(tgt_texts)]
        return PairData(src, tgt, tok.pad_id, split)

    # --- Task protocol ---------------------------------------------------------------------

    def model_config(self, base: ModelConfig) -> ModelConfig:
        tok, d = self.tokenizer, self.cfg.data
        return dataclasses.replace(
            base,
            vocab_size=tok.vocab_size,
            src_vocab_size=None if tok.joint else tok.src_vocab_size,
            pad_id=tok.pad_id,
            max_seq_len=max(base.max_seq_len, d.max_src_len, d.max_tgt_len + 2),
        )

    def split(self, name: str) -> PairData:
        if name not in self.data:
            raise ValueError(f"split {name!r} not in this dataset; available: {', '.join(self.data)}")
        return self.data[name]

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        return self.split("train").random_batch(batch_size, gen)

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        src_mask = batch["src"] != self.tokenizer.pad_id
        def run(hidden: bool) -> Tensor:
            if hidden:  # the decoder's final states (B, T, C)
                return model(batch["src"], batch["tgt_in"], src_mask=src_mask, return_hidden=True).hidden
            return model(batch["src"], batch["tgt_in"], src_mask=src_mask).logits  # (B, T, V)

        loss = output_loss(model, self.cfg.train.loss_impl, run, batch["tgt_out"], label_smoothing)
        return loss, int((batch["tgt_out"] != IGNORE_INDEX).sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None = None) -> dict:
        """Teacher-forced cross-entropy per target token, summed over the split."""
        with eval_mode(model):
            device = next(model.parameters()).device
            total, count = 0.0, 0
            for i, (_, batch) in enumerate(self.split(split).eval_batches(batch_size)):
                if max_batches is not None and i >= max_batches:
                    break
                batch = {k: v.to(device) for k, v in batch.items()}
                src_mask = batch["src"] != self.tokenizer.pad_id
                logits = model(batch["src"], batch["tgt_in"], src_mask=src_mask).logits
                total += F.cross_entropy(
                    logits.flatten(0, 1).float(),
                    batch["tgt_out"].flatten(),
                    ignore_index=IGNORE_INDEX,
                    reduction="sum",
                ).item()
                count += int((batch["tgt_out"] != IGNORE_INDEX).sum())
        loss = total / max(count, 1)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": count, "unit": "target token"}

    # --- scoring decoded outputs -----------------------------------------------------------

    @property
    def split_names(self) -> list[str]:
        return list(self.texts)

    def sources(self, split: str) -> list[str]:
        return self.texts[split][0]

    def score(self, hyps: list[str], split: str) -> dict:
        """Task metrics of ``hyps`` (one per example of ``split``, in order) against the references."""
        # Always the original references: a lowercasing run is not scored against lowercased
        # text in the cased metrics (bleu_lc_tok and ROUGE are case-blind anyway).
        refs = self.refs[split][: len(hyps)]
        return score_outputs(self.metrics, hyps, refs, self.target_lang)
