"""BLEU/chrF/ROUGE wrappers against the libraries they wrap, multi-reference, Chinese."""

from __future__ import annotations

import pytest
import sacrebleu

from attnkit.metrics import rouge_scores, translation_scores


def test_bleu_matches_sacrebleu_and_reports_signature():
    hyps = ["The cat sat on the mat .", "A dog runs in the park"]
    refs = [["The cat is sitting on the mat."], ["A dog is running in the park."]]
    s = translation_scores(hyps, refs)
    direct = sacrebleu.corpus_bleu(hyps, [[r[0] for r in refs]])
    assert s["bleu"] == pytest.approx(round(direct.score, 2))
    assert s["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert "case:lc" in s["bleu_lc_tok_signature"]
    assert 0 < s["chrf"] < 100


def test_lowercased_bleu_ignores_case_only():
    s = translation_scores(["A MAN RIDES A BIKE ."], [["a man rides a bike."]])
    assert s["bleu_lc_tok"] == 100.0
    assert s["bleu"] < 100.0


def test_chinese_target_uses_zh_tokenizer():
    s = translation_scores(["我爱你。"], [["我爱你。"]], target_lang="zh")
    assert "tok:zh" in s["bleu_signature"] and s["bleu"] == 100.0


def test_multi_reference_bleu_uses_all_references():
    one = translation_scores(["a small dog runs"], [["a big cat sleeps"]])
    two = translation_scores(["a small dog runs"], [["a big cat sleeps", "a small dog runs"]])
    assert two["bleu"] == 100.0 > one["bleu"]


def test_rouge_known_values_and_multi_reference_max():
    s = rouge_scores(["the cat was found under the bed"], [["the cat was under the bed"]])
    # 6 of 7 hypothesis unigrams match, all 6 reference unigrams: F1 = 2*(6/7)*1/(6/7+1)
    assert s["rouge1"] == pytest.approx(100 * 2 * (6 / 7) / (6 / 7 + 1), abs=0.01)
    multi = rouge_scores(["a cat runs"], [["the dog sleeps", "a cat runs"]])
    assert multi["rouge1"] == multi["rouge2"] == multi["rougeL"] == 100.0


def test_rouge_chinese_is_character_level():
    s = rouge_scores(["我爱北京"], [["我爱上海"]], lang="zh")
    assert s["rouge1"] == 50.0  # 2 of 4 characters
    assert "tok:char" in s["rouge_signature"]


def test_mismatched_lengths_are_errors():
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        translation_scores(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="no hypotheses"):
        rouge_scores([], [])
