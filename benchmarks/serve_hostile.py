"""The web app's memory under hostile bodies: peak RSS of a real ``attnkit serve`` process after
a 500 MB JSON body (declared, and streamed without a length) and a 5 MB body that fails
validation. Each must be answered with a small 4xx JSON error and leave the server's memory where it was
(the process itself, torch and the model, is a few hundred MB before any request).

    .venv/bin/python benchmarks/serve_hostile.py [--ckpt minilm]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import socket
import subprocess
import sys
import time

MB = 1 << 20


def rss_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def send(port: int, path: str, body_mb: int, *, declare: bool, chunk: bytes = b"a" * MB) -> tuple[int, bytes]:
    """POST ``body_mb`` MB; stops sending as soon as the server answers or hangs up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    if declare:
        conn.putheader("Content-Length", str(body_mb * MB))
    else:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for _ in range(body_mb):
            conn.send(chunk if declare else b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if not declare:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server refused and closed: what we want
    r = conn.getresponse()
    return r.status, r.read()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="minilm")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "attnkit",
        "serve",
        "--ckpt",
        args.ckpt,
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/health")
                break
            except OSError:
                time.sleep(0.2)
        base = rss_mb(server.pid, "VmRSS")
        print(f"server up: RSS {base:.0f} MB after loading {args.ckpt}")
        print("| request | status | response bytes | RSS after (MB) | growth (MB) | peak RSS (MB) |")
        print("|---|---|---|---|---|---|")
        invalid = b'{"text": "' + b"a" * (5 * MB) + b'", "max_new_tokens": "x"}'
        cases = [
            ("500 MB, Content-Length declared", lambda: send(port, "/api/embed", 500, declare=True)),
            ("500 MB, chunked (no length)", lambda: send(port, "/api/embed", 500, declare=False)),
            ("5 MB invalid JSON", lambda: _raw(port, invalid)),
        ]
        for name, fn in cases:
            status, body = fn()
            now = rss_mb(server.pid, "VmRSS")
            peak = rss_mb(server.pid, "VmHWM")
            print(f"| {name} | {status} | {len(body)} | {now:.0f} | {now - base:+.0f} | {peak:.0f} |")
    finally:
        server.terminate()
        server.wait(10)


def _raw(port: int, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-send: fine
        conn.request("POST", "/api/embed", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


if __name__ == "__main__":
    main()
