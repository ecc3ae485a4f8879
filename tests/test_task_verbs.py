"""Every verb asked of a model whose task does not serve it: a ValueError from the API and, from
the CLI, one line and exit 2, naming the task and the verbs it has (one case per task kind)."""

from __future__ import annotations

import pytest

from attnkit.api import load
from attnkit.cli.main import main

SERVES = {
    "lm": "generate",
    "translation": "translate",
    "summarization": "summarize",
    "dialogue": "chat",
    "classification": "classify",
    "speech": "transcribe",
}
CLI = {  # each verb's command line, after --ckpt
    "generate": ["generate", "--prompt", "x"],
    "translate": ["translate"],
    "summarize": ["summarize"],
    "chat": ["chat"],
    "classify": ["classify"],
    "transcribe": ["transcribe", "missing.wav"],
}
API = {  # each verb's Python call
    "generate": lambda m: m.generate("x"),
    "translate": lambda m: m.translate(["x"]),
    "summarize": lambda m: m.summarize(["x"]),
    "chat": lambda m: m.respond(["x"]),
    "classify": lambda m: m.classify(["x"]),
    "embed": lambda m: m.embed(["x"]),
    "transcribe": lambda m: m.transcribe([b"RIFF"]),
}


@pytest.fixture(scope="module")
def checkpoints(tiny_checkpoints, speech_checkpoint):
    """task -> (checkpoint dir, overrides): summarization reuses the translation model's weights."""
    out = {t: (str(tiny_checkpoints[t]), []) for t in ("lm", "translation", "dialogue", "classification")}
    out["summarization"] = (str(tiny_checkpoints["translation"]), ["task=summarization"])
    out["speech"] = (str(speech_checkpoint), [])
    return out


@pytest.mark.parametrize("task", sorted(SERVES))
def test_verbs_a_task_lacks_are_refused_by_name(task, checkpoints, capsys):
    path, overrides = checkpoints[task]
    lm = load(path, overrides=overrides)
    assert lm.cfg.task == task and lm.verbs == (SERVES[task],)
    for verb, call in API.items():
        if verb == SERVES[task]:
            continue
        with pytest.raises(ValueError) as e:
            call(lm)
        want = f"this model's task is {task!r}; it serves {SERVES[task]}, not {verb}"
        assert str(e.value).startswith(want), verb
    if overrides:  # the CLI loads checkpoints as saved
        return
    for verb, argv in CLI.items():
        if verb == SERVES[task]:
            continue
        assert main([argv[0], "--ckpt", path, *argv[1:]]) == 2, verb
        err = capsys.readouterr().err
        assert err == f"attnkit: error: this model's task is {task!r}; it serves {SERVES[task]}, not {verb}\n"


def test_eval_of_an_encoder_checkpoint_runs_its_report(checkpoints, tmp_path, capsys):
    path, _ = checkpoints["classification"]
    assert main(["eval", "--ckpt", path, "--split", "valid", "--out-dir", str(tmp_path), "--json"]) == 0
    assert (tmp_path / "valid.confusion.png").is_file()
