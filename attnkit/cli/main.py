"""``attnkit`` command line: ``attnkit <command> [options] [key=value overrides]``.

Commands:
    train      train a model from a recipe YAML (+ dotted overrides)
    generate   stream a continuation of a prompt from a checkpoint
    translate  translate lines (stdin or --input) with a translation checkpoint
    summarize  summarize documents (one per line, or --input) with a summarization checkpoint
    chat       talk with a dialogue checkpoint (/reset, /history, /quit); works through a pipe
    classify   label texts (one per line, or --input) with a classification checkpoint
    transcribe transcribe WAV files with a speech checkpoint
    eval       score a checkpoint on a split (perplexity; BLEU/chrF, ROUGE; accuracy/WER/CER)
    demo       build tiny models, run them, print parameter counts and attention-map shapes
    backends   list the registered attention backends and what each can do
    viz        write one input's attention maps: offline HTML head/model view, PNGs, tensors
    serve      local web app and JSON API for checkpoints, with attention views
    study      long-range: attention vs LSTM vs CNN on synthetic tasks, with a report and plots
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from attnkit.cli.options import COUNT, DEVICE_HELP, SEED, add_device, number


def _cmd_backends(args: argparse.Namespace) -> int:
    from attnkit.attention import BACKENDS
    from attnkit.attention.registry import FAMILIES

    print(f"{'name':<12} weights  dropout  gqa  exact")
    for name in sorted(BACKENDS):
        c = BACKENDS[name].caps
        print(f"{name:<12} {c.weights!s:<8} {c.dropout!s:<8} {c.gqa!s:<4} {c.exact!s}")
    for family, (_, description) in sorted(FAMILIES.items()):
        print(f"{family + ':<W>':<12} {description}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from attnkit.cli.demo import run_demo

    return run_demo(families=args.family, preset=args.preset, overrides=args.overrides, seed=args.seed)


def _cmd_train(args: argparse.Namespace) -> int:
    from attnkit.api import load_config, train

    cfg = load_config(args.config, args.overrides)
    metrics = train(cfg, resume=args.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the main process speaks for all
        print(json.dumps({"out_dir": cfg.out_dir, **metrics}))
        _say_what_was_reached(Path(cfg.out_dir))
    return 0


def _say_what_was_reached(out: Path) -> None:
    """One line on stderr: the best checkpoint's validation loss and step, and where it is."""
    from attnkit.training.checkpoint import read_manifest

    try:
        m = read_manifest(out / "best")
    except (FileNotFoundError, ValueError):
        return
    loss = m["metrics"].get("loss")
    if isinstance(loss, float):
        where = out / "best"
        print(f"attnkit: reached validation loss {loss:.3f} at step {m['step']}; best checkpoint: {where}",
              file=sys.stderr)  # fmt: skip


def _cmd_study(args: argparse.Namespace) -> int:
    from attnkit.config.base import apply_overrides, load_yaml
    from attnkit.study import QUICK, StudyConfig, long_range_study

    cfg = load_yaml(StudyConfig, args.config) if args.config else StudyConfig()
    quick = [f"{k}={json.dumps(v)}" for k, v in QUICK.items()] if args.quick else []
    cfg = apply_overrides(cfg, [*quick, *args.overrides])
    report = long_range_study(cfg, args.out, cost=not args.no_cost, progress=lambda s: print(s, flush=True))
    print(f"report: {report}")
    return 0


def _cmd_faithfulness(args: argparse.Namespace) -> int:
    from attnkit.api import load
    from attnkit.attribution.study import run_study

    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    lm = load(args.ckpt, device=args.device)
    kw = {"methods": methods} if methods else {}
    report = run_study(lm, args.out, n=args.n, random_orders=args.random_orders, steps=args.steps, **kw)
    print(f"report: {report}")
    return 0


def _decode_overrides(args: argparse.Namespace) -> dict:
    pairs = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
    }
    out = {k: v for k, v in pairs.items() if v is not None}
    if args.compile:
        out["compile"] = True
    if args.stop:
        out["stop"] = list(args.stop)
    return out


