"""Language-model speed: attnkit against HF transformers and a minimal nanoGPT-style loop.

    .venv/bin/python benchmarks/lm_speed.py            # full run; updates RESULTS.md
    .venv/bin/python benchmarks/lm_speed.py --quick    # fewer rounds, prints only

Training: tokens/s of one optimizer step (forward, backward, clip, AdamW) on random tokens, same
shapes for all three: attnkit's ``Trainer.train_step``, HF ``GPT2LMHeadModel`` in a plain loop, and
a nanoGPT-style model in a plain loop. Generation: new tokens/s of greedy decoding with a KV cache,
attnkit ``generate_ids`` against HF ``generate`` (use_cache=True, exactly N new tokens), at batch 1
and 8. Implementations are interleaved round-robin in one process, order rotated per round;
reported figures are medians, ratios are medians of per-round ratios. One thread by default.
The bf16 rows measure the CPU's AMX-bf16 lever: autocast for training, bf16 weights for decoding,
with the accuracy cost (loss difference, greedy-token agreement) beside the speed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from results_md import update_section  # noqa: E402

from attnkit.config import DecodeConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from attnkit.decode import generate_ids  # noqa: E402
from attnkit.models import Decoder  # noqa: E402
from attnkit.training.trainer import Trainer  # noqa: E402


# --- a minimal nanoGPT-style model (one file, fused qkv, SDPA) -----------------------------------
class NanoBlock(nn.Module):
    def __init__(self, c: int, h: int):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc, self.proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.c_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    def __init__(self, v: int, c: int, n_layer: int, h: int, t: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(t, c)
        self.blocks = nn.ModuleList(NanoBlock(c, h) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, v, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


# --- helpers -------------------------------------------------------------------------------------
class RandomTokens:
    """A synthetic task for Trainer.train_step: random (B, T) windows."""

    family = "decoder"

    def __init__(self, v, t):
        self.v, self.t = v, t

    def train_batch(self, gen, b):
        x = torch.randint(0, self.v, (b, self.t + 1), generator=gen)
        return {"x": x[:, :-1], "y": x[:, 1:]}

    def loss(self, model, batch, label_smoothing=0.0):
        logits = model(batch["x"]).logits
        return F.cross_entropy(logits.flatten(0, 1).float(), batch["y"].flatten()), batch["y"].numel()


def hf_gpt2(v, c, n_layer, h, t):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=v,
        n_embd=c,
        n_layer=n_layer,
        n_head=h,
        n_positions=max(t, 1024),
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function="gelu",
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(cfg)


@torch.no_grad()
def hf_greedy(hf, prompt: torch.Tensor, new: int) -> None:
    """HF ``generate``: greedy with its KV cache, exactly ``new`` tokens (no early stop)."""
    out = hf.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=new,
        min_new_tokens=new,
        do_sample=False,
        use_cache=True,
        pad_token_id=0,
    )
    assert out.shape[1] == prompt.shape[1] + new


def attnkit_cfg(v, c, n_layer, h, t) -> ModelConfig:
    return ModelConfig(vocab_size=v, d_model=c, n_layers=n_layer, n_heads=h, max_seq_len=max(t, 1024))


def interleave(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each fn, round-robin with the order rotated every round."""
    names = list(fns)
    per = {n: [] for n in names}
    for fn in fns.values():
        fn()  # warm-up
    for r in range(rounds):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            fns[n]()
            per[n].append(time.perf_counter() - t0)
    return per


def summarise(per, work: float, anchor: str) -> dict:
    out = {n: {"per_s": work / statistics.median(v)} for n, v in per.items()}
    for n in per:
        if n != anchor:
            ratios = [per[anchor][i] / per[n][i] for i in range(len(per[n]))]
            out[n]["vs_" + anchor] = statistics.median(ratios)
            out[n]["vs_" + anchor + "_range"] = [min(ratios), max(ratios)]
    return out


# --- training ------------------------------------------------------------------------------------
def speed_trainer(shape, b: int, precision: str, device: str) -> Trainer:
    """attnkit's Trainer on random tokens at ``shape``: clipping, AdamW, a constant rate."""
    v, c, n_layer, h, t = shape
    torch.manual_seed(0)
    tc = TrainConfig(batch_size=b, precision=precision, grad_clip=1.0, progress=False, device=device,
                     lr=1e-4, warmup_steps=0, schedule="constant")  # fmt: skip
    return Trainer(RunConfig(train=tc), RandomTokens(v, t), Decoder(attnkit_cfg(v, c, n_layer, h, t)))


