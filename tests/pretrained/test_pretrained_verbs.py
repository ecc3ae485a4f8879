"""The shipped pretrained models through the registry: their verbs, and ``attnkit eval`` refused
with one line (they have no recipe data to be scored on)."""

from __future__ import annotations

import pytest
import torch

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


def test_an_embedding_model_cuts_long_texts_like_a_classifier(bert_dir):
    from attnkit.viz import inspect_attention

    d, _ = bert_dir
    lm = attnkit.load(d)
    text = " ".join(["the cat sat on the mat"] * 30)  # more than the 64 positions
    full = len(lm.predictor.encode(text, limit=False))
    view = inspect_attention(lm, text)
    assert view.meta["notes"] == [f"the text is {full} tokens; the model reads (the view too) the first 64"]
    ids = lm.predictor.encode(text)
    assert len(ids) == 64 and len(view.streams["encoder"].queries) == 64
    same = lm.predictor._embed_batch([ids], True).cpu()  # the embedding reads those same 64 tokens
    assert torch.equal(lm.embed([text]), same)
