"""Classification: models ignore padding, metrics are right, the task trains and the CLI labels."""

from __future__ import annotations

import json

import pytest
import torch

from attnkit.cli.main import main
from attnkit.config import ModelConfig
from attnkit.models.factory import build_model
from attnkit.tasks.classify import hold_out_valid, macro_f1

ARCHES = ["transformer", "cnn", "lstm", "fasttext"]


# pooling is a Transformer option; the baselines have one readout each
@pytest.mark.parametrize(
    ("arch", "pooling"), [*((a, "cls") for a in ARCHES), ("transformer", "mean"), ("transformer", "max")]
)
def test_classifiers_ignore_padding(arch, pooling):
    torch.manual_seed(0)
    cfg = ModelConfig(
        arch=arch, vocab_size=30, d_model=16, n_heads=2, n_layers=2, pad_id=0,
        labels=["a", "b", "c"], pooling=pooling, ngram_buckets=50,
    )  # fmt: skip
    m = build_model(cfg, "classifier").eval()
    x = torch.randint(1, 30, (1, 7))
    alone = m(x).logits
    batch = torch.cat([torch.cat([x, torch.zeros(1, 5, dtype=torch.long)], 1), torch.randint(1, 30, (1, 12))])
    out = m(batch, labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 3) and out.loss.ndim == 0
    torch.testing.assert_close(out.logits[:1], alone, atol=1e-5, rtol=1e-5)


def test_classifier_needs_labels():
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model(ModelConfig(arch="cnn", labels=["only"]), "classifier")


def test_macro_f1_by_hand():
    # class 0: tp 2, pred 3, true 2 -> F1 0.8; class 1: tp 1, pred 1, true 2 -> F1 2/3
    assert macro_f1([[2, 0], [1, 1]]) == pytest.approx((0.8 + 2 / 3) / 2)
    assert macro_f1([[3, 0, 0], [0, 0, 0], [0, 0, 2]]) == 1.0  # absent class skipped


def test_hold_out_is_a_fixed_rule():
    train = {"text": [f"question {i}" for i in range(1000)], "label": ["x"] * 1000}
    a, b = hold_out_valid({"train": train}), hold_out_valid({"train": train})
    assert a["valid"]["text"] == b["valid"]["text"]
    assert 60 < len(a["valid"]["text"]) < 140 and len(a["train"]["text"]) + len(a["valid"]["text"]) == 1000
    assert not set(a["valid"]["text"]) & set(a["train"]["text"])


def test_trec_transformer_trains_evaluates_and_classifies(tmp_path, shared_data, capsys):
    from attnkit import api
    from attnkit.config import RunConfig, apply_overrides

    cfg = apply_overrides(
        RunConfig(),
        [
            "task=classification", f"out_dir={tmp_path / 'run'}", "data.dataset=trec",
            "data.tokenizer=word", "data.seq_len=40", "model.d_model=64", "model.n_layers=1",
            "model.n_heads=4", "train.batch_size=64",
            "train.max_steps=120", "train.eval_every=120", "train.eval_batches=null", "train.lr=3e-3",
            "train.warmup_steps=10", "train.progress=false",
        ],
    )  # fmt: skip
    metrics = api.train(cfg)
    assert metrics["labels"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert metrics["accuracy"] > 0.5  # majority class is 23%
    assert sum(map(sum, metrics["confusion"])) == metrics["examples"] > 400
    capsys.readouterr()
    assert main(["eval", "--ckpt", str(tmp_path / "run" / "best"), "--split", "test", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["examples"] == 500 and 0.5 < scores["accuracy"] <= 1.0
    assert (tmp_path / "run" / "eval" / "test.confusion.png").stat().st_size > 1000
    inp = tmp_path / "q.txt"
    inp.write_text("How far is it from Denver to Aspen ?\nWho wrote Hamlet ?\n", encoding="utf-8")
    assert main(["classify", "--ckpt", str(tmp_path / "run" / "best"), "--input", str(inp), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [r["text"] for r in rows] == ["How far is it from Denver to Aspen ?", "Who wrote Hamlet ?"]
    for r in rows:
        assert r["label"] == max(r["probs"], key=r["probs"].get)
        assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-4)


def test_word_dropout_replaces_text_tokens_with_unk_in_training_batches_only():
    from attnkit.config import RunConfig, apply_overrides
    from attnkit.tasks.classify import ClassificationTask

    texts = [f"w{i % 7} w{i % 5} w{i % 3} w{i % 11} w{i % 2}" for i in range(400)]
    labels = ["a" if i % 2 else "b" for i in range(400)]
    splits = {s: {"text": texts, "label": labels} for s in ("train", "valid")}
    cfg = apply_overrides(RunConfig(task="classification"), ["data.tokenizer=word", "data.word_dropout=0.3"])
    task = ClassificationTask(cfg, splits=splits)
    tok = task.tokenizer
    gen = torch.Generator().manual_seed(0)
    x = task.train_batch(gen, 400)["ids"]
    again = task.train_batch(torch.Generator().manual_seed(0), 400)  # the run's generator repeats it
    assert torch.equal(x, again["ids"])
    assert (x[:, 0] == tok.bos_id).all()  # the template's specials are never dropped
    text = (x != tok.pad_id) & (x != tok.bos_id)
    rate = ((x == tok.unk_id) & text).sum().item() / text.sum().item()
    assert rate == pytest.approx(0.3, abs=0.03)  # 2,000 tokens: sd 0.01
    ids, _, _ = task.split("valid")
    assert all(tok.unk_id not in row for row in ids)  # evaluation data are untouched


def test_max_pooling_is_the_featurewise_max_over_real_tokens():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="transformer", vocab_size=30, d_model=16, n_heads=2, n_layers=1, pad_id=0,
                      labels=["a", "b"], pooling="max")  # fmt: skip
    m = build_model(cfg, "classifier").eval()
    x = torch.tensor([[5, 6, 7, 0, 0]])
    h = m.encoder(x, padding_mask=x != 0).hidden[:, :3]  # (1, 3, C): the real tokens
    torch.testing.assert_close(m(x).logits, m.head(h.amax(1)))


def test_valid_from_train_holds_out_train_and_scores_the_official_dev_as_test():
    from attnkit.config import RunConfig, apply_overrides
    from attnkit.tasks.classify import ClassificationTask

    train = {"text": [f"t{i} x" for i in range(300)], "label": ["a", "b"] * 150}
    dev = {"text": [f"d{i} y" for i in range(20)], "label": ["a", "b"] * 10}
    over = ["data.tokenizer=word", "data.valid_from_train=10"]
    cfg = apply_overrides(RunConfig(task="classification"), over)
    task = ClassificationTask(cfg, splits={"train": train, "valid": dev})
    assert task.tables["test"] == dev
    held = task.tables["valid"]["text"]
    assert 10 <= len(held) <= 60 and set(held).isdisjoint(task.tables["train"]["text"])
    assert len(held) + len(task.tables["train"]["text"]) == 300
    with pytest.raises(ValueError, match="already has a test split"):
        ClassificationTask(cfg, splits={"train": train, "valid": dev, "test": dev})
    with pytest.raises(ValueError, match=r"valid_from_train.*\[0, 100\)"):
        apply_overrides(cfg, ["data.valid_from_train=100"])
