import math

import pytest

from attnkit.metrics import dialogue_scores, distinct_n
from attnkit.metrics.dialogue import tokens


def test_tokens_lowercase_and_split_punctuation():
    assert tokens("I'm fine, Thanks.") == ["i'm", "fine", ",", "thanks", "."]


def test_distinct_counts_unique_ngrams_over_all_responses():
    assert distinct_n(["a a a b"], 1) == 2 / 4
    assert distinct_n(["a b a b"], 2) == 2 / 3
    assert distinct_n(["i do not know", "i do not know"], 2) == 3 / 6
    assert distinct_n(["", "x"], 2) == 0.0  # no bigrams at all


def test_bleu1_by_hand_and_identity():
    # clipped unigram precision 2/4, brevity penalty exp(1 - 5/4)
    r = dialogue_scores(["a b c d"], [["a b x y z"]])
    assert r["bleu1"] == pytest.approx(100 * 0.5 * math.exp(1 - 5 / 4), abs=1e-6)
    same = dialogue_scores(["Hello there ."], [["hello there."]])
    assert same["bleu1"] == pytest.approx(100.0) and same["bleu2"] == pytest.approx(100.0)
    assert same["avg_len"] == 3.0 and same["examples"] == 1
    assert "case:lc" in same["bleu2_signature"]


def test_bleu2_is_geometric_mean_of_1_and_2_gram_precisions():
    # hyp "a b c", ref "a b d": p1 = 2/3, p2 = 1/2, equal lengths
    r = dialogue_scores(["a b c"], [["a b d"]])
    assert r["bleu2"] == pytest.approx(100 * math.sqrt(2 / 3 * 1 / 2), abs=1e-6)


def test_mismatched_or_empty_inputs_fail_clearly():
    with pytest.raises(ValueError, match="2 responses but 1 reference"):
        dialogue_scores(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="no responses"):
        dialogue_scores([], [])