def _cmd_generate(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt, device=args.device, quantize=args.quantize, overrides=args.overrides)
    lm.require("generate")
    if args.prompt is None:
        from attnkit.data.sources import decode_utf8

        prompt = decode_utf8(sys.stdin.buffer.read(), "stdin")
    else:
        prompt = args.prompt
    sys.stdout.write(prompt)
    for chunk in lm.stream(prompt, **_decode_overrides(args)):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _read_inputs(args: argparse.Namespace) -> list[str]:
    from attnkit.data.sources import decode_utf8, read_text

    text = read_text(args.input) if args.input else decode_utf8(sys.stdin.buffer.read(), "stdin")
    # One input per line; a literal "\n" inside a line stands for a line break (dialogues).
    return [line.replace("\\n", "\n") for line in text.splitlines()]


def _input_chunks(args: argparse.Namespace, size: int) -> Iterator[list[str]]:
    """The inputs, ``size`` lines at a time, read lazily (a file of any length)."""
    from attnkit.data.sources import iter_lines

    with open(args.input, "rb") if args.input else contextlib.nullcontext(sys.stdin.buffer) as f:
        chunk: list[str] = []
        for line in iter_lines(f, args.input or "stdin"):
            chunk.append(line.replace("\\n", "\n"))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


TRANSDUCE_CHUNK = 512
"""Lines translated (or summarized) between two writes of the output."""