def bench_training(shape, b, steps, rounds, precision="fp32") -> dict:
    v, c, n_layer, h, t = shape
    trainer = speed_trainer(shape, b, precision, "cpu")
    hf = hf_gpt2(v, c, n_layer, h, t)
    nano = NanoGPT(v, c, n_layer, h, max(t, 1024))  # same position table as the others
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in (("hf", hf), ("nano", nano))}
    gen = torch.Generator().manual_seed(0)
    ctx = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
        if precision == "bf16"
        else (lambda: torch.autocast("cpu", enabled=False))
    )

    def plain(name, model):
        def step():
            for _ in range(steps):
                x = torch.randint(0, v, (b, t + 1), generator=gen)
                with ctx():
                    out = model(x[:, :-1], labels=x[:, :-1]) if name == "hf" else None
                    loss = out.loss if name == "hf" else model(x[:, :-1], x[:, 1:])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opts[name].step()
                opts[name].zero_grad(set_to_none=True)

        return step

    def ours():
        for _ in range(steps):
            trainer.train_step(trainer.model)

    per = interleave({"attnkit": ours, "hf": plain("hf", hf), "nanogpt": plain("nano", nano)}, rounds)
    res = summarise(per, steps * b * t, "hf")
    res["attnkit"]["vs_nanogpt"] = statistics.median(
        [per["nanogpt"][i] / per["attnkit"][i] for i in range(rounds)]
    )
    res["params"] = {
        "attnkit": trainer.model.num_parameters(),
        "hf": sum(p.numel() for p in hf.parameters()),
        "nanogpt": sum(p.numel() for p in nano.parameters()),
    }
    return res


# --- generation ----------------------------------------------------------------------------------
def bench_generation(shape, b, prompt_len, new, rounds) -> dict:
    v, c, n_layer, h, t = shape
    torch.manual_seed(0)
    ours = Decoder(attnkit_cfg(v, c, n_layer, h, t)).eval()
    hf = hf_gpt2(v, c, n_layer, h, t).eval()
    prompt = torch.randint(0, v, (b, prompt_len))
    dcfg = DecodeConfig(max_new_tokens=new, temperature=0)

    @torch.no_grad()
    def run_ours():
        n = sum(1 for _ in generate_ids(ours, prompt, dcfg))
        assert n == new

    per = interleave({"attnkit": run_ours, "hf": lambda: hf_greedy(hf, prompt, new)}, rounds)
    return summarise(per, b * new, "hf")


def bf16_levers(shape, b, rounds) -> dict:
    """Speed and accuracy of bf16 on this CPU: training autocast and bf16 decoding weights."""
    v, c, n_layer, h, t = shape
    torch.manual_seed(0)
    model = Decoder(attnkit_cfg(v, c, n_layer, h, t))
    x = torch.randint(0, v, (b, t + 1))
    with torch.no_grad():
        fp32 = model(x[:, :-1], x[:, 1:]).loss.item()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = model(x[:, :-1], x[:, 1:]).loss.item()
    low = Decoder(attnkit_cfg(v, c, n_layer, h, t))
    low.load_state_dict(model.state_dict())
    low = low.to(torch.bfloat16).eval()
    model.eval()
    prompt = torch.randint(0, v, (1, 16))
    dcfg = DecodeConfig(max_new_tokens=64, temperature=0)
    with torch.no_grad():
        a = torch.cat(list(generate_ids(model, prompt, dcfg)))
        bb = torch.cat(list(generate_ids(low, prompt, dcfg)))
        per = interleave(
            {
                "fp32": lambda: list(generate_ids(model, prompt, dcfg)),
                "bf16": lambda: list(generate_ids(low, prompt, dcfg)),
            },
            rounds,
        )
    agree = int((a == bb).cumprod(0).sum())
    return {
        "loss_fp32": fp32,
        "loss_bf16_autocast": bf,
        "decode": summarise(per, 64, "fp32"),
        "greedy_tokens_identical_prefix": agree,
        "of": 64,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    import transformers

    transformers.logging.set_verbosity_error()
    rounds = 2 if a.quick else a.rounds
    char = (65, 384, 6, 6, 256)  # the 10.8M char model
    small = (8192, 384, 6, 6, 256)  # 6 layers / 384 / 8k vocab
    gpt2s = (50257, 768, 12, 12, 1024)
    res = {
        "date": datetime.date.today().isoformat(),
        "threads": a.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "rounds": rounds,
    }
    res["train_fp32"] = bench_training(char, 16, 1 if a.quick else 2, rounds)
    print("train fp32", json.dumps(res["train_fp32"]), flush=True)
    res["train_bf16"] = bench_training(char, 16, 1 if a.quick else 2, rounds, precision="bf16")
    print("train bf16", json.dumps(res["train_bf16"]), flush=True)
    for name, shape, b, new in (
        ("gen_6l_384_8k_b1", small, 1, 64),
        ("gen_6l_384_8k_b8", small, 8, 64),
        ("gen_gpt2s_b1", gpt2s, 1, 32),
        ("gen_gpt2s_b8", gpt2s, 8, 32),
    ):
        res[name] = bench_generation(shape, b, 16, new if not a.quick else 16, rounds)
        print(name, json.dumps(res[name]), flush=True)
    res["bf16_levers"] = bf16_levers(small, 8, rounds)
    print("bf16", json.dumps(res["bf16_levers"]), flush=True)
    if not a.quick:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "lm_speed.json").write_text(json.dumps(res, indent=1))
        print("wrote", HERE / "results" / "lm_speed.json")
        update_section("lm-speed", "Language-model speed (CPU)", markdown(res))


