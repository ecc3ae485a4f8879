"""``attnkit export``: ONNX and CTranslate2 copies of every exportable family, run in their
engines against attnkit; the refusals; atomic writes and --force."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from attnkit.cli.main import main
from attnkit.config import ModelConfig
from attnkit.export import ExportError, export_model
from attnkit.export import onnx as onnx_export
from attnkit.models import Decoder, Encoder, EncoderDecoder, model_config
from attnkit.models.factory import build_model

LLAMA = {"positions": "rope", "n_kv_heads": 2, "norm": "rmsnorm", "mlp": "swiglu", "bias": False}
POST = {"positions": "sinusoidal", "embed_scale": True, "norm_position": "post"}


def _lm(model):
    """The parts of a LoadedModel that export reads."""
    tok = types.SimpleNamespace(bos_id=1, eos_id=2, unk_id=3)
    return types.SimpleNamespace(
        model=model.eval(), path="/nowhere", cfg=types.SimpleNamespace(task="t"), tokenizer=tok
    )


MODELS = {
    "decoder": lambda: Decoder(model_config("tiny", vocab_size=60)),
    "decoder-llama": lambda: Decoder(model_config("tiny", vocab_size=60, **LLAMA)),
    "decoder-post-sinusoidal": lambda: Decoder(model_config("tiny", vocab_size=60, **POST)),
    "seq2seq": lambda: EncoderDecoder(model_config("tiny", vocab_size=60)),
    "seq2seq-sinusoidal": lambda: EncoderDecoder(model_config("tiny", vocab_size=60, positions="sinusoidal")),
    "encoder": lambda: Encoder(model_config("tiny", vocab_size=60)),
    "classifier": lambda: build_model(
        ModelConfig(vocab_size=60, d_model=32, n_heads=4, n_layers=2, pad_id=0, labels=["a", "b"]),
        "classifier",
    ),
}
FORMATS = {  # what each format holds
    "onnx": {"decoder", "decoder-llama", "decoder-post-sinusoidal", "encoder", "classifier"},
    "ct2": {"decoder", "decoder-llama", "decoder-post-sinusoidal", "seq2seq", "seq2seq-sinusoidal"},
}


@pytest.mark.parametrize("quantize", ["none", "int8"])
@pytest.mark.parametrize("fmt", ["onnx", "ct2"])
@pytest.mark.parametrize("name", list(MODELS))
def test_export_matches_attnkit_or_is_refused(name, fmt, quantize, tmp_path):
    torch.manual_seed(0)
    model = MODELS[name]()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = tmp_path / "out"
    if name not in FORMATS[fmt]:
        with pytest.raises(ExportError, match="holds"):
            export_model(_lm(model), fmt, out, quantize=quantize)
        assert not out.exists() and not list(tmp_path.iterdir())
        return
    report = export_model(_lm(model), fmt, out, quantize=quantize)
    saved = json.loads((out / "attnkit-export.json").read_text())
    assert saved == report and report["format"] == fmt and report["quantize"] == quantize
    limit = 1e-3 if quantize == "none" else 0.15
    assert 0 <= report["max_relative_error"] <= limit and report["tolerance"] == limit
    if quantize == "none":
        assert report["max_relative_error"] < 1e-5
        if "greedy_tokens_equal" in report:
            assert report["greedy_tokens_equal"] == "12/12"
    # The export must not change the model (CTranslate2 quantizes its arrays in place).
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary directory left


def test_onnx_decoder_cache_steps_equal_the_full_forward(tmp_path):
    torch.manual_seed(1)
    model = Decoder(model_config("tiny", vocab_size=60, **LLAMA)).eval()
    export_model(_lm(model), "onnx", tmp_path / "m")
    sess = onnx_export.session(tmp_path / "m" / "model.onnx")
    names = [i.name for i in sess.get_inputs()]
    assert names == ["ids"] + [f"past_{kv}_{i}" for i in range(2) for kv in ("k", "v")]
    ids = torch.randint(4, 60, (2, 9))
    with torch.no_grad():
        want = model(ids).logits.numpy()
    past = dict(zip(names[1:], (p.numpy() for p in onnx_export.empty_past(model, 2)), strict=True))
    out = sess.run(None, {"ids": ids[:, :4].numpy(), **past})
    got = [out[0]]
    for i in range(4, 9):
        out = sess.run(None, {"ids": ids[:, i : i + 1].numpy(), **dict(zip(names[1:], out[1:], strict=True))})
        got.append(out[0])
    assert out[1].shape == (2, 2, 9, 16)  # present k of layer 0: (B, Hkv, P+T, D)
    np.testing.assert_allclose(np.concatenate(got, 1), want, atol=1e-5, rtol=1e-5)


def test_refusals_name_the_problem_and_the_fix(tmp_path):
    dec = Decoder(model_config("tiny", vocab_size=60))
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match=r"taken already exists; choose another --out or pass --force"):
        export_model(_lm(dec), "onnx", tmp_path / "taken")
    assert export_model(_lm(dec), "onnx", tmp_path / "taken", force=True)["kind"] == "decoder"
    assert (tmp_path / "taken" / "model.onnx").is_file()
    with pytest.raises(ExportError, match=r"unknown export format 'tflite'; choose one of onnx, ct2"):
        export_model(_lm(dec), "tflite", tmp_path / "x")
    with pytest.raises(ExportError, match=r"export --quantize takes none or int8, not 'bf16'"):
        export_model(_lm(dec), "onnx", tmp_path / "x", quantize="bf16")
    with pytest.raises(ExportError, match=r"use --format ct2"):
        export_model(_lm(EncoderDecoder(model_config("tiny", vocab_size=60))), "onnx", tmp_path / "x")
    lstm = build_model(ModelConfig(arch="lstm", vocab_size=60, d_model=16, n_layers=1), "decoder")
    with pytest.raises(ExportError, match=r"not LSTMLanguageModel"):
        export_model(_lm(lstm), "ct2", tmp_path / "x")
    from attnkit.models.quantize import quantize_model

    with pytest.raises(ExportError, match=r"load it without --quantize"):
        export_model(
            _lm(quantize_model(Decoder(model_config("tiny", vocab_size=60)).eval(), "int8")),
            "ct2",
            tmp_path / "x",
        )
    assert not (tmp_path / "x").exists()


def test_missing_engine_is_named(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ctranslate2" else real(n, *a)
    )
    with pytest.raises(
        ExportError, match=r"--format ct2 needs ctranslate2, which is not installed: pip install"
    ):
        export_model(_lm(Decoder(model_config("tiny", vocab_size=60))), "ct2", tmp_path / "x")


def test_cli_export_writes_and_refuses(tiny_checkpoints, tmp_path, capsys):
    out = tmp_path / "tr"
    assert (
        main(["export", "--ckpt", str(tiny_checkpoints["translation"]), "--format", "ct2", "--out", str(out)])
        == 0
    )
    msg = capsys.readouterr().out
    assert "(ct2, seq2seq, quantize none)" in msg and "greedy tokens equal 12/12" in msg
    assert {p.name for p in out.iterdir()} >= {"model.bin", "attnkit-export.json", "tokenizer.json"}
    assert (
        main(["export", "--ckpt", str(tiny_checkpoints["translation"]), "--format", "ct2", "--out", str(out)])
        == 2
    )
    assert "already exists" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "--ckpt",
                str(tiny_checkpoints["translation"]),
                "--format",
                "onnx",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("attnkit: error: ONNX export holds") and err.count("\n") == 1
