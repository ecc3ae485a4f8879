"""LoRA fine-tuning step of SmolLM2-135M on SAMSum: attnkit against transformers + peft, side by side.

    python benchmarks/lora_finetune_speed.py [--threads 2] [--rounds 5] [--batch 8] [--no-write]

The same model (the dequantized SmolLM2-135M-Instruct both load), the same batch (``--batch``
SAMSum training pairs in the recipe's ChatML prompt, neighbours in length order, right-padded),
the same adapters (rank 16, alpha 32, on every attention and MLP projection), AdamW at lr 1e-4,
one optimizer step per timed call. Variants:

- ``attnkit bf16``: the recipe's step (``summarization-lm`` loss: the output head on target
  positions only; bf16 autocast);
- ``attnkit bf16, full head``: the same with logits at every position (what HF computes);
- ``attnkit fp32``;
- ``hf+peft bf16`` and ``hf+peft fp32``: ``LlamaForCausalLM`` + ``peft.get_peft_model``, labels
  -100 on the prompt and the padding, the same autocast.

All run in one process, interleaved (the order rotates each round); medians are reported with
tokens/s counted over real (non-padding) input positions. Peak RSS is measured per variant in
a fresh subprocess (load, two steps), since one process holding every model would mix them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from results_md import update_section  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "gate_proj", "up_proj", "down_proj"]
HF_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
VARIANTS = ["attnkit bf16", "attnkit bf16, full head", "attnkit fp32", "hf+peft bf16", "hf+peft fp32"]


def _batch(n: int) -> tuple[object, dict]:
    """The recipe's task (tokenized SAMSum) and ``n`` neighbouring training pairs from it."""
    import attnkit
    from attnkit.tasks.prompted import PromptedLMTask

    cfg = attnkit.load_config(HERE.parent / "configs/summarization/samsum-smollm2-lora.yaml")
    pre = attnkit.load("smollm2")
    task = PromptedLMTask(cfg, tokenizer=pre.tokenizer)
    data = task.split("train")
    mid = len(data) // 2  # median-length pairs
    return task, data._batch(data.order[mid : mid + n])


def _attnkit_step(full_head: bool, bf16: bool, task, batch):
    import attnkit
    from attnkit.api import _load_pretrained_body
    from attnkit.config import apply_overrides
    from attnkit.models.factory import build_model

    pre = attnkit.load("smollm2")
    cfg = apply_overrides(pre.cfg, ["model.lora_rank=16", "model.lora_alpha=32",
                                    f"model.lora_targets=[{','.join(TARGETS)}]"])  # fmt: skip
    model = build_model(cfg.model, "decoder")
    _load_pretrained_body(model, pre.model)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            if full_head:
                loss = model(batch["input"], targets=batch["labels"]).loss
            else:
                loss, _ = task.loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def _hf_step(bf16: bool, batch):
    import peft
    import transformers

    from attnkit.pretrained.registry import resolve

    d, _ = resolve("smollm2")
    model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    lcfg = peft.LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=HF_TARGETS, bias="none")
    model = peft.get_peft_model(model, lcfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    # HF shifts labels itself: the full sequence and labels[t] = id t (or -100) at every position.
    lab = batch["labels"]
    last = torch.where(lab[:, -1:] == -100, 0, lab[:, -1:])  # the id after the last input column
    ids = torch.cat([batch["input"], last], dim=1)  # (B, L-1) -> (B, L)
    labels = torch.cat([torch.full_like(last, -100), lab], dim=1)  # (B, L-1) -> (B, L)
    attn = torch.ones_like(ids, dtype=torch.bool)  # right padding: causality already hides it

    def step() -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def make_step(name: str, task, batch):
    if name.startswith("hf"):
        return _hf_step("bf16" in name, batch)
    return _attnkit_step("full head" in name, "bf16" in name, task, batch)


def _vm_hwm_gb() -> float:
    """Peak resident memory of this process image (``VmHWM``; ``ru_maxrss`` would carry the
    parent's peak across ``exec`` on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def peak_rss(name: str, args) -> float:
    """GB of peak resident memory of a fresh process that loads ``name`` and runs two steps."""
    cmd = [sys.executable, __file__, "--rss-only", name, "--batch", str(args.batch),
           "--threads", str(args.threads)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_gb"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rss-only", help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    task, batch = _batch(args.batch)
    if args.rss_only:
        step = make_step(args.rss_only, task, batch)
        step()
        step()
        print(json.dumps({"peak_rss_gb": _vm_hwm_gb()}))
        return 0
    real = int((batch["input"] != task.tokenizer.pad_id).sum()) + args.batch  # + each row's last id
    targets = int((batch["labels"] != -100).sum())
    rss = {n: peak_rss(n, args) for n in VARIANTS}  # before this process holds every model
    steps = {name: make_step(name, task, batch) for name in VARIANTS}
    for fn in steps.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {n: [] for n in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in VARIANTS),
              flush=True)  # fmt: skip
    med = {n: statistics.median(t) for n, t in times.items()}
    base = med["hf+peft bf16"]
    rows = ["| variant | s/step (median) | tokens/s | target tokens/s | vs hf+peft bf16 | peak RSS |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for n in VARIANTS:
        rows.append(f"| {n} | {med[n]:.2f} | {real / med[n]:.0f} | {targets / med[n]:.1f} | "
                    f"{base / med[n]:.2f}x | {rss[n]:.2f} GB |")  # fmt: skip
    cpu = platform.processor() or platform.machine()
    body = "\n".join([
        f"`python benchmarks/lora_finetune_speed.py --threads {args.threads} --rounds {args.rounds} "
        f"--batch {args.batch}`; {cpu}, {args.threads} threads, torch {torch.__version__}, "
        f"{date.today().isoformat()}. One batch of {args.batch} SAMSum pairs: {real} real tokens, "
        f"{targets} of them targets (padded to {batch['input'].shape[1] + 1}). Target: attnkit bf16 "
        "≥ 1.0× hf+peft on the same step, peak RSS ≤ 4 GB.", "", *rows,
    ])  # fmt: skip
    print(body)
    if not args.no_write:
        update_section("lora-speed", "LoRA fine-tuning speed (SmolLM2-135M, CPU)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
