"""``attnkit demo``: build tiny models of each family, run them once, show their attention.

The weights are random (training arrives with the language-modeling recipes), so the maps show
structure, not meaning: causal triangles, padding columns, cross-attention rectangles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from attnkit.attention import capture_attention
from attnkit.config import apply_overrides
from attnkit.decode import greedy_generate, greedy_seq2seq
from attnkit.models import Decoder, Encoder, EncoderDecoder, model_config

_SHADES = " .:-=+*#%@"


def ascii_heatmap(w: Tensor, max_size: int = 12) -> str:
    """A (T, S) weight matrix as characters; each row scaled to its own max, darker = more."""
    w = w[:max_size, :max_size].float()
    top = len(_SHADES) - 1
    rows = []
    for row in w:
        scale = float(row.max()) or 1.0
        rows.append("".join(_SHADES[min(top, round(float(x) / scale * top))] * 2 for x in row))
    return "\n".join("      |" + r + "|" for r in rows)


def run_demo(
    families: Sequence[str] | None = None,
    preset: str = "tiny",
    overrides: Sequence[str] = (),
    seed: int = 0,
) -> int:
    torch.manual_seed(seed)
    families = list(families or ["encoder", "decoder", "seq2seq"])
    base = model_config(preset, vocab_size=256, pad_id=0)
    cfg = apply_overrides(base, overrides)
    print(f"attnkit demo: preset={preset}, backend={cfg.attn_backend}, random weights, seed={seed}")
    b, t = 2, 10
    ids = torch.randint(1, cfg.vocab_size, (b, t))
    ids[1, 7:] = cfg.pad_id if cfg.pad_id is not None else ids[1, 7:]  # row 1 is padded to length 7
    for fam in families:
        if fam == "encoder":
            model = Encoder(cfg).eval()
            with torch.no_grad(), capture_attention(model) as cap:
                out = model(ids)
            maps = {"self_attn": cap.stack("layers")}
            shapes = f"ids {tuple(ids.shape)} -> hidden {tuple(out.hidden.shape)}"
            note = "row 1 is padded after token 7: its last 3 columns get weight 0"
        elif fam == "decoder":
            model = Decoder(cfg).eval()
            with torch.no_grad(), capture_attention(model) as cap:
                out = model(ids)
            maps = {"self_attn": cap.stack("layers")}
            shapes = f"ids {tuple(ids.shape)} -> logits {tuple(out.logits.shape)}"
            cached = greedy_generate(model, ids[:1], 8)
            full = greedy_generate(model, ids[:1], 8, use_cache=False)
            note = f"greedy tokens with KV cache == without: {bool(torch.equal(cached, full))}"
        else:
            model = EncoderDecoder(cfg).eval()
            tgt = torch.randint(1, cfg.vocab_size, (b, 6))
            with torch.no_grad(), capture_attention(model) as cap:
                out = model(ids, tgt)
            maps = {
                "encoder self_attn": cap.stack("encoder"),
                "decoder self_attn": cap.stack("decoder", "self_attn"),
                "decoder cross_attn": cap.stack("decoder", "cross_attn"),
            }
            shapes = f"src {tuple(ids.shape)}, tgt {tuple(tgt.shape)} -> logits {tuple(out.logits.shape)}"
            cached = greedy_seq2seq(model, ids, 1, 8)
            full = greedy_seq2seq(model, ids, 1, 8, use_cache=False)
            note = f"greedy tokens with KV cache == without: {bool(torch.equal(cached, full))}"
        print(
            f"\n{fam}: {model.num_parameters():,} parameters "
            f"({model.num_parameters(exclude_embeddings=True):,} without embeddings)"
        )
        print(f"  {shapes}")
        for name, w in maps.items():
            print(f"  {name} maps (L, B, H, T, S) = {tuple(w.shape)}")
        last = list(maps.values())[-1]
        print(f"  {note}")
        print(f"  {list(maps)[-1]}, layer 0, head 0, sequence 1:")
        print(ascii_heatmap(last[0, 1, 0]))
    return 0
