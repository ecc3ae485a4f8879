"""The slot-addressed decoding step that CUDA graphs replay, checked on the CPU (capture=False
runs the very step a graph records): same logits as ordinary cached decoding, same tokens through
generate_ids, including when the context window slides. tests/gpu replays the real graphs."""

from __future__ import annotations

import pytest
import torch

from attnkit.config import DecodeConfig
from attnkit.decode import generate as gen_mod
from attnkit.decode.graphs import StepGraph, can_graph
from attnkit.models import Decoder, EncoderDecoder, model_config

V = 50
VARIANTS = {
    "learned": {},
    "rope+gqa": {"positions": "rope", "n_kv_heads": 2, "norm": "rmsnorm", "mlp": "swiglu"},
    "reference-backend": {"attn_backend": "reference"},
    "tiled-backend": {"attn_backend": "tiled"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_slot_step_logits_equal_appending_cache(variant):
    model = Decoder(model_config("tiny", vocab_size=V, **VARIANTS[variant])).eval()
    ids = torch.randint(0, V, (2, 14))
    with torch.no_grad():
        cache = model.new_cache(2, 20)
        want = [model(ids[:, :6], cache=cache).logits[:, -1]]
        want += [model(ids[:, i : i + 1], cache=cache).logits[:, -1] for i in range(6, 14)]
    step = StepGraph(model, 2, 20, capture=False)
    got = [step.prefill(ids[:, :6])] + [step.step(ids[:, i], i) for i in range(6, 14)]
    assert step.cache.slots is step.slot and step.cache.layers[0].k.shape[2] == 20
    torch.testing.assert_close(torch.stack(got), torch.stack(want), atol=1e-5, rtol=1e-5)


def _tokens(model, prompt, cfg):
    return torch.stack(list(gen_mod.generate_ids(model, prompt, cfg)), 1)


@pytest.mark.parametrize("max_seq_len", [64, 16])  # 16: 40 new tokens slide the window twice
def test_generate_with_the_graph_step_gives_the_same_tokens(monkeypatch, max_seq_len):
    model = Decoder(model_config("tiny", vocab_size=V, max_seq_len=max_seq_len)).eval()
    prompt = torch.randint(0, V, (3, 5))
    cfg = DecodeConfig(max_new_tokens=40, temperature=0)
    want = _tokens(model, prompt, cfg)
    made = []

    def eager_step_graph(*args, **kw):
        made.append(StepGraph(*args, **kw, capture=False))
        return made[-1]

    monkeypatch.setattr(gen_mod, "can_graph", lambda model, device: True)
    monkeypatch.setattr(gen_mod, "StepGraph", eager_step_graph)
    got = _tokens(model, prompt, cfg)
    assert len(made) == 1 and got.shape == (3, 40)
    assert torch.equal(got, want)
    sampled = DecodeConfig(max_new_tokens=20, temperature=0.8, top_k=10, seed=3)
    assert torch.equal(_tokens(model, prompt, sampled), torch.stack(list(_plain(model, prompt, sampled)), 1))
    made.clear()  # too few tokens to pay for a capture, or switched off: the eager loop
    _tokens(model, prompt, DecodeConfig(max_new_tokens=gen_mod.GRAPH_MIN_TOKENS - 1, temperature=0))
    list(_plain(model, prompt, cfg))
    assert made == []


def _plain(model, prompt, cfg):
    import dataclasses

    return gen_mod.generate_ids(model, prompt, dataclasses.replace(cfg, cuda_graphs=False))


def test_graphs_only_for_decoder_only_transformers_on_cuda():
    dec = Decoder(model_config("tiny", vocab_size=V))
    assert can_graph(dec, torch.device("cuda"))
    assert not can_graph(dec, torch.device("cpu"))
    assert not can_graph(EncoderDecoder(model_config("tiny", vocab_size=V)).decoder, torch.device("cuda"))
    for backend, ok in (("reference", True), ("tiled", True), ("linear", False), ("local:8", False)):
        model = Decoder(model_config("tiny", vocab_size=V, attn_backend=backend))
        assert can_graph(model, torch.device("cuda")) is ok, backend


def test_slot_cache_rejects_padding_and_wrong_slot_count():
    model = Decoder(model_config("tiny", vocab_size=V)).eval()
    step = StepGraph(model, 1, 8, capture=False)
    with pytest.raises(ValueError, match="slot-addressed cache takes"):
        model(torch.zeros(1, 2, dtype=torch.long), cache=step.cache)
    with pytest.raises(ValueError, match="does not fit the cache of 8"):
        step.prefill(torch.zeros(1, 9, dtype=torch.long))


def test_compiled_cpu_step_gives_the_same_tokens_and_compiles_once(monkeypatch):
    """``decode.compile``: the slot step through torch.compile (Dynamo with the eager backend here,
    so the test checks the tracing and the reuse without paying for inductor's C++ build)."""
    import dataclasses

    from attnkit.decode import graphs

    compiles = []

    def counting_backend(gm, example_inputs):
        compiles.append(len(gm.graph.nodes))
        return gm.forward

    torch._dynamo.reset()
    step_fn = torch.compile(graphs._step_fn, backend=counting_backend, dynamic=False)
    monkeypatch.setattr(graphs, "compiled_step", lambda: step_fn)
    model = Decoder(model_config("tiny", vocab_size=V, positions="rope", n_kv_heads=2)).eval()
    cfg = DecodeConfig(max_new_tokens=30, temperature=0, compile=True)
    for length in (5, 9):  # two prompt lengths, one cache bucket: one compiled program
        prompt = torch.randint(0, V, (1, length))
        got = _tokens(model, prompt, cfg)
        want = _tokens(model, prompt, dataclasses.replace(cfg, compile=False))
        assert got.shape == (1, 30) and torch.equal(got, want)
    assert len(compiles) == 1 and compiles[0] > 50  # one whole-step graph, no breaks
    assert graphs.can_graph(model, torch.device("cpu"), "cpu")
    assert not graphs.can_graph(model, torch.device("cpu"))  # CUDA graphs stay CUDA-only
