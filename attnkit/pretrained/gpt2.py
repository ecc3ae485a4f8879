"""GPT-2 (HF ``GPT2LMHeadModel`` state dicts) -> attnkit ``Decoder``.

GPT-2 is a pre-norm decoder with learned positions, biases everywhere, LayerNorm eps 1e-5, the
tanh GELU and a tied head, so it maps onto ``ModelConfig`` without special cases. Two layout
differences are converted here: GPT-2's ``Conv1D`` stores weights as (in, out), the transpose of
``nn.Linear``, and its ``c_attn`` packs q, k and v into one (C, 3C) matrix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attnkit.config.model import ModelConfig
from attnkit.models.decoder import Decoder


def config_from_gpt2(hf_config: Any) -> ModelConfig:
    """ModelConfig equal to an HF ``GPT2Config``.

    Raises:
        ValueError: for GPT-2 options attnkit does not model, naming the config field.
    """
    if getattr(hf_config, "activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh", "gelu"):
        raise ValueError(f"GPT2Config.activation_function={hf_config.activation_function!r} is not supported")
    if getattr(hf_config, "scale_attn_by_inverse_layer_idx", False) or getattr(
        hf_config, "reorder_and_upcast_attn", False
    ):
        raise ValueError(
            "GPT2Config.scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported"
        )
    return ModelConfig(
        vocab_size=hf_config.vocab_size,
        d_model=hf_config.n_embd,
        n_layers=hf_config.n_layer,
        n_heads=hf_config.n_head,
        d_ff=hf_config.n_inner or 4 * hf_config.n_embd,
        max_seq_len=hf_config.n_positions,
        norm_eps=hf_config.layer_norm_epsilon,
        mlp="gelu" if hf_config.activation_function == "gelu" else "gelu_tanh",
        positions="learned",
        tie_embeddings=True,
    )


def decoder_from_gpt2(hf_model: Any) -> Decoder:
    """An attnkit Decoder computing what ``hf_model`` (a GPT2LMHeadModel) computes."""
    return decoder_from_gpt2_state(hf_model.config, hf_model.state_dict())


def decoder_from_gpt2_state(hf_config: Any, sd: dict[str, Tensor]) -> Decoder:
    """The same from a config object and a ``GPT2LMHeadModel`` state dict (e.g. from safetensors)."""
    cfg = config_from_gpt2(hf_config)
    if not any(k.startswith("transformer.") for k in sd):  # a bare GPT2Model has no prefix
        sd = {f"transformer.{k}": v for k, v in sd.items()}
    c = cfg.d_model
    out: dict[str, Tensor] = {
        "embed.tok.weight": sd["transformer.wte.weight"],
        "embed.pos.weight": sd["transformer.wpe.weight"],
        "norm.weight": sd["transformer.ln_f.weight"],
        "norm.bias": sd["transformer.ln_f.bias"],
    }
    for i in range(cfg.n_layers):
        h, o = f"transformer.h.{i}.", f"layers.{i}."
        w_qkv, b_qkv = sd[h + "attn.c_attn.weight"], sd[h + "attn.c_attn.bias"]  # (C, 3C), (3C,)
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            out[o + f"self_attn.{name}.weight"] = w_qkv[
                :, j * c : (j + 1) * c
            ].t()  # Conv1D (in, out) -> Linear
            out[o + f"self_attn.{name}.bias"] = b_qkv[j * c : (j + 1) * c]
        pairs = {
            "self_attn.out_proj": "attn.c_proj",
            "ffn.up_proj": "mlp.c_fc",
            "ffn.down_proj": "mlp.c_proj",
        }
        for ours, theirs in pairs.items():
            out[o + ours + ".weight"] = sd[h + theirs + ".weight"].t()
            out[o + ours + ".bias"] = sd[h + theirs + ".bias"]
        for ours, theirs in (("self_attn_norm", "ln_1"), ("ffn_norm", "ln_2")):
            out[o + ours + ".weight"] = sd[h + theirs + ".weight"]
            out[o + ours + ".bias"] = sd[h + theirs + ".bias"]
    model = Decoder(cfg)
    with torch.no_grad():
        missing, unexpected = model.load_state_dict({k: v.contiguous() for k, v in out.items()}, strict=False)
    # The head is tied to embed.tok, so it is filled through it.
    if [m for m in missing if m != "lm_head.weight"] or unexpected:
        raise ValueError(f"GPT-2 conversion left missing={missing}, unexpected={unexpected}")
    return model
