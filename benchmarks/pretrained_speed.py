"""Pretrained models on CPU: attnkit against transformers on the same weights, side by side.

    python benchmarks/pretrained_speed.py [--threads 1] [--rounds 5] [--no-write]

- SmolLM2-135M-Instruct: greedy generation with a KV cache, 64 new tokens after a ChatML prompt,
  batch 1: attnkit ``generate_ids`` against HF ``generate`` (use_cache, exactly 64 tokens). The
  tokens are checked equal before timing.
- all-MiniLM-L6-v2: sentence embeddings, 256 SST-2 dev sentences in batches of 32: attnkit
  ``LoadedModel.embed`` against HF ``BertModel`` + mean pooling + L2 normalisation (checked equal).

Both run in one process, interleaved, the order alternating per round; medians are reported and
the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from results_md import update_section  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleave(a, b, rounds: int) -> tuple[float, float, float]:
    """Median seconds of ``a`` and ``b`` and the median of per-round ratios b/a."""
    ta, tb, ratios = [], [], []
    for r in range(rounds):
        if r % 2:
            y, x = timed(b), timed(a)
        else:
            x, y = timed(a), timed(b)
        ta.append(x)
        tb.append(y)
        ratios.append(y / x)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import transformers

    import attnkit
    from attnkit.config import DecodeConfig
    from attnkit.data.datasets import load_dataset
    from attnkit.decode import generate_ids
    from attnkit.pretrained.registry import resolve
    from attnkit.text.chat import format_chat

    rows = []
    smol = attnkit.load("smollm2")
    hf = transformers.LlamaForCausalLM.from_pretrained(resolve("smollm2")[0], dtype=torch.float32).eval()
    prompt = format_chat("chatml", ["Write a short poem about the sea."], smol.chat_format["system"])
    ids = torch.tensor([smol.tokenizer.encode(prompt)])
    n = args.new_tokens
    cfg = DecodeConfig(max_new_tokens=n, temperature=0.0)

    def ours():
        with torch.no_grad():
            return torch.cat([ids, torch.stack(list(generate_ids(smol.model, ids, cfg)), dim=1)], dim=1)

    def theirs():
        with torch.no_grad():
            # an explicit mask: inferred from pad_token_id it would hide the prompt's <|im_end|> (id 2)
            return hf.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                eos_token_id=None, pad_token_id=2,
            )  # fmt: skip

    same = torch.equal(ours(), theirs())
    a, b, ratio = interleave(ours, theirs, args.rounds)
    rows.append(
        ("SmolLM2-135M greedy generation, batch 1", f"{n / a:.1f} tok/s", f"{n / b:.1f} tok/s", ratio, same)
    )

    mini = attnkit.load("minilm")
    d = resolve("minilm")[0]
    bert = transformers.BertModel.from_pretrained(d).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(d)
    texts = load_dataset("sst2")["valid"]["text"][:256]

    def ours_e():
        return mini.embed(texts, batch_size=32)

    def theirs_e():
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), 32):
                enc = hf_tok(texts[s : s + 32], padding=True, truncation=True, return_tensors="pt")
                h = bert(**enc).last_hidden_state
                m = enc["attention_mask"][..., None].float()
                out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
        return torch.cat(out)

    same_e = bool(torch.allclose(ours_e(), theirs_e(), atol=1e-4))
    a, b, ratio = interleave(ours_e, theirs_e, args.rounds)
    rows.append(
        (
            "all-MiniLM-L6-v2 embeddings, batch 32",
            f"{len(texts) / a:.0f} sent/s",
            f"{len(texts) / b:.0f} sent/s",
            ratio,
            same_e,
        )
    )

    lines = [
        f"`python benchmarks/pretrained_speed.py --threads {args.threads}` on {date.today()}: "
        f"{platform.machine()}, {os.cpu_count()} CPU cores, {args.threads} torch thread(s), fp32, "
        f"torch {torch.__version__}, "
        f"transformers {transformers.__version__}; median of {args.rounds} interleaved rounds.",
        "",
        "| workload | attnkit | transformers | attnkit speed-up | same output |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ours_s, theirs_s, ratio, ok in rows:
        lines.append(f"| {name} | {ours_s} | {theirs_s} | {ratio:.2f}× | {'yes' if ok else 'NO'} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section(
            f"pretrained-speed-t{args.threads}",
            f"Pretrained models: speed against transformers ({args.threads} torch thread(s))",
            text,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
