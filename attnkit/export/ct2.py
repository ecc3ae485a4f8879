"""CTranslate2 export: attnkit's ``Decoder`` and ``EncoderDecoder`` as CTranslate2 Transformer specs.

The mapping follows CTranslate2's own converters: self-attention's q/k/v projections become one
fused linear, cross-attention keeps q alone and fuses k/v, each sub-layer's norm sits in its
attention or FFN spec, and the position table is written out explicitly (learned or sinusoidal,
so CTranslate2 never substitutes its own sinusoid layout). Token ids become vocabulary entries
named by number (``"17"``), so attnkit's tokenizer stays the one that turns text into ids and
back; the specials are named in the model's config.

Refused with the option named: embedding norms, token types, GELU-tanh, LoRA adapters, and
speech models (their audio front end has no CTranslate2 spec).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from attnkit.models.decoder import Decoder
from attnkit.models.seq2seq import EncoderDecoder


def _np(t: torch.Tensor) -> np.ndarray:
    # A copy: CTranslate2 quantizes its arrays in place, which must not reach the model's weights.
    return t.detach().float().cpu().numpy().copy()


def check_ct2(model: nn.Module) -> str | None:
    """Why CTranslate2 cannot hold ``model``, or None when it can."""
    from attnkit.models.speech import SpeechEncoderDecoder

    if isinstance(model, SpeechEncoderDecoder):
        return "a speech model's audio front end has no CTranslate2 spec; use --format onnx for encoders only"
    if not isinstance(model, (Decoder, EncoderDecoder)) or model.cfg.arch != "transformer":
        return f"CTranslate2 holds Transformer decoders and encoder-decoders, not {type(model).__name__}"
    cfg = model.cfg
    if cfg.embed_norm or cfg.type_vocab_size:
        return "embedding norms and token types (BERT-style inputs) have no CTranslate2 equivalent"
    if cfg.lora_rank:
        return "merge or drop the LoRA adapters (model.lora_rank=0) before exporting"
    if any(getattr(m, "approximate", "none") != "none" for m in model.modules()):
        return "GELU-tanh MLPs are not exported; CTranslate2 is given exact GELU"
    if cfg.positions == "none":
        return "a model without positions (positions: none) has no CTranslate2 equivalent"
    return None


def _linear(spec, *linears: nn.Linear) -> None:
    """Set ``spec`` to the given linears stacked along outputs (q/k/v fused, as CTranslate2 wants)."""
    spec.weight = np.concatenate([_np(lin.weight) for lin in linears])
    if linears[0].bias is not None:
        spec.bias = np.concatenate([_np(lin.bias) for lin in linears])


def _norm(spec, norm: nn.Module) -> None:
    spec.gamma = _np(norm.weight)
    if getattr(norm, "bias", None) is not None:
        spec.beta = _np(norm.bias)


def _ffn(spec, ffn: nn.Module) -> None:
    if hasattr(ffn, "gate_proj"):  # SwiGLU: silu(gate) * up
        _linear(spec.linear_0, ffn.gate_proj)
        _linear(spec.linear_0_noact, ffn.up_proj)
    else:
        _linear(spec.linear_0, ffn.up_proj)
    _linear(spec.linear_1, ffn.down_proj)


def _stack(spec, stack: nn.Module, *, cross: bool) -> None:
    """Embeddings, positions, layers and final norm of one attnkit stack into a CT2 stack spec."""
    emb = spec.embeddings[0] if isinstance(spec.embeddings, list) else spec.embeddings
    emb.weight = _np(stack.embed.tok.weight)
    spec.scale_embeddings = stack.embed.scale != 1.0
    if stack.embed.pos is not None:  # learned or sinusoidal: the table itself, exactly
        table = stack.embed.pos.weight if hasattr(stack.embed.pos, "weight") else stack.embed.pos.table
        spec.position_encodings.encodings = _np(table)
    if hasattr(spec, "layer_norm"):  # pre-norm stacks end with a norm; post-norm ones do not
        _norm(spec.layer_norm, stack.norm)
    for layer_spec, layer in zip(spec.layer, stack.layers, strict=True):
        attn = layer.self_attn
        _norm(layer_spec.self_attention.layer_norm, layer.self_attn_norm)
        _linear(layer_spec.self_attention.linear[0], attn.q_proj, attn.k_proj, attn.v_proj)
        _linear(layer_spec.self_attention.linear[1], attn.out_proj)
        if cross:
            x = layer.cross_attn
            _norm(layer_spec.attention.layer_norm, layer.cross_attn_norm)
            _linear(layer_spec.attention.linear[0], x.q_proj)
            _linear(layer_spec.attention.linear[1], x.k_proj, x.v_proj)
            _linear(layer_spec.attention.linear[2], x.out_proj)
        _norm(layer_spec.ffn.layer_norm, layer.ffn_norm)
        _ffn(layer_spec.ffn, layer.ffn)


def _common(cfg) -> dict:
    from ctranslate2.specs import common_spec

    glu = cfg.mlp == "swiglu"
    return {
        "pre_norm": cfg.norm_position == "pre",
        "activation": common_spec.Activation.SWISH if glu else common_spec.Activation.GELU,
        "ffn_glu": glu,
        "rms_norm": cfg.norm == "rmsnorm",
    }


def vocabulary(size: int) -> list[str]:
    """Token id ``i`` is the vocabulary entry ``str(i)``."""
    return [str(i) for i in range(size)]


def decoder_spec(model: Decoder, bos: int, eos: int, unk: int):
    from ctranslate2.specs import transformer_spec

    cfg = model.cfg
    rope = cfg.positions == "rope"
    spec = transformer_spec.TransformerDecoderModelSpec.from_config(
        cfg.n_layers, cfg.n_heads, **_common(cfg),
        rotary_dim=0 if rope else None, rotary_interleave=False, rotary_base=cfg.rope_theta,
        num_heads_kv=cfg.kv_heads if cfg.kv_heads != cfg.n_heads else None,
    )  # fmt: skip
    spec.config.layer_norm_epsilon = cfg.norm_eps
    spec.config.bos_token, spec.config.eos_token, spec.config.unk_token = str(bos), str(eos), str(unk)
    _stack(spec.decoder, model, cross=False)
    _linear(spec.decoder.projection, model.lm_head)
    spec.register_vocabulary(vocabulary(cfg.vocab_size))
    return spec


def seq2seq_spec(model: EncoderDecoder, bos: int, eos: int, unk: int):
    from ctranslate2.specs import transformer_spec

    cfg = model.cfg
    n_enc = cfg.n_encoder_layers or cfg.n_layers
    spec = transformer_spec.TransformerSpec.from_config((n_enc, cfg.n_layers), cfg.n_heads, **_common(cfg))
    spec.config.layer_norm_epsilon = cfg.norm_eps
    spec.config.bos_token, spec.config.eos_token, spec.config.unk_token = str(bos), str(eos), str(unk)
    spec.config.decoder_start_token = str(bos)
    _stack(spec.encoder, model.encoder, cross=False)
    _stack(spec.decoder, model.decoder, cross=True)
    _linear(spec.decoder.projection, model.decoder.lm_head)
    spec.register_source_vocabulary(vocabulary(model.encoder.embed.tok.weight.shape[0]))
    spec.register_target_vocabulary(vocabulary(cfg.vocab_size))
    return spec


def write(model: nn.Module, out: Path, *, bos: int, eos: int, unk: int, quantize: str) -> None:
    """Convert and save ``model`` to ``out`` (a new directory); ``quantize`` int8 stores int8
    weights (CTranslate2's ``int8_float32``)."""
    build = decoder_spec if isinstance(model, Decoder) else seq2seq_spec
    spec = build(model, bos, eos, unk)
    spec.validate()
    spec.optimize(quantization="int8_float32" if quantize == "int8" else None)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
