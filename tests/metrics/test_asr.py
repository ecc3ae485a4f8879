"""WER, CER and accuracy against hand-counted edits."""

import pytest

from attnkit.metrics import asr_scores, error_rate
from attnkit.metrics.asr import edit_distance


def test_edit_distance_counts_each_kind_of_edit():
    assert edit_distance("kitten", "sitting") == 3  # 2 substitutions + 1 insertion
    assert edit_distance([], ["a", "b"]) == 2
    assert edit_distance(["a", "b"], []) == 2
    assert edit_distance("same", "same") == 0


def test_corpus_wer_and_cer_sum_edits_before_dividing():
    hyps = ["three one for", "nine", ""]
    refs = ["three one four", "nine", "two"]
    # words: 1 substitution + 0 + 1 deletion over 3 + 1 + 1 reference words
    assert error_rate(hyps, refs, "word") == pytest.approx(2 / 5)
    # chars: "for" vs "four" = 1 deletion; "" vs "two" = 3; over 14 + 4 + 3 characters
    assert error_rate(hyps, refs, "char") == pytest.approx(4 / 21)
    s = asr_scores(hyps, refs)
    assert s["accuracy"] == pytest.approx(1 / 3) and s["examples"] == 3
    assert asr_scores(["a  b "], ["a b"])["wer"] == 0.0  # whitespace is collapsed
    assert error_rate(["x y z"], ["x"], "word") == 2.0  # insertions can push WER past 1
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        error_rate(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unit must be"):
        error_rate(["a"], ["a"], "phone")
