"""Metric values against the libraries computed directly, hand counts, and exact messages.

Written for `make mutate MODULE=attnkit/metrics` (docs/testing.md): every returned field is
compared with an independent computation, on inputs where a changed rule would change it.
"""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from attnkit.metrics import asr_scores, dialogue_scores, error_rate, rouge_scores, translation_scores
from attnkit.metrics.asr import edit_distance
from attnkit.metrics.rouge import _CharTokenizer

HYPS = ["the cat sat on the mat .", "A dog runs in the park", "Birds fly south"]
REFS = [
    ["The cat is sitting on the mat."],
    ["A dog is running in the park.", "a dog runs in a park ."],
    ["Birds fly."],
]


def test_every_translation_field_equals_sacrebleu_with_uneven_reference_counts():
    s = translation_scores(HYPS, REFS)
    streams = [[r[0] for r in REFS], [None, REFS[1][1], None]]
    bleu = sacrebleu.BLEU(tokenize="13a").corpus_score(HYPS, streams)
    chrf = sacrebleu.CHRF().corpus_score(HYPS, streams)
    lc = sacrebleu.BLEU(tokenize="13a", lowercase=True).corpus_score(HYPS, streams)
    assert s["bleu"] == round(bleu.score, 2) and s["bleu_detail"] == str(bleu)
    assert s["chrf"] == round(chrf.score, 2) and s["bleu_lc_tok"] == round(lc.score, 2)
    assert s["bleu_signature"] == "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    assert s["chrf_signature"] == "nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"
    assert s["bleu_lc_tok_signature"] == "nrefs:var|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0"
    assert s["bleu_lc_tok"] > s["bleu"]  # "The" against "the" counts only once lowercased


@pytest.mark.parametrize("lang", ["zh", "ZH", "zh-Hans"])
def test_any_chinese_target_tag_uses_the_zh_tokenizer(lang):
    s = translation_scores(["我爱你。"], [["我爱北京。"]], target_lang=lang)
    direct = sacrebleu.BLEU(tokenize="zh").corpus_score(["我爱你。"], [["我爱北京。"]])
    assert s["bleu"] == round(direct.score, 2) and "tok:zh" in s["bleu_signature"]
    lc = sacrebleu.BLEU(tokenize="zh", lowercase=True).corpus_score(["我爱你。"], [["我爱北京。"]])
    assert s["bleu_lc_tok"] == round(lc.score, 2) and "tok:zh" in s["bleu_lc_tok_signature"]


def test_rouge_is_the_mean_of_per_example_f1_from_rouge_score():
    s = rouge_scores(HYPS, REFS)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    per = [
        scorer.score_multi(r, h) if len(r) > 1 else scorer.score(r[0], h)
        for h, r in zip(HYPS, REFS, strict=True)
    ]
    for t in ("rouge1", "rouge2", "rougeL"):
        assert s[t] == round(100 * sum(p[t].fmeasure for p in per) / 3, 2)
    assert s["rouge_signature"] == "rouge-score 0.1.2|F1 mean|stem:True|tok:default|Lsum:regex sentences"
    assert s["rouge2"] < s["rougeL"]  # bigrams match less than the longest common subsequence


def test_rouge_lsum_is_summary_level_lcs_over_sentences():
    from attnkit.metrics.rouge import split_sentences

    assert split_sentences(" Ann baked cookies.  She will bring some!\nOk? yes ") == (
        "Ann baked cookies.\nShe will bring some!\nOk?\nyes"
    )
    # Swapped sentences: one LCS of the whole texts covers half the words, the union of
    # per-sentence LCSs covers all of them.
    s = rouge_scores(["a b c. d e f."], [["d e f. a b c."]])
    assert (s["rougeL"], s["rougeLsum"], s["rouge1"]) == (50.0, 100.0, 100.0)
    # One sentence on each side: Lsum is L.
    s = rouge_scores(["the cat sat on the mat"], [["a cat sat on a red mat"]])
    assert s["rougeLsum"] == s["rougeL"]
    # Against rouge-score's own rougeLsum on the same newline-split texts.
    scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    hyp, ref = "Tom lost keys. Sue found them in the car.", "Sue found the keys. They were in Tom's car."
    want = scorer.score(split_sentences(ref), split_sentences(hyp))["rougeLsum"].fmeasure
    assert rouge_scores([hyp], [[ref]])["rougeLsum"] == round(100 * want, 2)


