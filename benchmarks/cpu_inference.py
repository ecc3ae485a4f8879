"""CPU inference: attnkit (fp32, int8, bf16, compiled) against the engines people deploy with.

    python benchmarks/cpu_inference.py [--only smollm2,quality,own,multi30k,minilm] [--threads 2]
                                       [--rounds 5] [--no-write]

Sections (each skips, with the reason printed, a peer it cannot build or load):

- ``smollm2``: SmolLM2-135M-Instruct, greedy, batch 1, 128 new tokens after a 32-token prompt:
  attnkit fp32 / int8 / int8 + compiled step / bf16, HF ``generate`` fp32, llama.cpp (the shipped
  GGUF requantized to Q8_0, ``llama-cpp-python``), CTranslate2 float32 / int8 and ONNX Runtime
  fp32 / int8 on ``attnkit export``'s copies. Interleaved rounds in one process, order rotated;
  tok/s is the median, ratios are medians of per-round ratios.
- ``quality``: SmolLM2 WikiText-2 raw validation perplexity (the first ``--ppl-tokens`` tokens in
  512-token windows) and greedy agreement with fp32 over 32 tokens for 20 fixed prompts.
- ``own``: attnkit's 6-layer/384/8k decoder (random weights) against HF GPT-2 of the same shape,
  batch 1, 64 new tokens.
- ``multi30k``: beam-5 translation of the full test2016 with ``runs/multi30k-en-de/best``:
  attnkit fp32 / int8 / bf16 and CTranslate2 float32 / int8 on the exported weights; sentences/s
  and sacreBLEU of each.
- ``minilm``: all-MiniLM-L6-v2 embeddings of SST-2 dev in batches of 32: attnkit fp32 / int8 /
  bf16, HF ``BertModel`` and ONNX Runtime fp32 / int8; the lowest cosine to attnkit fp32.

Peak RSS: each row again in a fresh process (``--child``), load plus one run, ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from lm_speed import interleave  # noqa: E402  (round-robin, order rotated per round)
from results_md import update_section  # noqa: E402

WORK = Path(os.environ.get("ATTNKIT_BENCH_DIR", Path.home() / ".cache" / "attnkit" / "bench"))
PROMPT_TOKENS, NEW_TOKENS = 32, 128


def ratios(per: dict, anchor: str) -> dict[str, float]:
    return {n: statistics.median(a / b for a, b in zip(per[anchor], per[n], strict=True)) for n in per}


def skip(what: str, why: Exception | str) -> None:
    print(f"skip {what}: {why}", flush=True)


# --- SmolLM2 engines -----------------------------------------------------------------------------
def smol_prompt(tokenizer) -> list[int]:
    text = (
        "The history of the city begins in the Roman period, when a small settlement grew up at the "
        "crossing of two trade roads along the river, and over the following centuries"
    )
    ids = tokenizer.encode(text)
    assert len(ids) >= PROMPT_TOKENS, len(ids)
    return ids[:PROMPT_TOKENS]


def attnkit_engine(quantize: str, compile: bool = False):
    import attnkit
    from attnkit.config import DecodeConfig
    from attnkit.decode import generate_ids

    lm = attnkit.load("smollm2", quantize=quantize)
    cfg = DecodeConfig(max_new_tokens=NEW_TOKENS, temperature=0.0, compile=compile)

    def run(ids: list[int], n: int = NEW_TOKENS) -> list[int]:
        c = DecodeConfig(max_new_tokens=n, temperature=0.0, compile=compile) if n != NEW_TOKENS else cfg
        with torch.no_grad():
            return [int(t[0]) for t in generate_ids(lm.model, torch.tensor([ids]), c)]

    return run


def hf_engine():
    import transformers

    from attnkit.pretrained.registry import resolve

    hf = transformers.LlamaForCausalLM.from_pretrained(resolve("smollm2")[0], dtype=torch.float32).eval()

    def run(ids: list[int], n: int = NEW_TOKENS) -> list[int]:
        x = torch.tensor([ids])
        with torch.no_grad():
            out = hf.generate(
                x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                do_sample=False, eos_token_id=None, pad_token_id=2,
            )  # fmt: skip
        return out[0, len(ids) :].tolist()

    return run


def gguf_q8(threads: int) -> Path:
    """The shipped GGUF requantized to Q8_0 once with llama.cpp's own quantizer."""
    import llama_cpp

    from attnkit.pretrained.registry import PRETRAINED, _package_file

    out = WORK / "smollm2-q8_0.gguf"
    if not out.is_file():
        src = _package_file(PRETRAINED["smollm2"])
        out.parent.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
        params.allow_requantize = True
        params.nthread = threads
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params)
        if rc != 0:
            raise RuntimeError(f"llama_model_quantize returned {rc}")
    return out