def _ratio(d: dict, key: str) -> str:
    lo, hi = d[key + "_range"]
    return f"{d[key]:.2f}× [{lo:.2f}–{hi:.2f}]"


def markdown(res: dict) -> str:
    lines = [
        "Command: `python benchmarks/lm_speed.py`  ",
        f"Machine: 2-core x86-64 CPU (AMX-bf16), {res['threads']} thread, torch {res['torch']}, "
        f"transformers {res['transformers']}, {res['date']}. Medians of {res['rounds']} interleaved "
        "rounds; ratios are medians of per-round ratios [min–max].",
        "",
        "Training, 10.8M char model (6 layers, 384, 6 heads, T=256, B=16), one optimizer step incl. "
        "clipping and AdamW:",
        "",
        "| precision | attnkit tok/s | HF GPT2LMHeadModel tok/s | nanoGPT-style loop tok/s "
        "| attnkit / HF | attnkit / nanoGPT |",
        "|---|---|---|---|---|---|",
    ]
    for prec in ("fp32", "bf16"):
        r = res[f"train_{prec}"]
        lines.append(
            f"| {prec} | {r['attnkit']['per_s']:,.0f} | {r['hf']['per_s']:,.0f} "
            f"| {r['nanogpt']['per_s']:,.0f} | {_ratio(r['attnkit'], 'vs_hf')} "
            f"| {r['attnkit']['vs_nanogpt']:.2f}× |"
        )
    lines += [
        "",
        "Generation, greedy with KV cache, 16-token prompt (exactly N new tokens, no early stop):",
        "",
        "| shape | batch | new tokens | attnkit tok/s | HF generate tok/s | attnkit / HF |",
        "|---|---|---|---|---|---|",
    ]
    shapes = {"gen_6l_384_8k": "6 layers / 384 / 8k vocab", "gen_gpt2s": "GPT-2 small (12 / 768 / 50257)"}
    for key, label in shapes.items():
        for b in (1, 8):
            r = res[f"{key}_b{b}"]
            n = 64 if key == "gen_6l_384_8k" else 32
            lines.append(
                f"| {label} | {b} | {n} | {r['attnkit']['per_s']:,.1f} | {r['hf']['per_s']:,.1f} "
                f"| {_ratio(r['attnkit'], 'vs_hf')} |"
            )
    bf = res["bf16_levers"]
    lines += [
        "",
        "bf16 on this CPU (6 layers / 384 / 8k vocab):",
        "",
        f"- training loss of one batch, fp32 {bf['loss_fp32']:.5f} vs bf16 autocast "
        f"{bf['loss_bf16_autocast']:.5f}; training speed in the table above.",
        f"- decoding with bf16 weights, batch 1: {bf['decode']['bf16']['per_s']:,.1f} tok/s vs fp32 "
        f"{bf['decode']['fp32']['per_s']:,.1f} ({_ratio(bf['decode']['bf16'], 'vs_fp32')}); greedy tokens "
        f"identical for the first {bf['greedy_tokens_identical_prefix']} of {bf['of']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
