"""See the attention: capture streams, rollout, heatmap PNGs, the offline HTML head/model view."""

from attnkit.viz.rollout import attention_rollout
from attnkit.viz.streams import AttentionStream, capture_streams
from attnkit.viz.tokens import token_labels

__all__ = ["AttentionStream", "attention_rollout", "capture_streams", "token_labels"]
