"""Pair tasks on a decoder-only model: summarization, dialogue and translation as prompted LMs.

``summarization-lm``, ``dialogue-lm`` and ``translation-lm`` read the same data as their
encoder-decoder kinds and score outputs with the same metrics, but train one causal LM on
``prompt + target + <eos>`` sequences (:mod:`attnkit.data.prompt_pairs`): the source sits inside
a prompt template (:mod:`attnkit.text.prompt`), and only the target tokens and the closing
``<eos>`` carry loss. With ``init_from: smollm2`` (or an HF LLaMA/GPT-2 directory) this
fine-tunes a pretrained LM, fully or through LoRA adapters; without it, a fresh decoder and a BPE
vocabulary are trained.

Limits, each reported rather than silent:

- a source longer than ``data.max_src_len`` tokens keeps its first or last ones
  (``data.source_keep``); the count of cut sources is logged per split;
- a pair whose target is empty, or longer than ``data.max_tgt_len`` tokens, is skipped (targets are
  never cut) and counted;
- a template plus ``max_src_len + max_tgt_len`` that exceeds a pretrained model's context is an
  error naming the fields to lower.
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
from attnkit.data.prompt_pairs import PromptPairs
from attnkit.data.seq2seq import IGNORE_INDEX
from attnkit.models.base import eval_mode
from attnkit.tasks.base import Batch
from attnkit.tasks.losses import output_loss
from attnkit.tasks.registry import get_task_kind
from attnkit.tasks.seq2seq import pair_texts, score_outputs, side_tokenizer
from attnkit.text import PairTokenizer, Tokenizer
from attnkit.text.prompt import PromptTemplate

log = logging.getLogger(__name__)

CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")


def resolve_template(d: DataConfig, options: dict, tok: Tokenizer) -> PromptTemplate:
    """The run's template: the config's fields, with ``auto``/None filled from the task's
    registry entry and the tokenizer (ChatML when it has ChatML's tokens)."""
    fmt = d.prompt_format
    if fmt == "auto":
        has = getattr(tok, "token_to_id", lambda _: None)
        fmt = "chatml" if all(has(t) is not None for t in CHATML_TOKENS) else "plain"
    return PromptTemplate(
        fmt,
        instruction=d.instruction if d.instruction is not None else options.get("instruction", ""),
        system=d.system or "",
        answer=d.answer if d.answer is not None else options.get("answer", ""),
    )


def template_of(d: DataConfig) -> PromptTemplate:
    """The template a checkpoint was trained with; a ValueError when its config lacks one."""
    if d.prompt_format == "auto" or d.instruction is None or d.answer is None or d.source_keep == "auto":
        raise ValueError(
            "this checkpoint's config has no resolved prompt template (data.prompt_format, "
            "instruction, answer, source_keep); it was not saved by a decoder-only pair run. "
            "Retrain it, or set them with overrides (e.g. data.prompt_format=chatml)"
        )
    return PromptTemplate(d.prompt_format, d.instruction, d.system or "", d.answer)


class PromptedLMTask:
    """Source -> target with one causal LM; see the module docstring."""

    family = "decoder"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer | None = None, splits: dict | None = None):
        self.cfg = cfg
        d = cfg.data
        options = dict(get_task_kind(cfg.task).options)
        pairs = pair_texts(cfg, splits)
        self.metrics = options.get("metrics", "translation")
        self.texts, self.refs, self.target_lang = pairs.texts, pairs.refs, pairs.target_lang
        if tokenizer is None:
            src, tgt = self.texts["train"]
            tokenizer = side_tokenizer(d, src + tgt, d.bpe_vocab_size)
        if isinstance(tokenizer, PairTokenizer):
            raise ValueError("a decoder-only pair task needs one tokenizer, got a source/target pair")
        self.tokenizer = tokenizer
        self.template = resolve_template(d, options, tokenizer)
        self.template.check(tokenizer)
        self.keep = d.source_keep if d.source_keep != "auto" else options.get("source_keep", "start")
        self.overhead = self.template.overhead(tokenizer)
        self.skipped: dict[str, dict[str, int]] = {}
        self.target_words: dict[str, list[int]] = {}
        """Per kept pair, the target's words + 1 (its ``<eos>``): the unit of ``ppl_word``."""
        self.data = {split: self._encode(split) for split in self.texts}

    @property
    def data_config(self) -> DataConfig:
        """``cfg.data`` with the template resolved: what the checkpoint's config.yaml stores."""
        return dataclasses.replace(self.cfg.data, **self.template.to_fields(), source_keep=self.keep)

    def _encode(self, split: str) -> PromptPairs:
        d, tok = self.cfg.data, self.tokenizer
        srcs, tgts = self.texts[split]
        prompts, targets, words = [], [], []
        empty = long = cut = 0
        for text, src_ids, tgt_ids in zip(tgts, tok.encode_batch(srcs), tok.encode_batch(tgts), strict=True):
            if not tgt_ids:
                empty += 1
                continue
            if len(tgt_ids) > d.max_tgt_len:
                long += 1
                continue
            ids, was_cut = self.template.encode(tok, src_ids, d.max_src_len, self.keep)
            cut += was_cut
            prompts.append(ids)
            targets.append([*tgt_ids, tok.eos_id])
            words.append(len(text.split()) + 1)
        if empty or long:
            log.warning("%s: skipped %d pairs with an empty target and %d with a target over "
                        "data.max_tgt_len=%d tokens (targets are never cut)", split, empty, long,
                        d.max_tgt_len)  # fmt: skip
        if cut:
            kept = "first" if self.keep == "start" else "last"
            log.warning("%s: %d of %d sources were over data.max_src_len=%d tokens; kept their %s",
                        split, cut, len(srcs), d.max_src_len, kept)  # fmt: skip
        self.skipped[split] = {"empty": empty, "long_target": long, "cut": cut}
        self.target_words[split] = words
        return PromptPairs(prompts, targets, tok.pad_id, split)

    # --- Task protocol ---------------------------------------------------------------------

    def model_config(self, base: ModelConfig) -> ModelConfig:
        d = self.cfg.data
        need = self.overhead + d.max_src_len + d.max_tgt_len + 1
        if self.cfg.init_from is None:  # a fresh model is sized to the data
            return dataclasses.replace(
                base, vocab_size=self.tokenizer.vocab_size, pad_id=self.tokenizer.pad_id,
                max_seq_len=max(base.max_seq_len, need),
            )  # fmt: skip
        if need > base.max_seq_len:
            raise ValueError(
                f"template ({self.overhead} tokens) + data.max_src_len={d.max_src_len} + "
                f"data.max_tgt_len={d.max_tgt_len} + <eos> = {need} tokens exceeds the pretrained "
                f"model's context of {base.max_seq_len}; lower data.max_src_len"
            )
        return base

    @property
    def split_names(self) -> list[str]:
        return list(self.texts)

    def split(self, name: str) -> PromptPairs:
        if name not in self.data:
            raise ValueError(f"split {name!r} not in this dataset; available: {', '.join(self.data)}")
        return self.data[name]

    def train_batch(self, gen: torch.Generator, batch_size: int) -> Batch:
        return self.split("train").random_batch(batch_size, gen)

    def loss(self, model: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        labels = batch["labels"]
        want = labels != IGNORE_INDEX
        # The output head runs on the target positions only: the prompt's logits are never used.
        def run(hidden: bool) -> Tensor:
            if hidden:  # (B, T, C) -> (N, C): the target positions only
                return model(batch["input"], return_hidden=True).hidden[want]
            return model(batch["input"], head_mask=want).logits  # (N, V)

        loss = output_loss(model, self.cfg.train.loss_impl, run, labels[want], label_smoothing)
        return loss, int(want.sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int, max_batches: int | None = None) -> dict:
        """Teacher-forced cross-entropy per target token (and per target word), over the split."""
        data = self.split(split)
        with eval_mode(model):
            device = next(model.parameters()).device
            total, count, words = 0.0, 0, 0
            for i, (idx, batch) in enumerate(data.eval_batches(batch_size)):
                if max_batches is not None and i >= max_batches:
                    break
                labels = batch["labels"].to(device)
                want = labels != IGNORE_INDEX
                logits = model(batch["input"].to(device), head_mask=want).logits
                total += F.cross_entropy(logits.float(), labels[want], reduction="sum").item()
                count += int(want.sum())
                words += sum(self.target_words[split][j] for j in idx)
        loss = total / max(count, 1)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": count, "unit": "target token",
                "ppl_word": math.exp(min(total / max(words, 1), 50.0))}  # fmt: skip

    def sources(self, split: str) -> list[str]:
        return self.texts[split][0]

    def score(self, hyps: list[str], split: str) -> dict:
        """Task metrics of ``hyps`` (one per example of ``split``, in order) against the references."""
        return score_outputs(self.metrics, hyps, self.refs[split][: len(hyps)], self.target_lang)