def llama_engine(threads: int):
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_q8(threads)), n_ctx=512, n_threads=threads, n_batch=64, verbose=False)

    def run(ids: list[int], n: int = NEW_TOKENS) -> list[int]:
        llm.reset()
        out = []
        for tok in llm.generate(ids, top_k=1, temp=0.0, reset=True):
            out.append(int(tok))
            if len(out) == n:
                break
        return out

    return run


def export_once(fmt: str, quantize: str) -> Path:
    out = WORK / f"smollm2-{fmt}-{quantize}"
    if not (out / "attnkit-export.json").is_file():
        import attnkit
        from attnkit.export import export_model

        export_model(attnkit.load("smollm2"), fmt, out, quantize=quantize, force=True)
    return out


def ct2_engine(quantize: str, threads: int):
    import ctranslate2

    gen = ctranslate2.Generator(str(export_once("ct2", quantize)), device="cpu", intra_threads=threads)

    def run(ids: list[int], n: int = NEW_TOKENS) -> list[int]:
        res = gen.generate_batch(
            [[str(i) for i in ids]], max_length=n, min_length=n, sampling_topk=1,
            include_prompt_in_result=False, end_token=[],
        )  # fmt: skip
        return [int(t) for t in res[0].sequences[0]]

    return run


def ort_engine(quantize: str, threads: int):
    import attnkit
    from attnkit.export.check import onnx_greedy
    from attnkit.export.onnx import session

    d = export_once("onnx", quantize)
    sess = session(d / "model.onnx", threads)
    names = [i.name for i in sess.get_inputs()]
    model = attnkit.load("smollm2").model  # for the past-tensor shapes only

    def run(ids: list[int], n: int = NEW_TOKENS) -> list[int]:
        return onnx_greedy(sess, names, ids, n, model)

    return run


def smol_engines(threads: int, only: list[str] | None = None) -> dict:
    makers = {
        "attnkit fp32": lambda: attnkit_engine("none"),
        "attnkit int8": lambda: attnkit_engine("int8"),
        "attnkit int8 + compiled step": lambda: attnkit_engine("int8", compile=True),
        "attnkit bf16": lambda: attnkit_engine("bf16"),
        "HF transformers fp32": hf_engine,
        "llama.cpp Q8_0": lambda: llama_engine(threads),
        "CTranslate2 float32": lambda: ct2_engine("none", threads),
        "CTranslate2 int8": lambda: ct2_engine("int8", threads),
        "ONNX Runtime fp32": lambda: ort_engine("none", threads),
        "ONNX Runtime int8": lambda: ort_engine("int8", threads),
    }
    out = {}
    for name, make in makers.items():
        if only and name not in only:
            continue
        try:
            out[name] = make()
        except Exception as exc:  # a peer that is not installed or cannot build: skipped, said why
            skip(name, exc)
    return out


