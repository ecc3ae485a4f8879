"""Peak memory and time of integrated gradients on a long input (the SST-2 MiniLM classifier read
at 512 tokens), for a given number of input copies per pass.

    python benchmarks/attribution_memory.py [BATCH]     # default 8, attnkit's default

Target (issue 22): at most 2 GB peak RSS. Measured on the project's 2-core CPU, 2026-12-06,
torch 2.13.0: 16 copies 2,077 MiB in 17.6 s; 8 copies 1,261-1,268 MiB in 19.2-20.5 s; 4 copies
884 MiB in 19.8 s; completeness gap 0.07% in each.
"""

import sys
import time
from pathlib import Path

import torch

import attnkit
from attnkit.attribution.target import BATCH


def main() -> None:
    torch.set_num_threads(2)
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else BATCH
    lm = attnkit.load("runs/sst2-minilm/best", overrides=["data.seq_len=512"])
    text = " ".join(
        ["the film is a gorgeous , witty and seductive piece of work , though the plot drags ."] * 40
    )
    t0 = time.time()
    a = attnkit.explain(lm, text, "ig", batch=batch)
    dt = time.time() - t0
    status = Path("/proc/self/status").read_text().splitlines()
    hwm = int(next(line.split()[1] for line in status if line.startswith("VmHWM")))
    print(
        f"{a.scores.shape[1]} tokens, {batch} copies per pass: completeness gap "
        f"{100 * a.info['completeness_gap']:.2f}%, {dt:.1f} s, peak RSS {hwm / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
