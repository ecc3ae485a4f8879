"""``transduce`` (text in, text out for encoder-decoders) on a copying decoder.

The decoder copies its source token by token and then ends, so every output is known: the
input itself, cut where a documented limit says. That pins the order of outputs after the
length sort, the source truncation and its warning, the output-length cap, empty inputs,
lowercasing, batching with progress, and the choice between beam search and sampling.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from attnkit.config import DataConfig, DecodeConfig
from attnkit.decode.seq2seq import encode_sources, transduce
from attnkit.text import CharTokenizer
from attnkit.text.pair import PairTokenizer

TOK = PairTokenizer(*(2 * [CharTokenizer.train("abcdefghij ABC")]))


class _Cache:
    def __init__(self, rows: int) -> None:
        self.steps = [0] * rows

    def reorder(self, index: torch.Tensor) -> None:
        self.steps = [self.steps[i] for i in index.tolist()]


class Copier(nn.Module):
    """Emits source token ``t`` at target step ``t``, then ``<eos>``; counts its decode calls."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.sources_seen = 0
        self.widths: list[int] = []

    def encode(self, src, mask):
        self.sources_seen += src.shape[0]
        self.widths.append(src.shape[1])
        return src, mask

    def new_cache(self, rows, max_len):
        return _Cache(rows)

    def decode(self, ids, memory, key_mask, cache):
        logits = torch.full((ids.shape[0], TOK.vocab_size), -20.0)
        for r in range(ids.shape[0]):
            t = cache.steps[r]
            cache.steps[r] += 1
            tok = int(memory[r, t]) if t < memory.shape[1] and bool(key_mask[r, t]) else TOK.eos_id
            logits[r, tok] = 20.0
        return SimpleNamespace(logits=logits[:, None])  # (B, 1, V)


def _cfg(**kw) -> DecodeConfig:
    return DecodeConfig(**{"beam_size": 2, "max_len_a": 1.0, "max_len_b": 5, **kw})


def test_outputs_come_back_in_input_order_whatever_the_length_sort():
    texts = ["abcdefg", "a", "", "abc", "   ", "ab"]
    model = Copier()
    out = transduce(model, TOK, texts, _cfg(), DataConfig(), batch_size=2)
    assert out == ["abcdefg", "a", "", "abc", "", "ab"]
    assert model.sources_seen == 4  # the empty and blank inputs never reach the model


def test_batches_group_sources_by_length_and_report_progress():
    seen: list[int] = []
    texts = ["dddd", "a", "ccc", "e", "bb"]
    model = Copier()
    transduce(model, TOK, texts, _cfg(), DataConfig(), batch_size=2, progress=seen.append)
    assert seen == [2, 4, 5]
    assert model.widths == [2, 4, 5]  # "a" "e" | "bb" "ccc" | "dddd", each with <eos>


@pytest.mark.parametrize("sample", [False, True])
def test_the_decode_config_reaches_the_search(monkeypatch, sample):
    import attnkit.decode.seq2seq as seq2seq
    import attnkit.decode.speech as speech

    calls: list[dict] = []

    def spy(model, src, mask, **kw):
        calls.append(kw)
        return [[] for _ in range(src.shape[0])]

    for mod in (seq2seq, speech):
        monkeypatch.setattr(mod, "beam_search", spy)
        monkeypatch.setattr(mod, "sample_search", spy)
    cfg = DecodeConfig(
        sample=sample, beam_size=3, length_penalty=0.7, no_repeat_ngram=2, temperature=0.8, top_k=5,
        top_p=0.9, seed=11, max_len_a=1.0, max_len_b=2,
    )  # fmt: skip
    transduce(Copier(), TOK, ["abc"], cfg, DataConfig())
    speech.transcribe(FrameCopier(1), TOK.tgt, [_frames("abc", 1)], cfg)
    common = {"bos_id": TOK.bos_id, "eos_id": TOK.eos_id, "max_len": 6}  # 1.0 * 4 + 2, 1.0 * 3 + 2
    if sample:
        gen = calls[0].pop("generator")
        assert gen.initial_seed() == 11
        assert calls[0] == {"temperature": 0.8, "top_k": 5, "top_p": 0.9, **common}
        assert calls[1] == {"temperature": 0.8, "top_k": 5, "top_p": 0.9, **common, "max_len": 5}
    else:
        assert calls[0] == {"beam_size": 3, "length_penalty": 0.7, "no_repeat_ngram": 2, **common}
        assert calls[1] == {"beam_size": 3, "length_penalty": 0.7, **common, "max_len": 5}


def test_a_zero_length_cap_still_allows_the_end_token():
    cfg = _cfg(max_len_a=0.0, max_len_b=0)
    assert transduce(Copier(), TOK, ["abc"], cfg, DataConfig()) == [""]
    from attnkit.decode.speech import transcribe

    assert transcribe(FrameCopier(1), TOK.tgt, [_frames("abc", 1)], cfg) == [""]


def test_long_sources_keep_their_first_max_src_len_minus_one_tokens(caplog):
    data = DataConfig(max_src_len=4, max_tgt_len=64)
    with caplog.at_level(logging.WARNING):
        out = transduce(Copier(), TOK, ["abcdefgh", "abc", "abcd"], _cfg(), data)
    assert out == ["abc", "abc", "abc"]
    assert [r.getMessage() for r in caplog.records] == [
        "2 of 3 inputs were longer than data.max_src_len=4 tokens and were truncated"
    ]
    ids = encode_sources(TOK, ["abcdefgh", "ab"], data)
    assert ids == [[*TOK.src.encode("abc"), TOK.eos_id], [*TOK.src.encode("ab"), TOK.eos_id]]