def bench_smollm2(args) -> str:
    import attnkit

    ids = smol_prompt(attnkit.load("smollm2").tokenizer)
    engines = smol_engines(args.threads)
    ref = engines["attnkit fp32"](ids)
    same = {n: sum(a == b for a, b in zip(ref, e(ids), strict=True)) for n, e in engines.items()}
    per = interleave({n: (lambda e=e: e(ids)) for n, e in engines.items()}, args.rounds)
    vs_hf = ratios(per, "HF transformers fp32") if "HF transformers fp32" in per else {}
    vs_llama = ratios(per, "llama.cpp Q8_0") if "llama.cpp Q8_0" in per else {}
    rss = {n: child_rss("smollm2", n, args.threads, ids) for n in engines}
    lines = [
        f"SmolLM2-135M-Instruct, greedy, batch 1, {NEW_TOKENS} new tokens after a {PROMPT_TOKENS}-token "
        f"prompt, {args.threads} threads, median of {args.rounds} interleaved rounds.",
        "",
        "| engine | tok/s | vs HF fp32 | vs llama.cpp Q8_0 | tokens equal to attnkit fp32 "
        "| peak RSS (process) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, t in per.items():
        lines.append(
            f"| {n} | {NEW_TOKENS / statistics.median(t):.1f} | {vs_hf.get(n, float('nan')):.2f}× | "
            f"{vs_llama.get(n, float('nan')):.2f}× | {same[n]}/{NEW_TOKENS} | {rss[n]} |"
        )
    return "\n".join(lines)


# --- quality of the quantized paths --------------------------------------------------------------
QUALITY_PROMPTS = [
    "The capital of France is", "Water boils at a temperature of", "The three primary colors are",
    "In 1969, the first person to walk on the Moon", "A healthy breakfast usually includes",
    "The largest planet in our solar system", "To make a cup of tea, first",
    "The main causes of the French Revolution",
    "Photosynthesis is the process by which", "The best way to learn a new language is",
    "def fibonacci(n):", "The stock market fell sharply after", "Once upon a time, in a small village,",
    "The human heart has four chambers:", "Machine learning is a field of",
    "The Great Wall of China was built",
    "My favourite season is autumn because", "The recipe calls for two eggs,", "Shakespeare wrote the play",
    "The speed of light in a vacuum is",
]  # fmt: skip


def perplexity(lm, text: str, max_tokens: int, window: int = 512) -> float:
    ids = lm.tokenizer.encode(text)[:max_tokens]
    nll, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - 1, window):
            chunk = torch.tensor([ids[s : s + window + 1]])
            if chunk.shape[1] < 2:
                break
            logits = lm.model(chunk[:, :-1]).logits.float()
            nll += torch.nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
            count += chunk.shape[1] - 1
    return float(np.exp(nll / count))


def bench_quality(args) -> str:
    import attnkit

    root = Path(os.environ.get("ATTNKIT_DATA", HERE.parent.parent / "shared" / "data"))
    text = (root / "wikitext-2-raw" / "wiki.valid.raw").read_text(encoding="utf-8")
    modes = {
        "fp32": ("none", False),
        "int8": ("int8", False),
        "int8 + compiled step": ("int8", True),
        "bf16": ("bf16", False),
    }
    ppl, agree, ref_tokens = {}, {}, {}
    for name, (q, comp) in modes.items():
        lm = attnkit.load("smollm2", quantize=q)
        if not comp:
            ppl[name] = perplexity(lm, text, args.ppl_tokens)
        run = attnkit_engine(q, compile=comp)
        toks = [run(lm.tokenizer.encode(p), 32) for p in QUALITY_PROMPTS]
        if name == "fp32":
            ref_tokens = toks
        agree[name] = sum(a == b for a, b in zip(ref_tokens, toks, strict=True))
        print(name, ppl.get(name), agree[name], flush=True)
    # The peers' 8-bit paths on the same prompts, for scale: how often does any 8-bit engine keep
    # fp32's 32 greedy tokens?
    tok = attnkit.load("smollm2").tokenizer
    for name, engine in smol_engines(args.threads, ["llama.cpp Q8_0", "CTranslate2 int8"]).items():
        toks = [engine(tok.encode(p), 32) for p in QUALITY_PROMPTS]
        agree[name] = sum(a == b for a, b in zip(ref_tokens, toks, strict=True))
        modes[name] = None
        print(name, agree[name], flush=True)
    lines = [
        f"SmolLM2-135M-Instruct quality per path: WikiText-2 raw validation perplexity over its first "
        f"{args.ppl_tokens:,} tokens (512-token windows); greedy continuations of 32 tokens identical to "
        f"fp32 for the 20 fixed prompts in this script. Target: perplexity within +2%, at least 18/20.",
        "",
        "| path | perplexity | vs fp32 | greedy identical to fp32 |",
        "|---|---:|---:|---:|",
    ]
    for name in modes:
        p = ppl.get(name)
        cell = f"{p:.3f} | {100 * (p / ppl['fp32'] - 1):+.2f}%" if p else "– | –"
        lines.append(f"| {name} | {cell} | {agree[name]}/20 |")
    return "\n".join(lines)


