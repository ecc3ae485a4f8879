"""Dialogue: context building, the task on own data, respond(), and the chat REPL through a pipe."""

from __future__ import annotations

import io
import random

import pytest

from attnkit.cli.chat import run_chat
from attnkit.data.pair_datasets import dialogue_context, dialogue_pairs

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]


def test_context_keeps_last_k_turns_with_speakers_from_the_start():
    turns = ["hi", "hello", "how are you", "fine"]
    assert dialogue_context(turns, 2) == "A: how are you\nB: fine"
    assert dialogue_context(turns[:3], 5) == "A: hi\nB: hello\nA: how are you"
    pairs = dialogue_pairs([turns, ["x", "y"]], k=2)
    assert pairs["response"] == ["hello", "how are you", "fine", "y"]
    assert pairs["context"][2] == "B: hello\nA: how are you"
    with pytest.raises(ValueError, match="context_turns >= 1"):
        dialogue_context(turns, 0)


def test_dailydialog_pairs_official_split(shared_data):
    from attnkit.data.datasets import load_dataset

    t = load_dataset("dailydialog")
    assert [len(t[s]["turns"]) for s in ("train", "valid", "test")] == [11118, 1000, 1000]
    n = {s: len(dialogue_pairs(t[s]["turns"], 3)["response"]) for s in t}
    assert n == {"train": 76052, "valid": 7069, "test": 6740}


def _fake_chat(lines: str) -> tuple[list[str], list[str]]:
    out = io.StringIO()
    history = run_chat(lambda h: f"echo {h[-1]} ({len(h)})", io.StringIO(lines), out, interactive=False)
    return out.getvalue().splitlines(), history


def test_chat_pipe_protocol():
    out, history = _fake_chat("hi\n\nthere\n/history\n/reset\n/history\nagain\n/bogus\n/quit\nnever\n")
    assert out == [
        "echo hi (1)",
        "echo there (3)",  # the reply saw the whole history: hi, reply, there
        "# A: hi",
        "# B: echo hi (1)",
        "# A: there",
        "# B: echo there (3)",
        "# history cleared",
        "# (no history)",
        "echo again (1)",
        "# unknown command /bogus; commands: /reset (forget the history), /history (show it), /quit (leave)",
    ]
    assert history == ["again", "echo again (1)"]  # nothing after /quit was read


def test_chat_ends_at_end_of_input():
    out, history = _fake_chat("one\ntwo")
    assert out == ["echo one (1)", "echo two (3)"] and len(history) == 4


@pytest.fixture
def reply_corpus(tmp_path):
    """Own dialogue data as TSV: context "A: words" -> the words reversed."""
    rng = random.Random(0)
    paths = {}
    for split, n in (("train", 600), ("valid", 40), ("test", 30)):
        rows = []
        for _ in range(n):
            w = [rng.choice(WORDS) for _ in range(rng.randint(2, 4))]
            rows.append("A: " + " ".join(w) + "\t" + " ".join(reversed(w)))
        p = tmp_path / f"{split}.tsv"
        p.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths[split] = str(p)
    return paths


def test_dialogue_task_trains_scores_and_chats(tmp_path, reply_corpus, monkeypatch, capsys):
    from attnkit import api
    from attnkit.cli.main import main
    from attnkit.config import RunConfig, apply_overrides

    cfg = apply_overrides(
        RunConfig(),
        [
            "task=dialogue",
            f"out_dir={tmp_path / 'run'}",
            "data.dataset=null",
            *(f"data.{s}_file={reply_corpus[s]}" for s in ("train", "valid", "test")),
            "data.tokenizer=word",
            "data.context_turns=1",
            "data.max_src_len=16",
            "data.max_tgt_len=16",
            "model.d_model=64",
            "model.max_seq_len=32",
            "model.share_embeddings=true",
            "train.batch_size=32",
            "train.max_steps=150",
            "train.eval_every=150",
            "train.warmup_steps=10",
            "train.lr=3e-3",
            "train.weight_decay=0.0",
            "train.progress=false",
            "decode.beam_size=1",
            "decode.max_len_a=0.0",
            "decode.max_len_b=8",
        ],
    )
    api.train(cfg)
    m = api.load(tmp_path / "run" / "best")
    r = m.evaluate("test")
    assert r["examples"] == 30 and 0.0 < r["distinct1"] <= 1.0
    assert r["bleu1"] > 50.0  # reversal is learnable in 150 steps; a constant reply scores far less
    assert set(r) >= {"loss", "ppl", "bleu1", "bleu2", "distinct1", "distinct2"}
    # respond() builds the context exactly as training did
    assert m.respond(["gamma alpha"]) == m.transduce(["A: gamma alpha"])[0]
    with pytest.raises(ValueError, match="at least one turn"):
        m.respond([])
    capsys.readouterr()  # drop the training log
    monkeypatch.setattr("sys.stdin", io.StringIO("beta gamma\n/history\n/quit\n"))
    assert main(["chat", "--ckpt", str(tmp_path / "run" / "best")]) == 0
    lines = capsys.readouterr().out.splitlines()
    reply = m.respond(["beta gamma"])
    assert lines == [reply, "# A: beta gamma", f"# B: {reply}"]
    assert set(reply.split()) <= set(WORDS) and reply
    # in a real terminal: prompts, the same reply, /quit ends the process
    out = _in_terminal(["chat", "--ckpt", str(tmp_path / "run" / "best")], ["beta gamma", "/quit"])
    assert "attnkit chat" in out and "you> " in out and f"bot> {reply}" in out


def _in_terminal(argv: list[str], lines: list[str], timeout: float = 60.0) -> str:
    """Run ``attnkit argv`` on a pseudo-terminal, type ``lines``; return everything it printed."""
    import os
    import pty
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "attnkit", *argv], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout

    seen = 0  # markers count only after this offset: the first prompt must not answer the second wait

    def read_until(marker: bytes) -> None:
        nonlocal out, seen
        while marker not in out[seen:] and time.monotonic() < deadline:
            try:
                out += os.read(leader, 4096)
            except OSError:  # the process closed the terminal
                return
        if marker in out[seen:]:
            seen += out[seen:].index(marker) + len(marker)

    for line in lines:
        read_until(b"you> ")  # type only at a fresh prompt, after the previous reply is printed
        os.write(leader, line.encode() + b"\n")
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    read_until(b"\x00")  # drain what is left
    os.close(leader)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def test_chat_refuses_other_tasks_and_dialogue_needs_dialogues(shared_data):
    from attnkit.config import RunConfig, apply_overrides
    from attnkit.tasks import TASKS

    cfg = apply_overrides(RunConfig(), ["task=dialogue", "data.dataset=multi30k"])
    with pytest.raises(ValueError, match="needs a dialogue dataset such as dailydialog"):
        TASKS["dialogue"](cfg)
    cfg = apply_overrides(RunConfig(), ["task=translation", "data.dataset=dailydialog"])
    with pytest.raises(ValueError, match="holds whole dialogues; use task: dialogue"):
        TASKS["translation"](cfg)
