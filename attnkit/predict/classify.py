"""Encoders: classifiers (labels and probabilities) and sentence-embedding models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from attnkit.predict.base import Predictor, eval_mode


class ClassifierPredictor(Predictor):
    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``{"label": best, "probs": {label: p}}`` for each text."""
        from attnkit.tasks.classify import ClassificationTask, label_results

        lm = self.lm
        task = ClassificationTask.for_inference(lm.cfg, lm.tokenizer)
        return label_results(lm.cfg.model.labels or [], task.predict_proba(lm.model, list(texts)))

    @property
    def max_tokens(self) -> int:
        """Tokens the classifier reads; a longer text keeps its first ``max_tokens``."""
        return self.lm.cfg.data.seq_len

    def encode(self, text: str, *, limit: bool = True) -> list[int]:
        """The token ids the classifier reads for ``text`` (all of them with ``limit=False``)."""
        from attnkit.tasks.classify import ClassificationTask

        return ClassificationTask.for_inference(self.lm.cfg, self.lm.tokenizer).encode(text, limit=limit)


class EmbeddingPredictor(Predictor):
    """A pretrained encoder (MiniLM): sentence embeddings, and zero-/few-shot by prototypes."""

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, normalize: bool = True) -> torch.Tensor:
        """Sentence embeddings ``(N, C)``: mean of the encoder's token states, L2-normalised
        (sentence-transformers' recipe for MiniLM). Inputs longer than the model's position table
        keep their first ``max_seq_len`` tokens."""
        out = [
            self._embed_batch([self.encode(t) for t in texts[s : s + batch_size]], normalize)
            for s in range(0, len(texts), batch_size)
        ]
        return torch.cat(out).cpu() if out else torch.empty(0, self.lm.cfg.model.d_model)

    @property
    def max_tokens(self) -> int:
        """Tokens the encoder reads (its position table); a longer text keeps its first ones."""
        return self.lm.cfg.model.max_seq_len

    def encode(self, text: str, *, limit: bool = True) -> list[int]:
        """The token ids the encoder reads for ``text`` (``<bos> text <eos>``), cut to
        :attr:`max_tokens` (all of them with ``limit=False``)."""
        ids = self.lm.tokenizer.encode(text, add_bos=True, add_eos=True)
        return ids[: self.max_tokens] if limit else ids

    def _embed_batch(self, ids: list[list[int]], normalize: bool) -> torch.Tensor:
        from attnkit.data.masks import lengths_to_padding_mask
        from attnkit.data.seq2seq import pad_batch

        model = self.lm.model
        device = next(model.parameters()).device
        x = pad_batch(ids, self.lm.tokenizer.pad_id).to(device)
        real = lengths_to_padding_mask(torch.tensor([len(r) for r in ids], device=device), x.shape[1])
        with torch.no_grad(), eval_mode(model):
            h = model(x, padding_mask=real).hidden  # (B, T, C)
        m = real.unsqueeze(-1).to(h.dtype)  # (B, T) -> (B, T, 1)
        e = (h * m).sum(1) / m.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(e, dim=-1) if normalize else e

    def zero_shot_classifier(self, labels: Any) -> Any:
        from attnkit.fewshot import EmbeddingClassifier

        return EmbeddingClassifier(self.lm, labels)
