"""Checkpoints handed over by someone else: every damaged one is refused with one line naming
the file and what is wrong, before any unbounded read (devices, FIFOs, links out, huge files)."""

from __future__ import annotations

import os
import shutil

import pytest

import attnkit
from attnkit.cli.main import main

FILES = ("config.yaml", "manifest.json", "tokenizer.json", "model.safetensors")


def _replace(d, name, make):
    (d / name).unlink()
    make(d / name)


DAMAGE = {
    "missing": lambda d, f: (d / f).unlink(),
    "empty": lambda d, f: (d / f).write_bytes(b""),
    "garbage": lambda d, f: (d / f).write_bytes(b"\x00\xff{[: garbage"),
    "a directory": lambda d, f: _replace(d, f, lambda p: p.mkdir()),
    "a link to /dev/zero": lambda d, f: _replace(d, f, lambda p: os.symlink("/dev/zero", p)),
    "a FIFO": lambda d, f: _replace(d, f, os.mkfifo),
    "a link out of the folder": lambda d, f: _replace(d, f, lambda p: os.symlink(d.parent / "elsewhere", p)),
}
SAYS = {  # what the error names, beyond the file's path
    "missing": "is missing",
    "a directory": "is not a regular file",
    "a FIFO": "is not a regular file",
    "a link to /dev/zero": "links outside the checkpoint folder (to /dev/zero)",
    "a link out of the folder": "links outside the checkpoint folder",
}
EXTRA = {  # whole-file contents that parse but are not a checkpoint's
    ("config.yaml", "task: [lm\n"): "is not valid YAML",
    ("config.yaml", "- a\n- b\n"): "must be a mapping of config sections, got list",
    ("config.yaml", "task: nope\n"): "task: unknown task 'nope'",
    ("config.yaml", "x" * (2 << 20)): "is 2,097,152 bytes; a checkpoint's config.yaml is at most 1,048,576",
    ("manifest.json", '{"format": 1}'): "manifest.json lacks step, tokenizer_sha256",
    ("manifest.json", "[1]"): "manifest.json lacks format, step, tokenizer_sha256",
    ("tokenizer.json", "[]"): "unknown tokenizer kind None",
}


@pytest.fixture(scope="module")
def good(tiny_checkpoints):
    return tiny_checkpoints["lm"]


def _copy(good, tmp_path):
    d = tmp_path / "ckpt"
    shutil.copytree(good, d)
    shutil.copy(good / "config.yaml", tmp_path / "elsewhere")
    return d


def _refused(d, says: str) -> str:
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        attnkit.load(d)
    msg = str(err.value)
    assert "\n" not in msg and says in msg, msg
    return msg


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", FILES)
def test_each_damaged_file_is_refused_by_name(good, tmp_path, name, damage):
    d = _copy(good, tmp_path)
    DAMAGE[damage](d, name)
    if name == "manifest.json" and damage in ("missing", "a directory", "a link to /dev/zero", "a FIFO"):
        _refused(d, f"no checkpoint at {d}")  # without a readable manifest it is not a checkpoint
        return
    msg = _refused(d, SAYS.get(damage, ""))
    assert str(d / name) in msg


@pytest.mark.parametrize(("name", "text"), sorted(EXTRA))
def test_files_that_parse_but_are_not_a_checkpoints(good, tmp_path, name, text):
    d = _copy(good, tmp_path)
    (d / name).write_text(text, encoding="utf-8")
    msg = _refused(d, EXTRA[(name, text)])
    assert msg.startswith(str(d)), msg  # the message names the checkpoint's file


def test_the_cli_says_it_in_one_line(good, tmp_path, capsys):
    d = _copy(good, tmp_path)
    DAMAGE["a FIFO"](d, "config.yaml")
    assert main(["generate", "--ckpt", str(d), "--prompt", "x"]) == 2
    assert capsys.readouterr().err == (
        f"attnkit: error: {d / 'config.yaml'} is not a regular file; a checkpoint holds plain files only\n"
    )
