"""``attnkit chat``: a REPL over a dialogue checkpoint that keeps the conversation's history.

Commands: ``/reset`` forgets the history, ``/history`` prints it, ``/quit`` (or end of input)
leaves. In a terminal it shows a ``you>`` prompt and line editing (readline); driven through a
pipe it prints one response line per input line and nothing else on stdout, so scripts can read
the replies in order (command output goes to stdout too, prefixed by ``#``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TextIO

from attnkit.data.pair_datasets import SPEAKERS

HELP = "commands: /reset (forget the history), /history (show it), /quit (leave)"


def run_chat(
    respond: Callable[[list[str]], str | Iterable[str]],
    stdin: TextIO,
    stdout: TextIO,
    *,
    interactive: bool,
) -> list[str]:
    """Read turns from ``stdin``, answer each with ``respond(history)``; return the final history.

    ``respond`` returns the reply, or an iterable of text chunks that are written as they come
    (a language model streaming its answer); either way a reply is one output line.
    """
    history: list[str] = []
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (arrow keys and recall in input())
        stdout.write(f"attnkit chat — {HELP}\n")
    while True:
        try:
            line = input("you> ") if interactive else stdin.readline()
        except EOFError:
            break
        if not interactive and line == "":
            break  # end of the pipe
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            cmd = text.split()[0].lower()
            if cmd == "/quit":
                break
            if cmd == "/reset":
                history.clear()
                stdout.write("# history cleared\n")
            elif cmd == "/history":
                if not history:
                    stdout.write("# (no history)\n")
                for i, turn in enumerate(history):
                    stdout.write(f"# {SPEAKERS[i % 2]} {turn}\n")
            else:
                stdout.write(f"# unknown command {cmd}; {HELP}\n")
            stdout.flush()
            continue
        history.append(text)
        out = respond(history)
        if interactive:
            stdout.write("bot> ")
        if isinstance(out, str):
            reply = out.replace("\n", " ").strip()
            stdout.write(reply)
        else:
            written = ""
            for chunk in out:
                piece = chunk.replace("\n", " ")
                if not written:
                    piece = piece.lstrip()
                written += piece
                stdout.write(piece)
                stdout.flush()
            reply = written.strip()
        history.append(reply)
        stdout.write("\n")
        stdout.flush()
    return history
