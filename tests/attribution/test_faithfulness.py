"""Deletion/insertion curves, the study's report, and the CLI/web surfaces of attributions."""

from __future__ import annotations

import json

import pytest
import torch

from attnkit.api import load
from attnkit.attribution import METHODS, build_target
from attnkit.attribution.faithfulness import FRACTIONS, Curves, curves, random_scores
from attnkit.attribution.target import swap_embeddings
from attnkit.cli.main import main


@pytest.mark.parametrize("task", ["classification", "translation"])
def test_curve_ends_are_the_full_and_the_empty_input(task, tiny_checkpoints):
    lm = load(tiny_checkpoints[task])
    t = build_target(lm, "who wrote hamlet ?" if task == "classification" else "alpha beta gamma")
    scores = random_scores((len(t.output_ids), t.n_inputs), 0)
    deletion, insertion = curves(t, scores, batch=5)
    assert deletion.shape == insertion.shape == (len(t.output_ids), len(FRACTIONS))
    e = t.embeddings()
    with torch.no_grad():
        full = t.logprobs(t.inputs)[0].exp()
        with swap_embeddings(t.model, torch.zeros_like(e)):
            empty = t.logprobs(t.inputs)[0].exp()
    assert torch.allclose(deletion[:, 0], full, atol=1e-6) and torch.allclose(
        deletion[:, -1], empty, atol=1e-6
    )
    assert torch.allclose(insertion[:, 0], empty, atol=1e-6) and torch.allclose(
        insertion[:, -1], full, atol=1e-6
    )


def test_curves_average_rows_and_aopc():
    c = Curves()
    d = torch.tensor([[1.0] + [0.5] * 10, [0.8] + [0.0] * 10])
    c.add(d, d.flip(1))
    deletion, insertion = c.mean()
    assert deletion[0] == pytest.approx(0.9) and deletion[1] == pytest.approx(0.25) and c.rows == 2
    assert c.aopc() == pytest.approx(sum(0.9 - x for x in deletion) / 11)
    assert c.insertion_auc() == pytest.approx(sum(insertion) / 11)


def test_study_cli_writes_report_plot_and_json(tiny_checkpoints, tmp_path, capsys):
    out = tmp_path / "faith"
    ckpt = str(tiny_checkpoints["classification"])
    code = main(["study", "faithfulness", "--ckpt", ckpt, "--out", str(out),
                 "--n", "3", "--steps", "4", "--methods", "ig,attention,occlusion"])  # fmt: skip
    assert code == 0 and f"report: {out / 'report.md'}" in capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert res["inputs"] == 3 and set(res["methods"]) == {"ig", "attention", "occlusion"}
    assert len(res["random"]["aopc"]) == 3 and all(v["rows"] == 3 for v in res["methods"].values())
    report = (out / "report.md").read_text()
    assert "| integrated gradients |" in report and "| random order (3 seeds) |" in report
    assert "completeness gap" in report and (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["study", "faithfulness", "--ckpt", str(tiny_checkpoints["classification"]), "--out",
                 str(out), "--methods", "ig,shap"]) == 2  # fmt: skip
    assert "unknown attribution method(s) shap" in capsys.readouterr().err


def test_viz_cli_adds_method_streams(tiny_checkpoints, tmp_path, capsys):
    out = tmp_path / "v"
    code = main(["viz", "--ckpt", str(tiny_checkpoints["translation"]), "--text", "alpha beta gamma",
                 "--method", "ig", "--method", "value_norm", "--out", str(out), "--no-per-head"])  # fmt: skip
    assert code == 0
    tokens = json.loads((out / "tokens.json").read_text())
    assert {"attr_ig", "attr_value_norm", "cross"} <= set(tokens["streams"])
    assert tokens["streams"]["attr_ig"]["keys"] == ["alpha", "beta", "gamma", "<eos>"]
    html = (out / "attention.html").read_text()
    assert '"method": "ig"' in html and '"method": "attention"' in html
    assert main(["viz", "--ckpt", "x", "--text", "a", "--method", "lime", "--out", str(out)]) == 2
    assert "invalid choice: 'lime'" in capsys.readouterr().err


def test_cli_and_web_method_lists_match_the_package():
    from attnkit.cli.viz import METHODS as CLI
    from attnkit.serve.routes import METHODS as WEB

    assert CLI == WEB == METHODS


def test_web_api_adds_attributions_and_rejects_unknown_methods(tiny_checkpoints):
    from fastapi.testclient import TestClient

    from attnkit.serve import create_app

    client = TestClient(create_app({"clf": load(tiny_checkpoints["classification"])}))
    r = client.post("/api/classify", json={"text": "who wrote hamlet ?", "methods": ["ig", "occlusion"]})
    assert r.status_code == 200
    methods = [s["method"] for s in r.json()["attention"]["streams"]]
    assert methods == ["attention", "attention", "ig", "occlusion"]  # encoder, rollout, then the two
    bad = client.post("/api/classify", json={"text": "who ?", "methods": ["lime"]})
    assert bad.status_code == 422 and "error" in bad.json()


def test_study_inputs_per_family_and_the_validation_fallback():
    import types

    from attnkit.attribution.study import study_inputs

    def fake(family, **task):
        kind = types.SimpleNamespace(family=family)
        cfg = types.SimpleNamespace(task="x")
        return types.SimpleNamespace(kind=kind, task=types.SimpleNamespace(**task), cfg=cfg)

    lm = fake("decoder", splits={"train": "t" * 500, "valid": "".join(chr(97 + i % 26) for i in range(2000))})
    pieces = study_inputs(lm, 5, prompt_chars=48)
    assert len(pieces) == 5 and all(len(p) == 48 for p in pieces) and pieces[0].startswith("abc")
    lm = fake("seq2seq", texts={"valid": (["a", "b", "c"], ["x", "y", "z"])})
    assert study_inputs(lm, 2) == ["a", "b"]
    lm = fake("classifier", tables={"valid": {"text": ["p", "q"]}})
    assert study_inputs(lm, 5) == ["p", "q"]
    with pytest.raises(ValueError, match="runs on classifiers, translation/summarization models and LMs"):
        study_inputs(fake("speech"), 3)
