"""The shipped pretrained models through the registry: their verbs, and ``attnkit eval`` refused
with one line (they have no recipe data to be scored on)."""

from __future__ import annotations

import pytest

import attnkit
from attnkit.cli.main import main


@pytest.mark.parametrize(
    ("name", "task", "verbs"),
    [("minilm", "embedding", ("embed", "zero-shot")), ("smollm2", "lm", ("generate", "chat", "zero-shot"))],
)
def test_pretrained_models_serve_their_verbs_and_refuse_eval(name, task, verbs, capsys):
    lm = attnkit.load(name)
    assert (lm.cfg.task, lm.verbs) == (task, verbs)
    assert main(["eval", "--ckpt", name]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("attnkit: error: ")
    if task == "embedding":
        assert "comes from pretrained weights only (it serves embed, zero-shot)" in err
    else:
        assert "smollm2 is a pretrained 'lm' model with no recipe data" in err
        assert "it serves generate, chat, zero-shot" in err
    served = ", ".join(verbs)
    with pytest.raises(ValueError, match=rf"^this model's task is '{task}'; it serves {served}, not "):
        lm.classify(["x"])
