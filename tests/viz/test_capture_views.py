"""attnkit.viz on trained checkpoints: streams equal the reference backend, labels fit, selection works."""

from __future__ import annotations

import pytest
import torch

import attnkit
from attnkit.models import Encoder, model_config
from attnkit.viz import capture_streams
from attnkit.viz.inspect import inspect_attention


def _inputs(lm, view):
    """The ids the view's forward pass used, rebuilt from the checkpoint's tokenizer."""
    tok = lm.tokenizer
    if lm.cfg.task == "lm":
        assert tok.decode(view.meta["ids"][view.meta["prompt_tokens"] :]) == view.output
        return (torch.tensor([view.meta["ids"]]),)
    if lm.cfg.task == "classification":
        from attnkit.tasks.classify import ClassificationTask

        return (torch.tensor([ClassificationTask.for_inference(lm.cfg, tok).encode(view.input)]),)
    from attnkit.decode.seq2seq import encode_sources

    src = encode_sources(tok, [view.meta["source"]], lm.cfg.data)[0]
    return torch.tensor([src]), torch.tensor([[tok.bos_id, *tok.encode(view.output)]])


CASES = {
    "lm": {"text": "To be, or not", "max_new_tokens": 12},
    "translation": {"text": "alpha beta gamma delta"},
    "dialogue": {"history": ["beta gamma", "gamma beta", "delta eta"]},
    "classification": {"text": "What is the capital of France ?"},
}
STREAMS = {
    "lm": ["decoder"],
    "translation": ["encoder", "decoder", "cross"],
    "dialogue": ["encoder", "decoder", "cross"],
    "classification": ["encoder"],
}


@pytest.mark.parametrize("task", list(CASES))
def test_view_streams_equal_reference_backend(task, tiny_checkpoints, spy_backend):
    lm = attnkit.load(tiny_checkpoints[task])
    assert lm.cfg.model.attn_backend != "reference"  # captured while running the fast backend
    view = inspect_attention(lm, **CASES[task])
    assert list(view.streams) == STREAMS[task]
    inputs = _inputs(lm, view)
    lm.model.set_attn_backend("spy")
    with torch.no_grad():
        lm.model(*inputs)
    # Call order: encoder layers, then per decoder layer self- then cross-attention.
    order = [(n, i) for n in ("encoder",) if n in view.streams for i in range(len(view.streams[n].layers))]
    if "decoder" in view.streams:
        for i in range(len(view.streams["decoder"].layers)):
            order.append(("decoder", i))
            if "cross" in view.streams:
                order.append(("cross", i))
    assert len(spy_backend) == len(order)
    for (name, i), ref in zip(order, spy_backend, strict=True):
        got = view.streams[name].weights[i]  # (B, H, T, S)
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-5)
    for s in view.streams.values():
        n_l, b, n_h, t, k = s.weights.shape
        assert (b, n_h, len(s.queries), len(s.keys)) == (1, lm.cfg.model.n_heads, t, k)
        torch.testing.assert_close(s.weights.sum(-1), torch.ones(n_l, b, n_h, t))


def test_seq2seq_labels_name_outputs_and_sources(tiny_checkpoints):
    lm = attnkit.load(tiny_checkpoints["translation"])
    view = inspect_attention(lm, text="alpha beta gamma")
    out_words = view.output.split()
    assert view.streams["encoder"].queries == ["alpha", "beta", "gamma", "<eos>"]
    assert view.streams["decoder"].keys == ["<bos>", *out_words]
    assert view.streams["cross"].queries == [*out_words, "<eos>"]  # row t produced output token t
    assert view.streams["cross"].keys == view.streams["encoder"].keys


def test_layer_and_head_selection_slices_the_full_capture(tiny_checkpoints):
    lm = attnkit.load(tiny_checkpoints["translation"])
    full = inspect_attention(lm, text="beta delta eta")
    part = inspect_attention(lm, text="beta delta eta", layers=[1], heads=[0, 2])
    for name in ("encoder", "decoder", "cross"):
        s = part.streams[name]
        assert (s.layers, s.heads) == ([1], [0, 2])
        assert torch.equal(s.weights, full.streams[name].weights[1:2, :, [0, 2]])
        assert torch.equal(s.head(1, 2), full.streams[name].head(1, 2))
    with pytest.raises(ValueError, match=r"heads 0\.\.3"):
        inspect_attention(lm, text="beta", heads=[4])
    with pytest.raises(ValueError, match="rollout needs every layer"):
        part.rollout()