def _search_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam", type=COUNT, help="beam width (1 = greedy; default: the recipe's)")
    parser.add_argument("--sample", action="store_true", help="sample (decode.temperature/top_k/top_p)")


def _search_overrides(args: argparse.Namespace) -> dict:
    """``--beam`` / ``--sample`` as decode overrides (absent flags keep the recipe's)."""
    decode: dict = {"beam_size": args.beam} if args.beam is not None else {}
    if args.sample:
        decode["sample"] = True
    return decode


def _cmd_transduce(args: argparse.Namespace) -> int:
    from attnkit.api import load

    m = load(args.ckpt, device=args.device, quantize=args.quantize, overrides=args.overrides)
    m.require(args.command)
    decode = _search_overrides(args)
    # Chunks of lines in, their outputs written and flushed as each is done: memory stays
    # bounded for any file, and a stopped run keeps every line it finished.
    done, t0 = 0, time.perf_counter()
    sink = open(args.output, "w", encoding="utf-8") if args.output else contextlib.nullcontext(sys.stdout)  # noqa: SIM115
    with sink as out:
        for chunk in _input_chunks(args, TRANSDUCE_CHUNK):
            outputs = m.transduce(chunk, batch_size=args.batch_size, first_line=done + 1, **decode)
            out.write("".join(o.replace("\n", " ") + "\n" for o in outputs))
            out.flush()
            done += len(chunk)
            if args.output:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                print(f"attnkit: {done:,} lines done ({rate:.1f} lines/s)", file=sys.stderr, flush=True)
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from attnkit.api import load
    from attnkit.cli.chat import run_chat

    m = load(args.ckpt, device=args.device, quantize=args.quantize, overrides=args.overrides)
    m.require("chat")
    decode = _search_overrides(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if m.chat_format:  # a language model: stream its reply as it is generated
        run_chat(lambda h: m.respond_stream(h), sys.stdin, sys.stdout, interactive=interactive)
    else:
        run_chat(lambda h: m.respond(h, **decode), sys.stdin, sys.stdout, interactive=interactive)
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from attnkit.api import load

    m = load(args.ckpt, device=args.device, quantize=args.quantize, overrides=args.overrides)
    m.require("zero-shot" if (args.zero_shot or args.shots) else "classify")
    texts = _read_inputs(args)
    results = _few_shot(m, args, texts) if (args.zero_shot or args.shots) else m.classify(texts)
    for text, res in zip(texts, results, strict=True):
        if args.json:
            print(json.dumps({"text": text, **res}, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.3f}" for k, v in sorted(res["probs"].items(), key=lambda kv: -kv[1]))
            print(f"{res['label']}\t{probs}")
    return 0


def _few_shot(m, args: argparse.Namespace, texts: list[str]) -> list[dict]:
    """Zero-shot (``--labels``) or few-shot (plus ``--shots``) classification with a pretrained model."""
    from attnkit.data.sources import read_text
    from attnkit.fewshot import parse_labels, zero_shot_classifier

    if not args.labels:
        raise ValueError('--zero-shot and --shots need --labels, e.g. --labels "positive,negative"')
    clf = zero_shot_classifier(m, parse_labels(args.labels))
    if args.shots:
        rows = [line.rsplit("\t", 1) for line in read_text(args.shots).splitlines() if line.strip()]
        bad = [i + 1 for i, r in enumerate(rows) if len(r) != 2]
        if bad:
            raise ValueError(f"{args.shots}: lines {bad[:5]} are not text<TAB>label")
        clf.fit([r[0] for r in rows], [r[1].strip() for r in rows])
    return clf.classify(texts)


def _cmd_eval(args: argparse.Namespace) -> int:
    from attnkit.api import load

    lm = load(args.ckpt, device=args.device, quantize=args.quantize)
    report = lm.kind.resolve("report")
    if report is None:
        lm.kind.task_class()  # a kind that is never trained here says so, and what to do instead
        raise lm.predictor.refuse("eval", " (its task has no evaluation)")
    if args.split is None:  # test, or valid when the dataset has no test split (saying so)
        names = [] if lm.manifest.get("pretrained") else getattr(lm.task, "split_names", ["test"])
        args.split = "test" if "test" in names or not names else "valid"
        if args.split != "test":
            print(f"attnkit: this dataset has no test split ({', '.join(names)}); evaluating valid",
                  file=sys.stderr)  # fmt: skip
    return int(report(lm, args))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (a handler that kept the stream it was made with
    would write to a closed one after a caller swapped stderr, as test runners and notebooks do)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``attnkit generate: error: argument --top-k: …``, exit 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_study_parsers(sub) -> None:
    """``attnkit study faithfulness`` and ``attnkit study long-range``."""
    studies = sub.add_parser("study", help="studies that measure the seed's claims").add_subparsers(
        dest="study", required=True, metavar="STUDY"
    )
    f = studies.add_parser("faithfulness", help="which attribution methods the model's predictions bear out")
    f.add_argument("--ckpt", required=True, help="a classifier, translation or LM checkpoint")
    f.add_argument("--out", required=True, help="output directory (report.md, curves.png, results.json)")
    f.add_argument("--methods", help="comma-separated (default all): grad_input,ig,occlusion,attention,"
                   "rollout,value_norm,attention_grad")  # fmt: skip
    f.add_argument("--n", type=COUNT, default=200, help="test inputs to explain (default 200)")
    f.add_argument("--random-orders", type=COUNT, default=3, help="random-order baselines (default 3)")
    f.add_argument("--steps", type=COUNT, default=32, help="integrated-gradients steps (default 32)")
    f.add_argument("--device", default="auto", help=DEVICE_HELP)
    f.set_defaults(func=_cmd_faithfulness)
    s = studies.add_parser("long-range", help="attention vs LSTM vs CNN on synthetic tasks: report and plots")
    s.add_argument("--out", required=True, help="output directory (an interrupted study resumes there)")
    s.add_argument("--config", help="StudyConfig YAML (default: the built-in study)")
    s.add_argument("--quick", action="store_true",
                   help="smaller: 2 tasks, T<=64, 3 models (30+ min on 2 cores)")
    s.add_argument(
        "--no-cost",
        action="store_true",
        help="skip the time/memory-vs-length measurement (reuse <out>/cost.json if there)",
    )
    s.add_argument("overrides", nargs="*", help="dotted overrides such as steps=300 lengths=[16,32]")
    s.set_defaults(func=_cmd_study)


def build_parser() -> argparse.ArgumentParser:
    from attnkit import __version__

    p = Parser(prog="attnkit", description="Self-attention for NLP, measured.")
    p.add_argument("--version", action="version", version=f"attnkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train from a recipe YAML")
    t.add_argument("--config", required=True, help="recipe YAML, e.g. configs/lm/shakespeare-char.yaml")
    t.add_argument("--resume", action="store_true", help="continue from <out_dir>/last")
    t.add_argument("overrides", nargs="*", help="dotted overrides such as train.max_steps=100")
    t.set_defaults(func=_cmd_train)

    g = sub.add_parser("generate", help="stream a continuation of --prompt (or stdin)")
    g.add_argument("--ckpt", required=True, help="checkpoint directory (or a run directory)")
    add_device(g)
    g.add_argument("--prompt", help="prompt text; read from stdin when absent")
    g.add_argument("--max-new-tokens", type=COUNT)
    g.add_argument("--temperature", type=number(float, 0, above=False), help="0 = greedy")
    g.add_argument("--top-k", type=COUNT)
    g.add_argument("--top-p", type=number(float, 0, maximum=1), help="nucleus mass, in (0, 1]")
    g.add_argument("--repetition-penalty", type=number(float, 0))
    g.add_argument("--stop", action="append", help="stop string (repeatable)")
    g.add_argument("--seed", type=SEED)
    g.add_argument(
        "--compile",
        action="store_true",
        help="CPU: compile the decoding step (decode.compile; a one-off compile, then faster tokens)",
    )
    g.add_argument("overrides", nargs="*", help="config overrides, e.g. decode.prompt_overflow=error")
    g.set_defaults(func=_cmd_generate)

    for verb, what in (("translate", "translate"), ("summarize", "summarize")):
        x = sub.add_parser(verb, help=f"{what} lines from stdin or --input (one input per line)")
        x.add_argument("--ckpt", required=True, help="checkpoint directory (or a run directory)")
        add_device(x)
        x.add_argument("--input", help="UTF-8 file, one input per line (default: stdin)")
        x.add_argument("--output", help="write outputs here (default: stdout), one per line")
        _search_add_arguments(x)
        x.add_argument("--batch-size", type=COUNT, default=64)
        x.add_argument("overrides", nargs="*", help="config overrides, e.g. decode.no_repeat_ngram=3")
        x.set_defaults(func=_cmd_transduce)

    ch = sub.add_parser("chat", help="talk with a dialogue checkpoint (/reset, /history, /quit)")
    ch.add_argument("--ckpt", required=True, help="checkpoint directory (or a run directory)")
    add_device(ch)
    _search_add_arguments(ch)
    ch.add_argument("overrides", nargs="*", help="config overrides, e.g. decode.no_repeat_ngram=3")
    ch.set_defaults(func=_cmd_chat)

    c = sub.add_parser("classify", help="label lines from stdin or --input with a classifier")
    c.add_argument("--ckpt", required=True, help="checkpoint directory (or a run directory)")
    add_device(c)
    c.add_argument("--input", help="UTF-8 file, one text per line (default: stdin)")
    c.add_argument("--json", action="store_true", help="one JSON object per line: text, label, probs")
    c.add_argument(
        "--zero-shot",
        action="store_true",
        help="classify with a pretrained model (minilm, smollm2) and --labels",
    )
    c.add_argument("--labels", help='zero-/few-shot labels: "pos,neg" or "pos=a glowing review; neg=…"')
    c.add_argument("--shots", help="few-shot: a TSV of labelled examples (text<TAB>label per line)")
    c.add_argument("overrides", nargs="*", help="config overrides")
    c.set_defaults(func=_cmd_classify)

    e = sub.add_parser("eval", help="score a checkpoint on a split")
    e.add_argument("--ckpt", required=True)
    add_device(e)
    e.add_argument("--split", help="the split to score (default: test, or valid when there is no test split)")
    e.add_argument("--max-batches", type=COUNT, help="loss on only the first N batches")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    e.add_argument("--beam", type=COUNT, help="seq2seq/speech: beam width (default: the recipe's)")
    e.add_argument("--limit", type=COUNT, help="seq2seq/speech: decode only the first N examples")
    e.add_argument("--out-dir", help="seq2seq: where hypotheses and scores go (default: <run>/eval)")
    e.set_defaults(func=_cmd_eval)

    d = sub.add_parser("demo", help="build tiny models and show their attention-map shapes")
    d.add_argument(
        "--family",
        action="append",
        choices=["encoder", "decoder", "seq2seq"],
        help="model family (repeatable; default: all three)",
    )
    d.add_argument("--preset", default="tiny", help="model size preset (tiny, small, base)")
    d.add_argument("--seed", type=SEED, default=0)
    d.add_argument("overrides", nargs="*", help="ModelConfig overrides such as n_layers=3")
    d.set_defaults(func=_cmd_demo)

    _add_study_parsers(sub)

    from attnkit.cli import export, serve, speech, viz

    speech.add_parser(sub)
    export.add_parser(sub)
    viz.add_parser(sub)
    serve.add_parser(sub)

    b = sub.add_parser("backends", help="list attention backends")
    b.set_defaults(func=_cmd_backends)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return int(done.code or 0)
    from attnkit.api import TrainingError

    # attnkit's own notices (vocabulary reports, truncation warnings) go to stderr, plainly.
    log = logging.getLogger("attnkit")
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("attnkit: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"attnkit: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path that is missing, a directory, or not ours to write: bad input
        where = f": {e.filename}" if e.filename else ""
        print(f"attnkit: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except TrainingError as e:  # the run stopped on purpose; its last good state is kept
        print(f"attnkit: error: {e}", file=sys.stderr)
        return 3
    except RuntimeError as e:  # out of memory, a backend that cannot run: say what it was
        print(f"attnkit: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("attnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
