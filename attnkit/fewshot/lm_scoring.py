"""Classification by language-model scoring: which label word does the model expect next?

The prompt is::

    Classify each text as one of: positive, negative.      <- instruction (zero-shot and few-shot)

    Text: <shot 1>                                          <- k examples per class (few-shot)
    Label: negative
    ...
    Text: <the text to classify>
    Label:

and each label is scored by the mean log-probability of the tokens of `` <verbalizer>``.

Small LMs prefer some label words whatever the text says. With ``calibrate=True`` (the
default) the scores are divided by those for content-free texts ("N/A", "", "[MASK]"), so a
label wins only when the text moves the model towards it (contextual calibration, Zhao et al.
2021, "Calibrate Before Use"). The
instruction and the shots are the same for every text: they run once, and every text continues
from a copy of that KV cache (:meth:`KVCache.repeat`), so k=64 costs one long forward pass plus a
short one per text, not a long one per text and label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from attnkit.fewshot.labels import LabelSet
from attnkit.tasks.classify import label_results


class LMClassifier:
    """Zero-/few-shot classifier over a decoder-only LM checkpoint (``task: lm``)."""

    CONTENT_FREE = ("N/A", "", "[MASK]")

    def __init__(
        self, lm, labels: LabelSet, *, max_text_tokens: int | None = None, calibrate: bool = True
    ) -> None:
        """``max_text_tokens``: each text (shots included) is cut to this many tokens; default
        128, or a quarter of the context for short-context models."""
        if "generate" not in lm.verbs:
            raise ValueError(f"LM scoring needs a language model, got a {lm.cfg.task!r} model")
        self.lm, self.labels, self.calibrate = lm, labels, calibrate
        self._bias: Tensor | None = None
        self.max_text_tokens = max_text_tokens or min(128, lm.cfg.model.max_seq_len // 4)
        self.instruction = f"Classify each text as one of: {', '.join(labels.verbalizers)}."
        self.label_ids = [lm.tokenizer.encode(" " + v) for v in labels.verbalizers]
        if any(not ids for ids in self.label_ids):
            raise ValueError(f"a verbalizer encodes to no tokens: {labels.verbalizers}")
        self.shots: list[tuple[str, str]] = []
        self._prefix = None

    def _clip(self, text: str) -> str:
        """One line of at most ``max_text_tokens`` tokens (the prompt format is line-based)."""
        text = " ".join(text.split())
        ids = self.lm.tokenizer.encode(text)
        return (
            text
            if len(ids) <= self.max_text_tokens
            else self.lm.tokenizer.decode(ids[: self.max_text_tokens])
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LMClassifier:
        """Use these labelled examples, in this order, as in-context shots."""
        words = dict(zip(self.labels.names, self.labels.verbalizers, strict=True))
        unknown = sorted(set(labels) - set(words))
        if unknown:
            raise ValueError(f"examples have labels outside {self.labels.names}: {unknown[:5]}")
        self.shots = [(self._clip(t), words[y]) for t, y in zip(texts, labels, strict=True)]
        self._prefix = None
        self._bias = None
        return self

    def _query(self, text: str) -> str:
        return f"Text: {self._clip(text)}\nLabel:"

    def prompt(self, text: str) -> str:
        """The whole prompt the model reads before the label word for ``text``."""
        return self.prompt_prefix() + self._query(text)

    def prompt_prefix(self) -> str:
        return self.instruction + "\n\n" + "".join(f"Text: {t}\nLabel: {v}\n\n" for t, v in self.shots)

    @torch.no_grad()
    def _prefix_cache(self):
        if self._prefix is None:
            model, tok = self.lm.model, self.lm.tokenizer
            ids = tok.encode(self.prompt_prefix())
            # room for one text, its "Text:/Label:" frame and the longest verbalizer
            limit = model.cfg.max_seq_len - self.max_text_tokens - 8 - max(map(len, self.label_ids))
            if len(ids) > limit:
                raise ValueError(
                    f"the prompt with {len(self.shots)} shots is {len(ids)} tokens; this model's context "
                    f"leaves {limit} for it: use fewer shots (k)"
                )
            cache = model.new_cache(1, len(ids))
            model(torch.tensor([ids], device=model.embed.tok.weight.device), cache=cache)
            self._prefix = cache
        return self._prefix

    def predict_proba(self, texts: Sequence[str], *, batch_texts: int = 4) -> Tensor:
        """``(N, K)``: softmax over labels of the mean log-probability of each verbalizer
        (minus the content-free log-probabilities when calibrating)."""
        scores = self.label_scores(texts, batch_texts=batch_texts)
        if self.calibrate:
            if self._bias is None:
                free = torch.softmax(self.label_scores(list(self.CONTENT_FREE)), -1).mean(0)  # (K,)
                self._bias = free.log()
            scores = scores - self._bias
        return torch.softmax(scores, dim=-1)

    @torch.no_grad()
    def label_scores(self, texts: Sequence[str], *, batch_texts: int = 4) -> Tensor:
        """``(N, K)`` mean log-probability of each label's verbalizer tokens after each text."""
        model, tok = self.lm.model, self.lm.tokenizer
        device = model.embed.tok.weight.device
        prefix = self._prefix_cache()
        n_labels = len(self.label_ids)
        out = torch.empty(len(texts), n_labels)
        single = all(len(lab) == 1 for lab in self.label_ids)
        for s in range(0, len(texts), batch_texts):
            chunk = texts[s : s + batch_texts]
            queries = [tok.encode(self._query(t)) for t in chunk]
            # One-token verbalizers are scored from the query's last position alone: one row per
            # text. Longer ones need a row per (text, label), text-major.
            rows = queries if single else [q + lab for q in queries for lab in self.label_ids]
            width = max(map(len, rows))
            x = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
            for r, ids in enumerate(rows):
                x[r, : len(ids)] = torch.tensor(ids)  # right padding: causal rows never see it
            cache = prefix.repeat(len(rows), prefix.length + width)
            logp = torch.log_softmax(model(x.to(device), cache=cache).logits.float(), -1).cpu()  # (R, W, V)
            if single:
                last = torch.tensor([len(q) - 1 for q in queries])
                first = torch.tensor([lab[0] for lab in self.label_ids])
                out[s : s + len(chunk)] = logp[torch.arange(len(rows)), last][:, first]  # (n, V) -> (n, K)
                continue
            for r in range(len(rows)):
                q, lab = len(queries[r // n_labels]), self.label_ids[r % n_labels]
                pos = torch.arange(q - 1, q - 1 + len(lab))  # logits at t predict token t + 1
                out[s + r // n_labels, r % n_labels] = logp[r, pos, torch.tensor(lab)].mean()
        return out

    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return label_results(self.labels.names, self.predict_proba(texts))
