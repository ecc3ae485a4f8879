"""Zero-shot and few-shot classification on pretrained models (the seed's section 7.4).

- :class:`EmbeddingClassifier` (an encoder such as MiniLM): each label is a prototype vector,
  the embedding of its description (zero-shot) or the mean embedding of k labelled examples
  (few-shot); a text goes to the most similar prototype.
- :class:`LMClassifier` (a decoder such as SmolLM2): each label is a verbalizer word; a text
  goes to the label whose word the model finds most likely after a prompt holding an instruction
  (zero-shot) and k labelled examples (few-shot, in context). The shared prompt prefix is run
  once and its KV cache reused for every text.
"""

from attnkit.fewshot.labels import LabelSet, parse_labels, sample_shots
from attnkit.fewshot.lm_scoring import LMClassifier
from attnkit.fewshot.prototypes import EmbeddingClassifier

__all__ = ["EmbeddingClassifier", "LMClassifier", "LabelSet", "parse_labels", "sample_shots"]


def zero_shot_classifier(lm, labels: "LabelSet"):
    """The zero-shot classifier that fits ``lm``, as its predictor says: prototypes for encoders,
    label-word scoring for LMs. A model that does not serve ``zero-shot`` is a ValueError."""
    lm.require("zero-shot")
    return lm.predictor.zero_shot_classifier(labels)
