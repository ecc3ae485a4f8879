"""Text-generation metrics: BLEU/chrF (sacreBLEU), ROUGE (rouge-score), dialogue BLEU-n/distinct-n.

Pure functions of strings, importing nothing else from attnkit, so any layer may use them.
"""

from attnkit.metrics.bleu import translation_scores
from attnkit.metrics.dialogue import dialogue_scores, distinct_n
from attnkit.metrics.rouge import rouge_scores

__all__ = ["dialogue_scores", "distinct_n", "rouge_scores", "translation_scores"]
