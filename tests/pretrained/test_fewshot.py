"""Zero-/few-shot classifiers: label parsing, seeded shots, prototypes, and LM scoring that
continues from a shared prefix cache exactly as a full forward pass would."""

from __future__ import annotations

import pytest
import torch

import attnkit
from attnkit.fewshot import EmbeddingClassifier, LabelSet, LMClassifier, parse_labels, sample_shots


def test_parse_labels_both_forms():
    a = parse_labels("positive, negative")
    assert (a.names, a.descriptions, a.verbalizers) == (["positive", "negative"],) * 3
    b = parse_labels("pos=a glowing, warm review; neg=a scathing review")
    assert b.names == ["pos", "neg"] and b.descriptions == ["a glowing, warm review", "a scathing review"]
    for bad, msg in (("", "empty"), ("only", "at least two"), ("a,a", "distinct"), ("=x;b", "no name")):
        with pytest.raises(ValueError, match=msg):
            parse_labels(bad)


def test_sample_shots_is_seeded_balanced_and_checked():
    texts = [f"t{i}" for i in range(30)]
    labels = ["a"] * 10 + ["b"] * 15 + ["c"] * 5
    x1, y1 = sample_shots(texts, labels, 4, seed=0, classes=["a", "b", "c"])
    x2, y2 = sample_shots(texts, labels, 4, seed=0, classes=["a", "b", "c"])
    x3, _ = sample_shots(texts, labels, 4, seed=1, classes=["a", "b", "c"])
    assert (x1, y1) == (x2, y2) and x1 != x3
    assert sorted(y1) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4 and len(set(x1)) == 12
    assert all(sorted(y1[3 * j : 3 * j + 3]) == ["a", "b", "c"] for j in range(4))  # one of each per round
    with pytest.raises(ValueError, match="'c' has 5 examples, fewer than k=6"):
        sample_shots(texts, labels, 6, seed=0, classes=["a", "b", "c"])


def test_prototypes_zero_shot_then_few_shot(bert_dir):
    lm = attnkit.load(bert_dir[0])
    labels = LabelSet.of(["pets", "sport"], ["the cat sat on a mat", "a big red dog ran"])
    clf = EmbeddingClassifier(lm, labels)
    texts = ["the cat sat", "a dog ran", "the big mat"]
    e, p = lm.embed(texts), lm.embed(labels.descriptions)
    torch.testing.assert_close(clf.predict_proba(texts), torch.softmax((e @ p.T) / 0.05, -1))
    clf.fit(["the cat", "a red cat", "dogs ran"], ["pets", "pets", "sport"])
    pets = torch.nn.functional.normalize(lm.embed(["the cat", "a red cat"]).mean(0), dim=-1)
    torch.testing.assert_close(clf.prototypes[0], pets)
    torch.testing.assert_close(clf.prototypes[1], lm.embed(["dogs ran"])[0])
    assert [r["label"] for r in clf.classify(["the cat", "dogs ran"])] == ["pets", "sport"]
    with pytest.raises(ValueError, match="outside"):
        clf.fit(["x"], ["cars"])


@pytest.mark.parametrize("verbalizers", [["good", "bad"], ["very good", "awful plot ."]])
def test_lm_scores_equal_a_full_forward_pass(llama_dir, verbalizers):
    lm = attnkit.load(llama_dir[0])
    labels = LabelSet.of(["pos", "neg"], verbalizers=verbalizers)
    clf = LMClassifier(lm, labels, max_text_tokens=16).fit(
        ["great movie", "awful film", "good plot"], ["pos", "neg", "pos"]
    )
    texts = ["the movie was great", "bad film", "the plot"]
    got = clf.label_scores(texts, batch_texts=2)
    tok = lm.tokenizer
    want = torch.empty(3, 2)
    for i, t in enumerate(texts):
        for j, v in enumerate(verbalizers):
            prompt = tok.encode(clf.prompt_prefix()) + tok.encode(f"Text: {t}\nLabel:")
            lab = tok.encode(" " + v)
            with torch.no_grad():
                logp = torch.log_softmax(lm.model(torch.tensor([prompt + lab])).logits[0].float(), -1)
            want[i, j] = logp[
                torch.arange(len(prompt) - 1, len(prompt) - 1 + len(lab)), torch.tensor(lab)
            ].mean()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # calibration divides by the label distribution after content-free texts
    free = torch.softmax(clf.label_scores(list(LMClassifier.CONTENT_FREE)), -1).mean(0)
    torch.testing.assert_close(
        clf.predict_proba(texts), torch.softmax(want - free.log(), -1), atol=1e-5, rtol=1e-5
    )
    raw = LMClassifier(lm, labels, max_text_tokens=16, calibrate=False)
    raw.fit(["great movie", "awful film", "good plot"], ["pos", "neg", "pos"])
    torch.testing.assert_close(raw.predict_proba(texts), torch.softmax(want, -1), atol=1e-5, rtol=1e-5)


def test_lm_prompt_that_overflows_the_context_is_refused(llama_dir):
    lm = attnkit.load(llama_dir[0])
    clf = LMClassifier(lm, LabelSet.of(["pos", "neg"], verbalizers=["good", "bad"]), max_text_tokens=8)
    clf.fit(["great movie film"] * 40, ["pos"] * 40)
    with pytest.raises(ValueError, match="use fewer shots"):
        clf.predict_proba(["good"])


def test_cli_zero_and_few_shot(bert_dir, tmp_path, capsys, monkeypatch):
    import io

    from attnkit.cli.main import main

    shots = tmp_path / "shots.tsv"
    shots.write_text("the cat\tpets\na red cat\tpets\ndogs ran\tsport\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"the cat\ndogs ran\n")))
    argv = ["classify", "--ckpt", str(bert_dir[0]), "--labels", "pets=the cat sat; sport=a big red dog ran"]
    assert main([*argv, "--shots", str(shots)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [x.split("\t")[0] for x in lines] == ["pets", "sport"]
    assert main(["classify", "--ckpt", str(bert_dir[0]), "--zero-shot"]) == 2
    assert "need --labels" in capsys.readouterr().err