def test_rouge2_and_rougel_hand_values():
    # hyp "a b c d", ref "a b d": bigrams {ab, bc, cd} vs {ab, bd}: 1 match, P 1/3, R 1/2;
    # LCS "a b d" = 3: P 3/4, R 1.
    s = rouge_scores(["a b c d"], [["a b d"]])
    assert s["rouge2"] == round(100 * 2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2), 2)
    assert s["rougeL"] == round(100 * 2 * (3 / 4) / (3 / 4 + 1), 2)


@pytest.mark.parametrize("lang", ["zh", "ZH-cn"])
def test_chinese_rouge_counts_characters_and_keeps_latin_words(lang):
    s = rouge_scores(["我们 like 北京"], [["我们 love 北京"]], lang=lang)
    # tokens: 我 们 like 北 京 against 我 们 love 北 京: 4 of 5 match both ways
    assert s["rouge1"] == 80.0 and "stem:False|tok:char|" in s["rouge_signature"]
    tok = _CharTokenizer()
    assert tok.tokenize("AB㐀丽x 𠀀y") == ["ab", "㐀", "丽", "x", "𠀀y"]  # ext. A, compatibility


def test_metric_errors_say_what_is_wrong():
    for fn in (translation_scores, rouge_scores):
        with pytest.raises(ValueError) as err:
            fn(["a", "b"], [["a"]])
        assert str(err.value) == "2 hypotheses but 1 reference sets"
        with pytest.raises(ValueError) as err:
            fn([], [])
        assert str(err.value) == "no hypotheses to score"
    with pytest.raises(ValueError) as err:
        error_rate(["a"], ["a"], "phone")
    assert str(err.value) == "unit must be 'word' or 'char', got 'phone'"
    with pytest.raises(ValueError) as err:
        dialogue_scores(["a"], [])
    assert str(err.value) == "1 responses but 0 reference sets"


def test_edit_distance_and_error_rates_by_hand():
    assert edit_distance("abc", "yabd") == 2  # insert y, substitute c -> d
    assert edit_distance(["x"], ["y"]) == 1 and edit_distance("ab", "ba") == 2
    # CER counts spaces: "a b" vs "ab" is one deletion over 2 characters.
    assert error_rate(["a b"], ["ab"], "char") == 0.5
    assert error_rate(["a   b"], ["a b"], "char") == 0.0  # whitespace collapsed first
    assert error_rate([""], [""], "word") == 0.0  # no reference words: no division by zero
    assert error_rate(["x"], [""], "word") == 1.0
    assert error_rate(["a b"], ["a c"]) == 0.5  # words by default
    assert asr_scores(["x"], ["x"])["accuracy"] == 1.0
    s = asr_scores(["one two", "three"], ["one two", "four"])
    assert (s["accuracy"], s["wer"], s["cer"]) == (0.5, 1 / 3, pytest.approx(5 / 11))


def test_dialogue_scores_use_the_first_reference_and_average_lengths():
    s = dialogue_scores(["I am fine .", "no"], [["i am fine .", "something else"], ["no way"]])
    for n in (1, 2):
        direct = sacrebleu.BLEU(max_ngram_order=n, lowercase=True, tokenize="13a")
        assert s[f"bleu{n}"] == direct.corpus_score(["I am fine .", "no"], [["i am fine .", "no way"]]).score
        assert s[f"bleu{n}_signature"] == str(direct.get_signature())
    assert s["avg_len"] == 2.5 and s["examples"] == 2
    assert s["distinct1"] == 5 / 5 and s["distinct2"] == 3 / 3
    # unigrams a a b a: 2 distinct of 4; bigrams (a a) (a b) (b a): 3 of 3.
    rep = dialogue_scores(["a a b a"], [["a"]])
    assert (rep["distinct1"], rep["distinct2"]) == (0.5, 1.0)
    alt = dialogue_scores(["a b a b a"], [["a"]])  # bigrams ab ba ab ba: 2 of 4 (trigrams: 2 of 3)
    assert alt["distinct2"] == 0.5
    with pytest.raises(ValueError) as err:
        dialogue_scores([], [])
    assert str(err.value) == "no responses to score"
