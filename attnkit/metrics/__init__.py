"""Text-generation metrics: BLEU/chrF (sacreBLEU) and ROUGE (rouge-score).

Pure functions of strings, importing nothing else from attnkit, so any layer may use them.
"""

from attnkit.metrics.bleu import translation_scores
from attnkit.metrics.rouge import rouge_scores

__all__ = ["rouge_scores", "translation_scores"]