@pytest.mark.parametrize(
    ("a", "b", "tgt", "expect"), [(0.0, 3, 64, "ab"), (0.5, 0, 64, "abc"), (2.0, 9, 2, "abc")]
)
def test_output_length_cap(a, b, tgt, expect):
    # A cap of N tokens counts <eos>, so at most N - 1 characters come out. The source
    # "abcdefgh" is 9 tokens with <eos>: 0*9+3 = 3 -> "ab"; 0.5*9+0 = 4 -> "abc";
    # min(2*9+9, 2*2) = 4 -> "abc".
    data = DataConfig(max_tgt_len=tgt)
    for sample in (False, True):
        out = transduce(Copier(), TOK, ["abcdefgh"], _cfg(max_len_a=a, max_len_b=b, sample=sample), data)
        assert out == [expect]


def test_lowercase_applies_to_the_source():
    out = transduce(Copier(), TOK, ["ABC"], _cfg(), DataConfig(lowercase=True))
    assert out == ["abc"]
    assert transduce(Copier(), TOK, ["ABC"], _cfg(), DataConfig()) == ["ABC"]


def test_sampling_is_seeded_and_used_when_asked():
    # The copier is certain, so sampling at any temperature copies too; a seed makes runs equal.
    cfg = _cfg(sample=True, temperature=1.0, seed=3)
    assert transduce(Copier(), TOK, ["abc", "de"], cfg, DataConfig()) == ["abc", "de"]


class FrameCopier(Copier):
    """A speech decoder stand-in: frame ``t``'s first feature holds the token id to emit at step
    ``t // subsample``, as if the encoder had subsampled the frames."""

    def __init__(self, subsample: int) -> None:
        super().__init__()
        self.cfg = SimpleNamespace(subsample=subsample)

    def encode(self, x, mask):
        s = self.cfg.subsample
        return super().encode(x[:, ::s, 0].long(), mask[:, ::s])


def _frames(text: str, subsample: int) -> torch.Tensor:
    ids = torch.tensor(TOK.tgt.encode(text), dtype=torch.float32).repeat_interleave(subsample)
    return torch.stack([ids, torch.zeros_like(ids)], dim=1)  # (T, 2)


def test_transcribe_caps_by_the_subsampled_width_rounded_up():
    from attnkit.decode.speech import transcribe

    # 5 frames at subsample 2 are 3 encoder frames (ceil), so the cap is 3 + 1 = 4 tokens.
    frames = _frames("abcde", 1)
    assert transcribe(FrameCopier(2), TOK.tgt, [frames], _cfg(max_len_a=1.0, max_len_b=1)) == ["ace"]


@pytest.mark.parametrize("subsample", [1, 2])
def test_transcribe_decodes_every_recording_in_order_with_the_cap(subsample):
    from attnkit.decode.speech import transcribe

    frames = [_frames(t, subsample) for t in ("abcd", "a", "abcdefgh")]
    cfg = _cfg(max_len_a=1.0, max_len_b=1)
    out = transcribe(FrameCopier(subsample), TOK.tgt, frames, cfg, batch_size=2)
    assert out == ["abcd", "a", "abcdefgh"]  # cap = encoder frames + 1: room for every letter
    # max_len_a = 0.5: at most ceil(T / subsample) / 2 + 1 tokens with <eos>, batch by batch;
    # "abcd" and "a" share a batch 4 encoder frames wide (cap 3), "abcdefgh" is alone (cap 5).
    cfg = _cfg(max_len_a=0.5, max_len_b=1, sample=True)
    cut = transcribe(FrameCopier(subsample), TOK.tgt, frames, cfg, batch_size=2)
    assert cut == ["ab", "a", "abcd"]


def test_transcribe_with_the_pooled_baseline_picks_a_label_per_recording():
    from attnkit.config import ModelConfig
    from attnkit.decode.speech import transcribe
    from attnkit.models.speech import PooledFeatureClassifier

    model = PooledFeatureClassifier(ModelConfig(arch="logreg", input_dim=2, labels=["low", "high"]))
    with torch.no_grad():  # class "high" scores the mean of feature 0; "low" its negation
        model.head.weight.zero_()
        model.head.weight[1, 0], model.head.weight[0, 0] = 1.0, -1.0
        model.head.bias[1], model.head.bias[0] = -1.0, 1.0  # "high" when the mean is above 1
    # Different lengths in one batch: the padded frames must not count in the mean (1.5 over
    # 2 frames is "high"; over the batch's 6 it would be 0.5, "low").
    frames = [torch.full((n, 2), v) for n, v in ((2, 1.5), (6, -2.0), (4, 3.0))]
    assert transcribe(model, TOK.tgt, frames, _cfg(), batch_size=3) == ["high", "low", "high"]


def test_transcribe_batches_recordings_of_similar_length_together():
    from attnkit.decode.speech import transcribe

    # Sorted by length, "a" and "ab" share a batch 2 frames wide (cap int(0.5 * 2 + 1) = 2
    # tokens: one letter); unsorted, "ab" would share the 8-frame batch of a long recording.
    frames = [_frames(t, 1) for t in ("abcdefgh", "a", "abcdefgh", "ab")]
    out = transcribe(FrameCopier(1), TOK.tgt, frames, _cfg(max_len_a=0.5, max_len_b=1), batch_size=2)
    assert out == ["abcd", "a", "abcd", "a"]
