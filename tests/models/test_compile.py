"""torch.compile traces every model in one graph (``fullgraph=True`` raises on any graph break)
and the traced models compute what the eager ones do. The ``eager`` compile backend runs dynamo's
tracing without code generation, so this is fast; input checks and attention capture step aside
while tracing (see ``value_range`` and ``current_capture``)."""

from __future__ import annotations

import pytest
import torch

from attnkit.models import Decoder, EncoderDecoder, model_config
from attnkit.models.classifier import TransformerClassifier

V = 50


def _compiled(model):
    return torch.compile(model, backend="eager", fullgraph=True)


@pytest.mark.parametrize(
    "variant",
    [{}, {"positions": "rope", "n_kv_heads": 2, "norm": "rmsnorm", "mlp": "swiglu", "bias": False}],
)
def test_decoder_compiles_to_one_graph_with_equal_loss_and_grads(variant):
    torch._dynamo.reset()
    model = Decoder(model_config("tiny", vocab_size=V, dropout=0.0, **variant))
    ids, targets = torch.randint(0, V, (2, 12)), torch.randint(0, V, (2, 12))
    eager = model(ids, targets).loss
    eager.backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    traced = _compiled(model)(ids, targets).loss
    traced.backward()
    assert traced.item() == pytest.approx(eager.item(), rel=1e-6)
    for p, g in zip(model.parameters(), want, strict=True):
        torch.testing.assert_close(p.grad, g, atol=1e-6, rtol=1e-5)


def test_encoder_decoder_and_classifier_compile_to_one_graph():
    torch._dynamo.reset()
    s2s = EncoderDecoder(model_config("tiny", vocab_size=V)).eval()
    src, tgt = torch.randint(4, V, (2, 9)), torch.randint(4, V, (2, 7))
    src_mask = torch.ones(2, 9, dtype=torch.bool)
    src_mask[1, 5:] = False
    with torch.no_grad():
        want = s2s(src, tgt, src_mask=src_mask).logits
        got = _compiled(s2s)(src, tgt, src_mask=src_mask).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    clf = TransformerClassifier(model_config("tiny", vocab_size=V, labels=["a", "b", "c"])).eval()
    with torch.no_grad():
        want = clf(src, padding_mask=src_mask).logits
        got = _compiled(clf)(src, padding_mask=src_mask).logits
    assert got.shape == (2, 3)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_input_checks_still_run_in_eager_mode():
    model = Decoder(model_config("tiny", vocab_size=V))
    with pytest.raises(ValueError, match=r"token id out of range \[0, 50\): min -1, max 3"):
        model(torch.tensor([[3, -1]]))