# --- attnkit's own decoder shape -----------------------------------------------------------------
def bench_own(args) -> str:
    from lm_speed import attnkit_cfg, hf_gpt2, hf_greedy

    from attnkit.config import DecodeConfig
    from attnkit.decode import generate_ids
    from attnkit.models import Decoder
    from attnkit.models.quantize import quantize_model

    shape = (8192, 384, 6, 6, 256)
    torch.manual_seed(0)
    ours = Decoder(attnkit_cfg(*shape)).eval()
    q = quantize_model(copy.deepcopy(ours), "int8")
    hf = hf_gpt2(*shape).eval()
    prompt = torch.randint(0, shape[0], (1, 16))
    new = 64

    def gen(model, compile=False):
        cfg = DecodeConfig(max_new_tokens=new, temperature=0, compile=compile)

        def run():
            with torch.no_grad():
                assert sum(1 for _ in generate_ids(model, prompt, cfg)) == new

        return run

    fns = {
        "HF transformers fp32": lambda: hf_greedy(hf, prompt, new),
        "attnkit fp32": gen(ours),
        "attnkit fp32 + compiled step": gen(ours, True),
        "attnkit int8": gen(q),
        "attnkit int8 + compiled step": gen(q, True),
    }
    per = interleave(fns, args.rounds)
    r = ratios(per, "HF transformers fp32")
    lines = [
        f"attnkit's 6-layer / 384 / 8k-vocab decoder (random weights), batch 1, {new} new tokens after "
        f"16, {args.threads} threads; HF GPT-2 of the same shape. Target: >= 3x HF.",
        "",
        "| engine | tok/s | vs HF fp32 |",
        "|---|---:|---:|",
    ]
    lines += [f"| {n} | {new / statistics.median(t):.0f} | {r[n]:.2f}× |" for n, t in per.items()]
    return "\n".join(lines)


# --- Multi30k beam-5 translation -----------------------------------------------------------------
def bench_multi30k(args) -> str:
    import attnkit
    from attnkit.decode.seq2seq import encode_sources
    from attnkit.export import export_model

    ckpt = HERE.parent / "runs" / "multi30k-en-de" / "best"
    base = attnkit.load(ckpt)
    task = base.task
    sources = task.texts["test"][0]
    engines = {f"attnkit {q}": attnkit.load(ckpt, quantize=q) for q in ("none", "int8", "bf16")}
    beam = {"beam_size": 5}
    runs = {n: (lambda m=m: m.transduce(sources, **beam)) for n, m in engines.items()}
    try:
        import ctranslate2

        srcs = encode_sources(base.tokenizer, sources, base.cfg.data)
        tok = base.tokenizer
        for q in ("none", "int8"):
            d = WORK / f"multi30k-en-de-ct2-{q}"
            if not (d / "attnkit-export.json").is_file():
                export_model(base, "ct2", d, quantize=q, force=True)
            tr = ctranslate2.Translator(str(d), device="cpu", intra_threads=args.threads)

            def run(tr=tr):
                res = tr.translate_batch(
                    [[str(i) for i in s] for s in srcs], beam_size=5, max_batch_size=64,
                    length_penalty=base.cfg.decode.length_penalty,
                    max_decoding_length=2 * base.cfg.data.max_tgt_len,
                )  # fmt: skip
                return [tok.decode([int(t) for t in r.hypotheses[0]]).strip() for r in res]

            runs[f"CTranslate2 {'float32' if q == 'none' else 'int8'}"] = run
    except Exception as exc:
        skip("CTranslate2", exc)
    bleu = {n: task.score(fn(), "test")["bleu"] for n, fn in runs.items()}
    per = interleave(runs, max(1, args.rounds // 2))
    anchor = "CTranslate2 float32" if "CTranslate2 float32" in per else "attnkit none"
    r = ratios(per, anchor)
    lines = [
        f"Multi30k en→de ({ckpt.relative_to(HERE.parent)}), beam 5, the full test2016 ({len(sources):,} "
        f"sentences), {args.threads} threads, median of {max(1, args.rounds // 2)} interleaved rounds. "
        "Target: attnkit >= 1.0x CTranslate2 float and >= 0.7x CTranslate2 int8; BLEU within 0.3 of fp32.",
        "",
        f"| engine | sentences/s | vs {anchor} | sacreBLEU |",
        "|---|---:|---:|---:|",
    ]
    for n, t in per.items():
        lines.append(f"| {n} | {len(sources) / statistics.median(t):.1f} | {r[n]:.2f}× | {bleu[n]:.2f} |")
    return "\n".join(lines)


# --- MiniLM embeddings ---------------------------------------------------------------------------
def bench_minilm(args) -> str:
    import transformers

    import attnkit
    from attnkit.data.datasets import load_dataset
    from attnkit.pretrained.registry import resolve

    texts = load_dataset("sst2")["valid"]["text"]
    models = {f"attnkit {q}": attnkit.load("minilm", quantize=q) for q in ("none", "int8", "bf16")}
    runs = {n: (lambda m=m: m.embed(texts, batch_size=32)) for n, m in models.items()}
    d = resolve("minilm")[0]
    bert = transformers.BertModel.from_pretrained(d).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(d)

    def pooled(h, m):
        m = m[..., None].float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)

    def hf_run():
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), 32):
                enc = hf_tok(texts[s : s + 32], padding=True, truncation=True, return_tensors="pt")
                out.append(pooled(bert(**enc).last_hidden_state, enc["attention_mask"]))
        return torch.cat(out)

    runs["HF transformers fp32"] = hf_run
    try:
        from attnkit.export import export_model
        from attnkit.export.onnx import session

        base = models["attnkit none"]
        for q in ("none", "int8"):
            out = WORK / f"minilm-onnx-{q}"
            if not (out / "attnkit-export.json").is_file():
                export_model(base, "onnx", out, quantize=q, force=True)
            sess = session(out / "model.onnx", args.threads)

            def ort_run(sess=sess):
                res = []
                for s in range(0, len(texts), 32):
                    enc = hf_tok(texts[s : s + 32], padding=True, truncation=True, return_tensors="np")
                    mask = enc["attention_mask"].astype(bool)
                    h = sess.run(None, {"ids": enc["input_ids"].astype(np.int64), "padding_mask": mask})[0]
                    res.append(pooled(torch.from_numpy(h), torch.from_numpy(mask)))
                return torch.cat(res)

            runs[f"ONNX Runtime {'fp32' if q == 'none' else 'int8'}"] = ort_run
    except Exception as exc:
        skip("ONNX Runtime", exc)
    ref = runs["attnkit none"]()
    cos = {n: float((fn() * ref).sum(-1).min()) for n, fn in runs.items()}
    per = interleave(runs, args.rounds)
    r = ratios(per, "HF transformers fp32")
    lines = [
        f"all-MiniLM-L6-v2 sentence embeddings of SST-2 dev ({len(texts)} sentences), batches of 32, "
        f"{args.threads} threads. Target: >= 2x HF, cosine >= 0.99 to fp32 for every sentence.",
        "",
        "| engine | sentences/s | vs HF fp32 | lowest cosine to attnkit fp32 |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {n} | {len(texts) / statistics.median(t):.0f} | {r[n]:.2f}× | {cos[n]:.4f} |"
        for n, t in per.items()
    ]
    return "\n".join(lines)


