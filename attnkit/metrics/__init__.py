"""Output metrics: BLEU/chrF (sacreBLEU), ROUGE (rouge-score), dialogue BLEU-n/distinct-n, WER/CER.

Pure functions of strings, importing nothing else from attnkit, so any layer may use them.
"""

from attnkit.metrics.asr import asr_scores, error_rate
from attnkit.metrics.bleu import translation_scores
from attnkit.metrics.dialogue import dialogue_scores, distinct_n
from attnkit.metrics.rouge import rouge_scores

__all__ = ["asr_scores", "dialogue_scores", "distinct_n", "error_rate", "rouge_scores", "translation_scores"]
