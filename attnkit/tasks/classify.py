"""Text classification: one label per text, scored by accuracy and macro-F1.

Texts are tokenized with the run's tokenizer (``word`` suits the pre-tokenized English sets,
``char`` Chinese), prefixed with ``<bos>`` (the position the Transformer's ``cls`` pooling reads)
and cut to ``data.seq_len`` tokens. A pretrained tokenizer brings its own template, so MiniLM
reads ``[CLS] text [SEP]`` as it was pretrained. Class names come from the training split, sorted, and are
stored in ``model.labels`` so a checkpoint knows what its outputs mean. Training batches are
length-bucketed like the seq2seq ones; evaluation covers the whole split.

Sets without a validation split (TREC, AG News) hold out 10% of train by a fixed hash rule
(:func:`hold_out_valid`); the test split is only ever used for the final score.

Metrics: ``loss`` (cross-entropy, nats), ``accuracy``, ``macro_f1`` (the unweighted mean of the
per-class F1, so rare classes count as much as common ones) and ``confusion`` (rows = true
class, columns = predicted, in ``labels`` order).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config.model import ModelConfig
from attnkit.config.run import RunConfig
from attnkit.data.datasets import hash_bucket, load_dataset
from attnkit.data.seq2seq import pad_batch
from attnkit.models.base import eval_mode
from attnkit.tasks.base import Batch
from attnkit.tasks.losses import output_loss
from attnkit.text import Tokenizer, build_tokenizer


def label_results(names: Sequence[str], probs: Tensor) -> list[dict[str, Any]]:
    """``{"label": best, "probs": {name: p}}`` per row of ``(N, K)`` class probabilities."""
    return [
        {
            "label": names[int(p.argmax())],
            "probs": {n: round(float(x), 6) for n, x in zip(names, p, strict=True)},
        }
        for p in probs
    ]


def macro_f1(confusion: list[list[int]]) -> float:
    """Unweighted mean over classes of F1 = 2PR / (P + R); a class never predicted nor present is skipped."""
    k = len(confusion)
    f1s = []
    for c in range(k):
        tp = confusion[c][c]
        pred = sum(confusion[r][c] for r in range(k))
        true = sum(confusion[c])
        if pred == 0 and true == 0:
            continue
        f1s.append(0.0 if tp == 0 else 2 * tp / (pred + true))
    return sum(f1s) / max(len(f1s), 1)


def hold_out_valid(splits: dict, percent: int = 10) -> dict:
    """Split ``percent``% of train off as ``valid`` for sets without one (TREC, AG News).

    The rule hashes the text (sha1, ``% 100 < percent``), so it is fixed, needs no seed, and a
    duplicated text never lands on both sides. Test is untouched.
    """
    train = splits["train"]
    held = [hash_bucket(t) < percent for t in train["text"]]
    cols = list(train)
    keep = {c: [x for x, h in zip(train[c], held, strict=True) if not h] for c in cols}
    valid = {c: [x for x, h in zip(train[c], held, strict=True) if h] for c in cols}
    return {**splits, "train": keep, "valid": valid}


class ClassificationTask:
    family = "classifier"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer | None = None, splits: dict | None = None):
        self.cfg = cfg
        d = cfg.data
        if splits is None:
            if d.dataset is None:
                raise ValueError("classification needs data.dataset (a registered labelled dataset)")
            splits = load_dataset(d.dataset)
        label_col = d.tgt or "label"
        if d.valid_from_train and "valid" in splits:
            if "test" in splits:
                raise ValueError(
                    f"data.valid_from_train: {d.dataset!r} already has a test split; set it to 0"
                )
            splits = hold_out_valid({"train": splits["train"], "test": splits["valid"]}, d.valid_from_train)
        if "valid" not in splits:
            splits = hold_out_valid(splits)
        self.tables = splits
        for split, t in splits.items():
            if not isinstance(t, dict) or "text" not in t or label_col not in t:
                raise ValueError(f"{d.dataset!r} split {split!r} has no 'text'/{label_col!r} columns")
        self.labels = cfg.model.labels or sorted(set(splits["train"][label_col]))
        self.index = {name: i for i, name in enumerate(self.labels)}
        if tokenizer is None:
            kw = {"bpe": {"vocab_size": d.bpe_vocab_size}, "word": {"min_freq": d.min_freq}}.get(
                d.tokenizer, {}
            )
            tokenizer = build_tokenizer(d.tokenizer, "\n".join(splits["train"]["text"]), **kw)
        self.tokenizer = tokenizer
        self.data = {}
        for split, t in splits.items():
            unknown = sorted(set(t[label_col]) - set(self.index))
            if unknown:
                raise ValueError(f"split {split!r} has labels not seen in training: {unknown[:5]}")
            ids = [self.encode(x) for x in t["text"]]
            ys = torch.tensor([self.index[y] for y in t[label_col]])
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            self.data[split] = (ids, ys, order)

    @classmethod
    def for_inference(cls, cfg: RunConfig, tokenizer: Tokenizer) -> ClassificationTask:
        """A task that only encodes and predicts (no dataset is loaded)."""
        task = cls.__new__(cls)
        task.cfg, task.tokenizer, task.data, task.tables = cfg, tokenizer, {}, {}
        task.labels = list(cfg.model.labels or [])
        task.index = {name: i for i, name in enumerate(task.labels)}
        return task

    def encode(self, text: str, *, limit: bool = True) -> list[int]:
        """The text's ids inside the tokenizer's template (``<bos>`` first; a pretrained BERT's
        ``[CLS] ... [SEP]``), cut to ``data.seq_len`` with the template kept whole, as HF's
        ``truncation=True`` does (all of them with ``limit=False``)."""
        if self.cfg.data.lowercase:
            text = text.lower()
        head, tail = self.tokenizer.single_template()
        body = self.tokenizer.encode(text.replace("\n", " "))
        if limit:
            body = body[: max(self.cfg.data.seq_len - len(head) - len(tail), 0)]
        return [*head, *body, *tail]

    def model_config(self, base: ModelConfig) -> ModelConfig:
        return dataclasses.replace(
            base,
            vocab_size=self.tokenizer.vocab_size,
            labels=list(self.labels),
            pad_id=self.tokenizer.pad_id,
            max_seq_len=max(base.max_seq_len, self.cfg.data.seq_len),
        )

    @property
    def split_names(self) -> list[str]:
        return list(self.data)

    def split(self, name: str):
        if name not in self.data:
            raise ValueError(f"split {name!r} not in this dataset; available: {', '.join(self.data)}")
        return self.data[name]

    def _batch(self, ids: list[list[int]], ys: Tensor, idx: list[int]) -> Batch:
        return {"ids": pad_batch([ids[i] for i in idx], self.tokenizer.pad_id), "labels": ys[idx]}

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        ids, ys, order = self.split("train")
        bs = min(batch_size, len(ids))
        start = int(torch.randint(0, len(ids) - bs + 1, (1,), generator=gen))
        batch = self._batch(ids, ys, order[start : start + bs])
        p = self.cfg.data.word_dropout
        if p > 0:
            x = batch["ids"]
            special = torch.tensor(sorted({*self.tokenizer.structural_ids, self.tokenizer.unk_id}))
            drop = (torch.rand(x.shape, generator=gen) < p) & ~torch.isin(x, special)
            batch["ids"] = x.masked_fill(drop, self.tokenizer.unk_id)
        return batch

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        mask = batch["ids"] != self.tokenizer.pad_id

        def run(hidden: bool) -> Tensor:
            if hidden:  # the head's input (B, C)
                return model(batch["ids"], padding_mask=mask, return_hidden=True).hidden
            return model(batch["ids"], padding_mask=mask).logits  # (B, K)

        loss = output_loss(model, self.cfg.train.loss_impl, run, batch["labels"], label_smoothing)
        return loss, int((batch["ids"] != self.tokenizer.pad_id).sum())

    @torch.no_grad()
    def predict_proba(self, model: nn.Module, texts: list[str], batch_size: int = 64) -> Tensor:
        """``(N, K)`` class probabilities for ``texts``, in input order."""
        with eval_mode(model):
            device = next(model.parameters()).device
            ids = [self.encode(t) for t in texts]
            out = torch.empty(len(ids), len(self.labels))
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                x = pad_batch([ids[i] for i in idx], self.tokenizer.pad_id).to(device)
                out[idx] = torch.softmax(
                    model(x, padding_mask=x != self.tokenizer.pad_id).logits.float(), -1
                ).cpu()
        return out

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None = None) -> dict:
        with eval_mode(model):
            device = next(model.parameters()).device
            ids, ys, order = self.split(split)
            k = len(self.labels)
            confusion = torch.zeros(k, k, dtype=torch.long)
            total, n = 0.0, 0
            for b, s in enumerate(range(0, len(order), batch_size)):
                if max_batches is not None and b >= max_batches:
                    break
                batch = {
                    key: v.to(device) for key, v in self._batch(ids, ys, order[s : s + batch_size]).items()
                }
                logits = model(
                    batch["ids"], padding_mask=batch["ids"] != self.tokenizer.pad_id
                ).logits.float()
                total += F.cross_entropy(logits, batch["labels"], reduction="sum").item()
                n += len(batch["labels"])
                pred = logits.argmax(-1).cpu()
                confusion.index_put_((batch["labels"].cpu(), pred), torch.ones_like(pred), accumulate=True)
        loss = total / max(n, 1)
        cm = confusion.tolist()
        return {
            "loss": loss,
            "ppl": math.exp(min(loss, 50.0)),
            "accuracy": sum(cm[i][i] for i in range(k)) / max(n, 1),
            "macro_f1": macro_f1(cm),
            "examples": n,
            "confusion": cm,
            "labels": list(self.labels),
            "unit": "example",
        }
