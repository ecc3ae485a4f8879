"""``--quantize`` / ``quantize=`` on every surface: the API, the inference commands, the web app,
and the refusals (a baseline without a quantized path, an unknown mode)."""

from __future__ import annotations

import pytest

from attnkit.api import load
from attnkit.cli.main import main
from attnkit.cli.serve import load_models
from attnkit.config import RunConfig, apply_overrides
from attnkit.layers.quant import BF16Linear, Int8Linear
from attnkit.models.factory import build_model
from attnkit.text.simple import CharTokenizer
from attnkit.training.checkpoint import save_checkpoint


def _count(model, cls) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize("task", ["lm", "translation", "dialogue", "classification"])
def test_api_load_quantizes_each_task(task, tiny_checkpoints):
    plain = load(tiny_checkpoints[task])
    q = load(tiny_checkpoints[task], quantize="int8")
    b = load(tiny_checkpoints[task], quantize="bf16")
    assert _count(plain.model, Int8Linear) == 0
    assert _count(q.model, Int8Linear) > 0 and _count(b.model, BF16Linear) == _count(q.model, Int8Linear)
    assert q.model.quantized == "int8"
    if task == "lm":
        # A 20-step model is nearly uniform, so only the shape of the output is comparable.
        assert isinstance(q.generate("To be", max_new_tokens=5, seed=0), str)
    if task == "classification":
        text = ["what is the capital of france ?"]
        a, c = plain.classify(text), q.classify(text)
        assert set(a[0]["probs"]) == set(c[0]["probs"])
        assert max(abs(a[0]["probs"][k] - c[0]["probs"][k]) for k in a[0]["probs"]) < 0.02


def test_cli_generate_quantized_matches_the_api(tiny_checkpoints, capsys):
    path = str(tiny_checkpoints["lm"])
    args = ["generate", "--ckpt", path, "--prompt", "To be", "--max-new-tokens", "12", "--seed", "3"]
    assert main([*args, "--quantize", "int8"]) == 0
    out = capsys.readouterr().out
    want = load(path, quantize="int8").generate("To be", max_new_tokens=12, seed=3)
    assert out == f"To be{want}\n"  # the CLI echoes the prompt, then streams the continuation


def test_cli_rejects_an_unknown_mode(tiny_checkpoints, capsys):
    path = str(tiny_checkpoints["lm"])
    assert main(["generate", "--ckpt", path, "--prompt", "x", "--quantize", "int4"]) == 2
    err = capsys.readouterr().err
    assert "--quantize: invalid choice: 'int4' (choose from 'none', 'int8', 'bf16')" in err
    assert err.count("\n") == 1
    with pytest.raises(ValueError, match=r"unknown quantize mode 'int4'; choose one of none, int8, bf16"):
        load(tiny_checkpoints["lm"], quantize="int4")


def test_a_baseline_is_refused_with_the_fix(tmp_path, capsys):
    cfg = apply_overrides(RunConfig(), ["task=lm", "model.arch=lstm", "model.d_model=16", "model.n_layers=1"])
    tok = CharTokenizer.train("abc de")
    cfg = apply_overrides(cfg, [f"model.vocab_size={tok.vocab_size}"])
    save_checkpoint(tmp_path / "lstm", model=build_model(cfg.model, "decoder"), cfg=cfg, tokenizer=tok)
    with pytest.raises(ValueError, match=r"LSTMLanguageModel has no quantized path .*use --quantize none"):
        load(tmp_path / "lstm", quantize="int8")
    lstm = str(tmp_path / "lstm")
    code = main(["generate", "--ckpt", lstm, "--prompt", "ab", "--quantize", "bf16"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "LSTMLanguageModel has no quantized path" in err and "Traceback" not in err
    assert main(["generate", "--ckpt", lstm, "--prompt", "ab", "--max-new-tokens", "3"]) == 0


def test_web_app_models_load_quantized(tiny_checkpoints):
    paths = [str(tiny_checkpoints["lm"]), str(tiny_checkpoints["classification"])]
    models = load_models(paths, quantize="int8")
    assert len(models) == 2
    assert all(_count(m.model, Int8Linear) > 0 for m in models.values())
