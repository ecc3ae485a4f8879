"""HF-format import: tiny random BERT and LLaMA models saved in the test, compared with transformers."""

from __future__ import annotations

import json

import pytest
import torch

import attnkit
from attnkit.decode import greedy_generate
from attnkit.pretrained.convert import model_from_hf_dir


def test_bert_hidden_states_match_transformers(bert_dir):
    d, hf = bert_dir
    ours, _ = model_from_hf_dir(d)
    assert (ours.cfg.norm_position, ours.cfg.type_vocab_size, ours.cfg.embed_norm) == ("post", 2, True)
    ids = torch.randint(5, hf.config.vocab_size, (3, 11))
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, 7:] = False  # a padded row
    ids[1, 7:] = 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1  # a sentence pair
    with torch.no_grad():
        want = hf(ids, attention_mask=mask.long(), token_type_ids=types).last_hidden_state
        got = ours(ids, padding_mask=mask, token_types=types).hidden
    torch.testing.assert_close(got[mask], want[mask], atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # no token types = segment 0, as in HF
        torch.testing.assert_close(ours(ids[:1]).hidden, hf(ids[:1]).last_hidden_state, atol=1e-4, rtol=1e-4)


def test_bert_directory_loads_with_its_tokenizer_and_embeds(bert_dir):
    d, hf = bert_dir
    m = attnkit.load(d)
    assert m.cfg.task == "embedding"
    tok = m.tokenizer
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    ids = tok.encode("The cats sat", add_bos=True, add_eos=True)
    assert ids == [2, 5, 6, 15, 7, 3]  # [CLS] the cat ##s sat [SEP]
    assert tok.decode(ids) == "the cats sat"
    texts = ["the cat sat on a mat", "a big red dog ran"]
    e = m.embed(texts)
    batch = [tok.encode(t, add_bos=True, add_eos=True) for t in texts]
    width = max(map(len, batch))
    x = torch.tensor([b + [0] * (width - len(b)) for b in batch])
    att = (x != 0).long()
    with torch.no_grad():
        h = hf(x, attention_mask=att).last_hidden_state
    want = torch.nn.functional.normalize((h * att[..., None]).sum(1) / att.sum(1, keepdim=True), dim=-1)
    torch.testing.assert_close(e, want, atol=1e-4, rtol=1e-4)
    assert e.shape == (2, 48)


def test_llama_logits_and_greedy_tokens_match_transformers(llama_dir):
    d, hf = llama_dir
    ours, _ = model_from_hf_dir(d)
    assert (ours.cfg.kv_heads, ours.cfg.rope_theta, ours.cfg.tie_embeddings) == (2, 50000.0, False)
    ids = torch.randint(0, 101, (2, 17))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, hf(ids).logits, atol=1e-4, rtol=1e-4)
        got = greedy_generate(ours, ids[:1], 12)
        want = hf.generate(
            ids[:1], attention_mask=torch.ones_like(ids[:1]), max_new_tokens=12, do_sample=False,
            eos_token_id=None, pad_token_id=0,
        )  # fmt: skip
    assert torch.equal(got, want)


def test_unsupported_configs_name_the_field(tmp_path, llama_dir):
    d, _ = llama_dir
    cfg = json.loads((d / "config.json").read_text())
    cases = [
        ({"model_type": "t5"}, "model_type='t5' is not supported"),
        ({"hidden_act": "gelu"}, "hidden_act='gelu' is not supported"),
        ({"rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling="),
        ({"rope_parameters": {"rope_type": "yarn"}}, "rope_parameters.rope_type='yarn'"),
        ({"attention_bias": True}, "attention_bias=True"),
    ]
    for i, (change, message) in enumerate(cases):
        e = tmp_path / f"case{i}"
        e.mkdir()
        (e / "config.json").write_text(json.dumps({**cfg, **change}))
        (e / "model.safetensors").symlink_to(d / "model.safetensors")
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
            model_from_hf_dir(e)


def test_pickled_weights_are_refused_and_missing_files_named(tmp_path, llama_dir):
    d, _ = llama_dir
    (tmp_path / "config.json").write_text((d / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(ValueError, match="safetensors only"):
        model_from_hf_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"or an HF-format directory with config\.json"):
        attnkit.load(tmp_path / "nothing-here")
    (tmp_path / "pytorch_model.bin").unlink()
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        model_from_hf_dir(tmp_path)
