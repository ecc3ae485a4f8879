"""Fine-tuning from a pretrained directory (init_from), with and without LoRA adapters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import attnkit
from attnkit.config import ModelConfig, RunConfig, apply_overrides
from attnkit.layers.lora import LoRALinear, apply_lora, freeze_for_lora


def test_lora_starts_as_the_base_layer_and_trains_only_adapters():
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    x = torch.randn(3, 8)
    want = base(x)
    lora = LoRALinear(base, rank=2, alpha=4.0)
    torch.testing.assert_close(lora(x), want)  # B = 0
    with torch.no_grad():
        lora.lora_b.fill_(0.5)
    delta = (x @ lora.lora_a.t() @ lora.lora_b.t()) * 2.0  # alpha / rank = 2
    torch.testing.assert_close(lora(x), want + delta)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    assert apply_lora(model, 2, 4.0, ["0"]) == 1 and isinstance(model[0], LoRALinear)
    freeze_for_lora(model)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"0.lora_a", "0.lora_b"}
    with pytest.raises(ValueError, match="match no linear layer"):
        apply_lora(model, 2, 4.0, ["nope"])


def _cfg(tmp_path, bert, *extra):
    return apply_overrides(
        RunConfig(),
        [
            "task=classification", f"out_dir={tmp_path / 'run'}", f"init_from={bert}", "data.dataset=trec",
            "data.seq_len=24", "model.pooling=mean", "train.batch_size=16", "train.max_steps=6",
            "train.eval_every=6", "train.eval_batches=2", "train.lr=1e-3", "train.min_lr=1e-4",
            "train.warmup_steps=1", "train.progress=false", *extra,
        ],
    )  # fmt: skip


def test_full_fine_tuning_starts_from_the_pretrained_encoder(tmp_path, bert_dir, shared_data):
    from attnkit.api import _load_pretrained_body
    from attnkit.models.factory import build_model

    pre = attnkit.load(bert_dir[0])
    cfg = _cfg(tmp_path, bert_dir[0])
    import dataclasses

    model = build_model(dataclasses.replace(pre.cfg.model, labels=["a", "b"]), "classifier")
    _load_pretrained_body(model, pre.model)
    for k, v in pre.model.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[k], v), k
    attnkit.train(cfg)
    m = attnkit.load(tmp_path / "run" / "best")
    assert m.tokenizer.fingerprint() == pre.tokenizer.fingerprint()  # the pretrained vocabulary
    assert m.cfg.model.type_vocab_size == 2 and m.cfg.model.labels == [
        "ABBR",
        "DESC",
        "ENTY",
        "HUM",
        "LOC",
        "NUM",
    ]
    assert m.classify(["Who wrote Hamlet ?"])[0]["label"] in m.cfg.model.labels


def test_lora_fine_tuning_freezes_the_body(tmp_path, bert_dir, shared_data):
    pre = attnkit.load(bert_dir[0])
    attnkit.train(_cfg(tmp_path, bert_dir[0], "model.lora_rank=4", "model.lora_targets=[q_proj, v_proj]"))
    m = attnkit.load(tmp_path / "run" / "best")
    trainable = {n for n, p in m.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    sd = m.model.encoder.state_dict()
    for k, v in pre.model.state_dict().items():  # every pretrained weight is unchanged
        own = k if k in sd else k.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        assert torch.equal(sd[own], v), k
    lora_b = [p.detach() for n, p in m.model.named_parameters() if n.endswith("lora_b")]
    assert lora_b and any(float(b.abs().sum()) > 0 for b in lora_b)  # the adapters did train


def test_min_lr_above_lr_is_refused():
    with pytest.raises(ValueError, match="min_lr"):
        apply_overrides(RunConfig(), ["train.lr=1e-5"])
    assert ModelConfig(lora_rank=0).lora_targets == ["q_proj", "v_proj"]
