"""Tiny random HF BERT and LLaMA directories (weights, config, tokenizer), built once per module."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "a", "big", "red", "##s", "##ing"]


def _wordpiece(d) -> None:
    """A tiny BERT WordPiece tokenizer.json plus the special-token map, as HF directories have."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.save(str(d / "tokenizer.json"))
    roles = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]"}
    (d / "special_tokens_map.json").write_text(json.dumps(roles))


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("bert")
    cfg = transformers.BertConfig(
        vocab_size=5 + len(WORDS), hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=96, max_position_embeddings=64, type_vocab_size=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    hf = transformers.BertModel(cfg, add_pooling_layer=False).eval()
    hf.save_pretrained(d, safe_serialization=True)
    _wordpiece(d)
    return d, hf


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("llama")
    cfg = transformers.LlamaConfig(
        vocab_size=101, hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=112, max_position_embeddings=128, rope_theta=50000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False,
    )  # fmt: skip
    hf = transformers.LlamaForCausalLM(cfg).eval()
    hf.save_pretrained(d, safe_serialization=True)
    _word_level(d, cfg.vocab_size)
    return d, hf


LM_WORDS = ["<unk>", "<s>", "</s>", "Text:", "Label:", "Classify", "each", "text", "as", "one", "of:",
            "good", "bad", "great", "awful", "movie", "film", "positive", "negative", "very", "plot",
            "the", "was", ",", "."]  # fmt: skip


def _word_level(d, vocab_size: int) -> None:
    """A whitespace word-level tokenizer.json over LM_WORDS (ids beyond it are unused)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(LM_WORDS)}
    assert len(vocab) <= vocab_size
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()  # no decoder: tokens join with spaces
    tok.save(str(d / "tokenizer.json"))
    roles = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
    (d / "special_tokens_map.json").write_text(json.dumps(roles))


CHAT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PAIR_TEXTS = [
    "Anna: are you coming tonight?\nBen: yes, at eight.", "Ben will come at eight.",
    "Tom: I lost my keys.\nSue: check the car.", "Tom lost his keys.",
    "Max: lunch at noon?\nIda: sure, the usual place.", "Max and Ida meet for lunch.",
]  # fmt: skip


@pytest.fixture(scope="module")
def chat_llama_dir(tmp_path_factory):
    """A tiny random LLaMA with a byte-level BPE tokenizer that has ChatML's special tokens, as
    SmolLM2-Instruct has (so ChatML prompts round-trip)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("chat_llama")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=CHAT_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(PAIR_TEXTS * 4 + ["Summarize the following text.\n\n"], trainer)
    tok.save(str(d / "tokenizer.json"))
    roles = {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>"}
    (d / "special_tokens_map.json").write_text(json.dumps(roles))
    cfg = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=112, max_position_embeddings=256, rope_theta=10000.0,
        rms_norm_eps=1e-6, tie_word_embeddings=True,
    )  # fmt: skip
    hf = transformers.LlamaForCausalLM(cfg).eval()
    hf.save_pretrained(d, safe_serialization=True)
    return d
