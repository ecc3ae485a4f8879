"""Where a training step's time goes: attnkit's Decoder against the nanoGPT-style model and HF GPT-2.

    python benchmarks/profile_train_step.py                       # CUDA if present, else CPU
    python benchmarks/profile_train_step.py --shape char --device cpu

Runs a few warm-up steps of each model (forward, backward, clipping, AdamW under bf16 autocast on
CUDA, fp32 on the CPU), then profiles two steps with ``torch.profiler`` and prints, per model, the
step time, the number of kernels/ops and the ops with the most self time. It explains the
tokens/s gaps that benchmarks/lm_speed.py and lm_speed_gpu.py measure; it records nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from lm_speed import NanoGPT, attnkit_cfg, hf_gpt2  # noqa: E402

from attnkit.models import Decoder  # noqa: E402

SHAPES = {"gpt2s": ((50257, 768, 12, 12, 1024), 16), "char": ((65, 384, 6, 6, 256), 16)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shape", choices=sorted(SHAPES), default="gpt2s")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--rows", type=int, default=12)
    a = p.parse_args()
    (v, c, n_layer, h, t), b = SHAPES[a.shape]
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.manual_seed(0)
    models = {
        "attnkit": Decoder(attnkit_cfg(v, c, n_layer, h, t)),
        "nanogpt": NanoGPT(v, c, n_layer, h, t),
        "hf": hf_gpt2(v, c, n_layer, h, t),
    }
    x = torch.randint(0, v, (b, t + 1), device=dev)
    for name, model in models.items():
        model.to(dev).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)

        def step(model=model, opt=opt, name=name):
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                if name == "hf":
                    loss = model(x[:, :-1], labels=x[:, :-1]).loss
                elif name == "nanogpt":
                    loss = model(x[:, :-1], x[:, 1:])
                else:
                    loss = model(x[:, :-1], x[:, 1:]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        for _ in range(3):
            step()
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            step()
        if cuda:
            torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) / 3 * 1e3
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=acts) as prof:
            for _ in range(2):
                step()
            if cuda:
                torch.cuda.synchronize()
        events = prof.key_averages()
        key = "self_device_time_total" if cuda else "self_cpu_time_total"
        n_kernels = sum(e.count for e in events if (e.device_type.name == "CUDA") == cuda and e.count)
        print(
            f"\n== {name}: {ms:.1f} ms/step, {b * t / ms * 1e3:,.0f} tokens/s, "
            f"{n_kernels / 2:.0f} ops per step"
        )
        print(events.table(sort_by=key, row_limit=a.rows, max_name_column_width=60))
        model.to("cpu")
        del opt
        if cuda:
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