def test_capture_streams_is_exact_in_float64_and_batched():
    model = Encoder(model_config("tiny", vocab_size=40, pad_id=0, n_layers=3)).double().eval()
    ids = torch.randint(1, 40, (3, 11))
    ids[2, 7:] = 0
    fast = capture_streams(model, ids)["encoder"]
    model.set_attn_backend("reference")
    slow = capture_streams(model, ids)["encoder"]
    assert fast.weights.shape == (3, 3, model.cfg.n_heads, 11, 11)  # (L, B, H, T, S)
    torch.testing.assert_close(fast.weights, slow.weights, atol=1e-12, rtol=0)
    assert torch.equal(fast.weights[:, 2, :, :, 7:], torch.zeros(3, model.cfg.n_heads, 11, 4))  # padding


def test_models_without_attention_say_so(tiny_checkpoints):
    from attnkit.models.factory import build_model

    cfg = attnkit.load(tiny_checkpoints["classification"]).cfg.model
    import dataclasses

    cnn = build_model(dataclasses.replace(cfg, arch="cnn"), "classifier")
    with pytest.raises(ValueError, match="has no attention layers to show"):
        capture_streams(cnn, torch.tensor([[2, 5, 6]]))


def test_lm_view_keeps_the_last_context_window(tiny_checkpoints):
    lm = attnkit.load(tiny_checkpoints["lm"])
    limit = lm.cfg.model.max_seq_len
    view = inspect_attention(lm, text="To be, or not to be, that is the question: " * 3)
    s = view.streams["decoder"]
    assert s.weights.shape[-1] == limit and len(s.keys) == limit
    assert view.meta["shown_from_token"] == len(lm.tokenizer.encode(view.input)) - limit
    assert torch.equal(s.weights.triu(1), torch.zeros_like(s.weights))  # causal


def test_bad_inputs_are_named(tiny_checkpoints):
    lm = attnkit.load(tiny_checkpoints["dialogue"])
    with pytest.raises(ValueError, match="at least one non-empty turn"):
        inspect_attention(lm, history=["hi", "  "])
    with pytest.raises(ValueError, match="empty"):
        inspect_attention(attnkit.load(tiny_checkpoints["lm"]), text=" ")


def test_gru_bahdanau_attention_is_a_cross_stream():
    from attnkit.config import ModelConfig
    from attnkit.models.rnn_seq2seq import GRUSeq2Seq

    cfg = ModelConfig(arch="rnn", vocab_size=30, d_model=16, n_heads=1, n_layers=1, pad_id=0, max_seq_len=32)
    model = GRUSeq2Seq(cfg).eval()
    src = torch.randint(4, 30, (2, 7))
    src[1, 5:] = 0  # row 1 is padded after 5 tokens
    tgt = torch.randint(4, 30, (2, 6))
    s = capture_streams(model, src, tgt)["cross"]
    assert s.weights.shape == (1, 2, 1, 6, 7) and (s.layers, s.heads) == ([0], [0])  # (L, B, H, T, S)
    torch.testing.assert_close(s.weights.sum(-1), torch.ones(1, 2, 1, 6))
    assert torch.equal(s.weights[0, 1, 0, :, 5:], torch.zeros(6, 2))  # padding gets no weight
    # step-by-step cached decoding attends exactly as the teacher-forced pass did
    memory, mask = model.encode(src)
    cache = model.new_cache(2)
    rows = []
    hook = model.attention.register_forward_hook(lambda m, a, out: rows.append(out[1]))
    with torch.no_grad():
        for t in range(6):
            model.decode(tgt[:, t : t + 1], memory, mask, cache=cache)
    hook.remove()
    torch.testing.assert_close(torch.stack(rows, 1), s.weights[0, :, 0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="one attention"):
        capture_streams(model, src, tgt, heads=[1])
