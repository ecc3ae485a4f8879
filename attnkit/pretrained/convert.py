"""HF-format checkpoints (``config.json`` + safetensors) -> attnkit's own Encoder and Decoder.

Each supported family maps onto ModelConfig options, not special cases:

- **BERT** (``model_type: bert``, e.g. all-MiniLM-L6-v2): post-LayerNorm blocks, learned
  absolute positions, token-type embeddings and an embedding LayerNorm (``type_vocab_size``,
  ``embed_norm``), exact GELU, biases everywhere -> :class:`Encoder`.
- **LLaMA** (``model_type: llama``, e.g. SmolLM2): pre-RMSNorm blocks, RoPE (rotate-half layout,
  ``rope_theta``), grouped-query attention, SwiGLU, no biases, optionally tied head ->
  :class:`Decoder`.
- **GPT-2** (``model_type: gpt2``): see :mod:`attnkit.pretrained.gpt2`.

Options attnkit does not model raise ValueError naming the config field and its value. Only
safetensors weights are read: pickled ``pytorch_model.bin`` files are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from attnkit.config.model import ModelConfig
from attnkit.models.base import AttnkitModel
from attnkit.models.decoder import Decoder
from attnkit.models.encoder import Encoder

SUPPORTED = ("bert", "llama", "gpt2")


def read_config(d: Path) -> dict[str, Any]:
    p = d / "config.json"
    if not p.is_file():
        raise FileNotFoundError(f"{d} has no config.json: not an HF-format model directory")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{p} is not valid JSON: {e}") from None


def read_weights(d: Path) -> dict[str, Tensor]:
    """All tensors of ``model.safetensors`` or of the shards its index lists."""
    single, index = d / "model.safetensors", d / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    elif index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        files = [d / s for s in shards]
    elif any(d.glob("*.bin")) or any(d.glob("*.pt")):
        raise ValueError(
            f"{d} has only pickled PyTorch weights; attnkit reads safetensors only (no pickle). "
            "Convert them where you trust the file, e.g. save_pretrained(..., safe_serialization=True)"
        )
    else:
        raise FileNotFoundError(f"{d} has no model.safetensors")
    sd: dict[str, Tensor] = {}
    for f in files:
        try:
            sd.update(load_file(str(f)))
        except Exception as e:  # safetensors raises its own error types for corrupt headers
            raise ValueError(f"{f} is not a readable safetensors file: {e}") from None
    return sd


def _need(c: dict[str, Any], field: str, allowed: tuple, family: str) -> None:
    value = c.get(field, allowed[0])
    if value not in allowed:
        raise ValueError(
            f"{family} config.json {field}={value!r} is not supported; attnkit handles {allowed}"
        )


def bert_config(c: dict[str, Any]) -> ModelConfig:
    _need(c, "hidden_act", ("gelu", "gelu_new"), "BERT")
    _need(c, "position_embedding_type", ("absolute",), "BERT")
    _need(c, "is_decoder", (False,), "BERT")
    return ModelConfig(
        vocab_size=c["vocab_size"],
        d_model=c["hidden_size"],
        n_layers=c["num_hidden_layers"],
        n_heads=c["num_attention_heads"],
        d_ff=c["intermediate_size"],
        max_seq_len=c["max_position_embeddings"],
        norm="layernorm",
        norm_eps=c.get("layer_norm_eps", 1e-12),
        norm_position="post",
        mlp="gelu" if c.get("hidden_act", "gelu") == "gelu" else "gelu_tanh",
        positions="learned",
        bias=True,
        type_vocab_size=c.get("type_vocab_size", 2),
        embed_norm=True,
        pad_id=c.get("pad_token_id", 0),
        pooling="mean",
    )


def llama_config(c: dict[str, Any]) -> ModelConfig:
    _need(c, "hidden_act", ("silu",), "LLaMA")
    _need(c, "rope_scaling", (None,), "LLaMA")
    rope = c.get("rope_parameters") or {}  # newer config files nest theta and the scaling type here
    if rope.get("rope_type", "default") != "default":
        raise ValueError(
            f"LLaMA config.json rope_parameters.rope_type={rope['rope_type']!r} is not supported; "
            "attnkit handles ('default',)"
        )
    _need(c, "attention_bias", (False,), "LLaMA")
    _need(c, "mlp_bias", (False,), "LLaMA")
    heads = c["num_attention_heads"]
    head_dim = c.get("head_dim") or c["hidden_size"] // heads
    if head_dim * heads != c["hidden_size"]:
        raise ValueError(
            f"LLaMA config.json head_dim={head_dim} x {heads} heads != hidden_size={c['hidden_size']}"
        )
    return ModelConfig(
        vocab_size=c["vocab_size"],
        d_model=c["hidden_size"],
        n_layers=c["num_hidden_layers"],
        n_heads=heads,
        n_kv_heads=c.get("num_key_value_heads") or heads,
        d_ff=c["intermediate_size"],
        max_seq_len=c.get("max_position_embeddings", 2048),
        norm="rmsnorm",
        norm_eps=c.get("rms_norm_eps", 1e-6),
        norm_position="pre",
        mlp="swiglu",
        positions="rope",
        rope_theta=float(rope.get("rope_theta", c.get("rope_theta", 10000.0))),
        bias=False,
        tie_embeddings=bool(c.get("tie_word_embeddings", False)),
    )


def _strip(sd: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in sd.items()}


def encoder_from_bert(c: dict[str, Any], sd: dict[str, Tensor]) -> Encoder:
    cfg = bert_config(c)
    sd = _strip(sd, "bert.")
    e = "embeddings."
    out = {
        "embed.tok.weight": sd[e + "word_embeddings.weight"],
        "embed.pos.weight": sd[e + "position_embeddings.weight"],
        "embed.types.weight": sd[e + "token_type_embeddings.weight"],
        "embed.norm.weight": sd[e + "LayerNorm.weight"],
        "embed.norm.bias": sd[e + "LayerNorm.bias"],
    }
    pairs = {
        "self_attn.q_proj": "attention.self.query",
        "self_attn.k_proj": "attention.self.key",
        "self_attn.v_proj": "attention.self.value",
        "self_attn.out_proj": "attention.output.dense",
        "self_attn_norm": "attention.output.LayerNorm",  # post-norm: after the attention residual
        "ffn.up_proj": "intermediate.dense",
        "ffn.down_proj": "output.dense",
        "ffn_norm": "output.LayerNorm",
    }
    for i in range(cfg.n_layers):
        for ours, theirs in pairs.items():
            for p in ("weight", "bias"):
                out[f"layers.{i}.{ours}.{p}"] = sd[f"encoder.layer.{i}.{theirs}.{p}"]
    return _fill(Encoder(cfg), out, "BERT")


def decoder_from_llama(c: dict[str, Any], sd: dict[str, Tensor]) -> Decoder:
    cfg = llama_config(c)
    out = {"embed.tok.weight": sd["model.embed_tokens.weight"], "norm.weight": sd["model.norm.weight"]}
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["lm_head.weight"]
    pairs = {
        "self_attn.q_proj": "self_attn.q_proj",
        "self_attn.k_proj": "self_attn.k_proj",
        "self_attn.v_proj": "self_attn.v_proj",
        "self_attn.out_proj": "self_attn.o_proj",
        "self_attn_norm": "input_layernorm",
        "ffn.gate_proj": "mlp.gate_proj",
        "ffn.up_proj": "mlp.up_proj",
        "ffn.down_proj": "mlp.down_proj",
        "ffn_norm": "post_attention_layernorm",
    }
    for i in range(cfg.n_layers):
        for ours, theirs in pairs.items():
            out[f"layers.{i}.{ours}.weight"] = sd[f"model.layers.{i}.{theirs}.weight"]
    return _fill(Decoder(cfg), out, "LLaMA")


def _fill(model: AttnkitModel, weights: dict[str, Tensor], family: str) -> AttnkitModel:
    own = model.state_dict()
    for k, v in weights.items():
        if k in own and own[k].shape != v.shape:
            raise ValueError(
                f"{family} weight for {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    with torch.no_grad():
        missing, unexpected = model.load_state_dict(
            {k: v.float().contiguous() for k, v in weights.items()}, strict=False
        )
    tied = {"lm_head.weight"} if getattr(model.cfg, "tie_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ValueError(
            f"{family} conversion left missing={sorted(missing)}, unexpected={sorted(unexpected)}"
        )
    return model.eval()


def model_from_hf_dir(path: str | Path) -> tuple[AttnkitModel, dict[str, Any]]:
    """The attnkit model an HF-format directory describes, with its weights, and the raw config.

    Raises:
        FileNotFoundError: no config.json or no safetensors weights.
        ValueError: an unsupported ``model_type`` or option (named), or weights that do not fit.
    """
    d = Path(path)
    c = read_config(d)
    kind = c.get("model_type")
    if kind not in SUPPORTED:
        raise ValueError(
            f"{d / 'config.json'} model_type={kind!r} is not supported; attnkit imports {SUPPORTED}"
        )
    sd = read_weights(d)
    if kind == "bert":
        return encoder_from_bert(c, sd), c
    if kind == "llama":
        return decoder_from_llama(c, sd), c
    from attnkit.pretrained.gpt2 import decoder_from_gpt2_state

    defaults = {"n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    return decoder_from_gpt2_state(SimpleNamespace(**{**defaults, **c}), sd), c