# --- memory: one engine per fresh process --------------------------------------------------------
def child_rss(section: str, engine: str, threads: int, ids: list[int]) -> str:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        section,
        engine,
        "--threads",
        str(threads),
        "--ids",
        json.dumps(ids),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    return res.stdout.strip().splitlines()[-1] if res.returncode == 0 else "n/a"


def child(section: str, engine: str, threads: int, ids: list[int]) -> None:
    """Load one engine and generate once in this fresh process; print its peak RSS (the whole
    process: Python and the imported libraries included)."""
    torch.set_num_threads(threads)
    run = smol_engines(threads, [engine])[engine]
    run(ids)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec,
    # so a child of this (multi-GB) process would report the parent's peak.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    print(f"{peak_kib / 1024:.0f} MiB")


SECTIONS = {
    "smollm2": bench_smollm2,
    "quality": bench_quality,
    "own": bench_own,
    "multi30k": bench_multi30k,
    "minilm": bench_minilm,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ppl-tokens", type=int, default=32768)
    ap.add_argument("--child", nargs=2, metavar=("SECTION", "ENGINE"))
    ap.add_argument("--ids", default="[]", help="--child: the prompt's token ids (JSON)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.threads, json.loads(args.ids))
        return 0
    torch.set_num_threads(args.threads)
    store = HERE / "results" / "cpu_inference.json"
    store.parent.mkdir(exist_ok=True)
    done = json.loads(store.read_text()) if store.exists() else {}
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        body = SECTIONS[name](args)
        print(body, flush=True)
        done[name] = {"body": body, "date": str(date.today()), "threads": args.threads}
        store.write_text(json.dumps(done, indent=1, ensure_ascii=False))
    if not args.no_write:
        head = (
            f"`python benchmarks/cpu_inference.py` on the project's CPU ({platform.machine()}, "
            f"{os.cpu_count()} cores, AVX512-VNNI/BF16), torch {torch.__version__}. Each table: its command "
            "section, date and threads."
        )
        parts = [head] + [
            f"### {k} ({v['date']}, {v['threads']} threads)\n\n{v['body']}" for k, v in done.items()
        ]
        update_section(
            "cpu-inference",
            "CPU inference (quantized, compiled, exported) against the peers",
            "\n\n".join(parts),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
