"""See the attention: capture streams, rollout, heatmap PNGs, the offline HTML head/model view.

from attnkit.viz import capture_streams, inspect_attention, export_view
streams = capture_streams(model, ids)            # {"encoder"|"decoder"|"cross": AttentionStream}
view = inspect_attention(attnkit.load(ckpt), "Ein Hund läuft.")   # output + labelled streams
export_view(view, "viz/")                        # attention.html, PNGs, safetensors
"""

from attnkit.viz.export import export_view
from attnkit.viz.inspect import AttentionView, inspect_attention
from attnkit.viz.rollout import attention_rollout
from attnkit.viz.streams import AttentionStream, capture_streams, has_attention
from attnkit.viz.tokens import token_labels

__all__ = [
    "AttentionStream",
    "AttentionView",
    "attention_rollout",
    "capture_streams",
    "export_view",
    "has_attention",
    "inspect_attention",
    "token_labels",
]
