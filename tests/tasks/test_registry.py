"""The task registry: one entry declares a task kind, and the API, CLI, web app, viewer and
``attnkit eval`` all follow it.

The worked example (also in ARCHITECTURE.md): ``spell``, a toy task kind added in this one
file. It trains a decoder on a fixed string, serves ``generate`` through its own predictor, has
its own attention view and its own ``attnkit eval`` report, and nothing in cli/, serve/ or viz/
is edited for it.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient

from attnkit.api import load, train
from attnkit.cli.main import main
from attnkit.config.base import apply_overrides
from attnkit.config.run import RunConfig
from attnkit.predict import Predictor
from attnkit.serve import create_app
from attnkit.tasks import TASKS, TaskKind, get_task_kind, register_task, task_names
from attnkit.tasks.registry import unregister_task
from attnkit.text import build_tokenizer
from attnkit.viz import inspect_attention

WORD = "attention " * 8


class SpellTask:
    """Next-character prediction over ``WORD``: the Task protocol in a dozen lines."""

    family = "decoder"

    def __init__(self, cfg, tokenizer=None):
        self.cfg, self.tokenizer = cfg, tokenizer or build_tokenizer("char", WORD)
        self.ids = torch.tensor(self.tokenizer.encode(WORD))

    def model_config(self, base):
        return dataclasses.replace(base, vocab_size=self.tokenizer.vocab_size, max_seq_len=len(WORD))

    def train_batch(self, gen, batch_size):
        return {"x": self.ids[None, :-1].repeat(batch_size, 1), "y": self.ids[None, 1:].repeat(batch_size, 1)}

    def loss(self, model, batch, label_smoothing=0.0):
        logits = model(batch["x"]).logits  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), batch["y"].flatten()), batch["y"].numel()

    def evaluate(self, model, split, batch_size, max_batches=None):
        with torch.no_grad():
            loss, _ = self.loss(model, self.train_batch(None, 1))
        return {"loss": float(loss), "split": split}


class SpellPredictor(Predictor):
    def generate(self, prompt, **decode):
        return prompt.upper()  # a predictor decides what its verbs do

    def stream(self, prompt, **decode):
        yield self.generate(prompt)


def inspect_spell(lm, req):
    view = get_task_kind("lm").resolve("inspect")(lm, req)  # the decoder's view, its own output
    view.output = lm.generate(req.text)
    return view


def report_spell(lm, args):
    print(json.dumps({"spell": lm.evaluate(args.split)}))
    return 0


@pytest.fixture
def spell():
    kind = register_task(TaskKind(
        "spell", family="decoder", verbs=("generate",), predictor=SpellPredictor, task=SpellTask,
        inspect=inspect_spell, report=report_spell, summary="a toy: spell one word",
    ))  # fmt: skip
    yield kind
    unregister_task("spell")


def test_a_new_task_kind_is_one_entry(spell, tmp_path, capsys):
    cfg = apply_overrides(RunConfig(task="spell", out_dir=str(tmp_path / "run")), [
        "model.d_model=16", "model.n_heads=2", "model.n_layers=1", "train.max_steps=4",
        "train.eval_every=4", "train.batch_size=2", "train.progress=false",
    ])  # fmt: skip
    train(cfg)
    capsys.readouterr()
    lm = load(tmp_path / "run" / "best")
    assert lm.kind is spell and type(lm.predictor) is SpellPredictor and lm.verbs == ("generate",)
    assert lm.generate("abc") == "ABC" and "".join(lm.stream("ab")) == "AB"
    with pytest.raises(ValueError, match=r"^this model's task is 'spell'; it serves generate, not classify"):
        lm.classify(["x"])
    # the CLI: eval runs the kind's report, a verb it lacks is one line and exit 2
    assert main(["eval", "--ckpt", str(tmp_path / "run" / "best"), "--split", "valid"]) == 0
    assert json.loads(capsys.readouterr().out)["spell"]["split"] == "valid"
    assert main(["translate", "--ckpt", str(tmp_path / "run" / "best")]) == 2
    assert (
        capsys.readouterr().err
        == "attnkit: error: this model's task is 'spell'; it serves generate, not translate\n"
    )
    # the viewer and the web app
    view = inspect_attention(lm, "atten")
    assert view.output == "ATTEN" and view.streams["decoder"].weights.shape[:2] == (1, 1)
    client = TestClient(create_app({"spell": lm}))
    (m,) = client.get("/api/models").json()["models"]
    assert (m["task"], m["verb"], m["verbs"]) == ("spell", "generate", ["generate"])
    r = client.post("/api/generate", json={"text": "hi", "attention": False}).json()
    assert (r["output"], r["task"]) == ("HI", "spell")
    assert client.post("/api/classify", json={"text": "hi"}).json() == {
        "error": "/api/classify: no loaded model does"
    }


def test_unknown_and_duplicate_names_are_refused():
    names = task_names()
    assert names == sorted(
        ["dialogue", "embedding", "lm", "classification", "speech", "summarization", "translation",
         "summarization-lm", "dialogue-lm", "translation-lm"]
    )
    with pytest.raises(ValueError) as e:
        RunConfig(task="sentiment")
    assert str(e.value) == f"task: unknown task 'sentiment'; choose from {', '.join(names)}"
    with pytest.raises(ValueError, match=r"already registered"):
        register_task(TaskKind("lm", "decoder", ("generate",), predictor=Predictor))
    with pytest.raises(ValueError, match=r"family must be one of"):
        TaskKind("x", "rnn", ("generate",), predictor=Predictor)
    with pytest.raises(ValueError, match=r"verbs must be among"):
        TaskKind("x", "decoder", ("sing",), predictor=Predictor)
    assert task_names() == names


def test_every_builtin_entry_resolves_and_the_old_table_reads_the_registry():
    for name in task_names():
        kind = get_task_kind(name)
        assert issubclass(kind.resolve("predictor"), Predictor), name
        assert kind.resolve("inspect") is not None, name
        assert (kind.resolve("task") is None) == (kind.resolve("report") is None) == (name == "embedding"), (
            name
        )
    assert sorted(TASKS) == sorted(set(task_names()) - {"embedding"})
    assert TASKS["dialogue"] is TASKS["translation"] is get_task_kind("summarization").resolve("task")
    with pytest.raises(KeyError):
        TASKS["embedding"]
    with pytest.raises(ValueError, match=r"pretrained weights only \(it serves embed, zero-shot\)"):
        get_task_kind("embedding").task_class()
    # RunConfig.task accepts what the registry has, and training a task: embedding is refused
    assert RunConfig(task="embedding").task == "embedding"
    with pytest.raises(ValueError, match="Fine-tune it with task: classification"):
        train(RunConfig(task="embedding"))
