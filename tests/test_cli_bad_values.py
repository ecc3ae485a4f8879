"""Bad values at the CLI: each exits 2 with one line that names the value and the rule it breaks,
before any work starts (argparse types, the config schema, the override grammar)."""

from __future__ import annotations

import io
import sys

import pytest

from attnkit.cli.main import main

RECIPE = "configs/lm/shakespeare-char.yaml"

TRAIN_CASES = [  # override -> what the one-line error says
    ("train.max_steps=-5", "train.max_steps=-5 is out of range: it must be 1 or more"),
    ("train.max_steps=0", "train.max_steps=0 is out of range: it must be 1 or more"),
    ("train.grad_accum=0", "train.grad_accum=0 is out of range: it must be 1 or more"),
    ("train.warmup_steps=-1", "train.warmup_steps=-1 is out of range: it must be 0 or more"),
    ("train.eval_every=0", "train.eval_every=0 is out of range: it must be 1 or more"),
    ("train.log_every=0", "train.log_every=0 is out of range: it must be 1 or more"),
    ("train.lr=1e999", "train.lr=inf is out of range: it must be 0 or more"),
    ("train.lr=nan", "train.lr=nan is out of range: it must be 0 or more"),
    ("train.batch_size=-1", "train.batch_size=-1 is out of range: it must be 1 or more"),
    ("decode.max_len_a=-1", "decode.max_len_a=-1.0 is out of range: it must be 0 or more"),
    ("decode.length_penalty=nan", "decode.length_penalty=nan is out of range: it must be a finite number"),
    ("decode.temperature=-1", "decode.temperature=-1.0 is out of range: it must be 0 or more"),
    ("decode.top_k=-3", "decode.top_k=-3 is out of range: it must be 1 or more"),
    ("train.max_steps=1:30", "train.max_steps: expected int, got str '1:30'"),
    ("model.lora_targets=[q_proj, v_proj", "unbalanced brackets in '[q_proj, v_proj'"),
    ("train.nope=1", "unknown key 'train.nope'"),
    ("task=sentiment", "task: unknown task 'sentiment'; choose from"),
]


@pytest.mark.parametrize(("override", "says"), TRAIN_CASES)
def test_bad_train_values_exit_2_with_one_line(override, says, capsys):
    assert main(["train", "--config", RECIPE, override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attnkit: error: ") and err.count("\n") == 1 and says in err, err


ARG_CASES = [  # a verb's arguments -> the option and its range
    (["generate", "--temperature", "-1"], "argument --temperature: must be at least 0, got '-1'"),
    (["generate", "--top-k", "-3"], "argument --top-k: must be at least 1, got '-3'"),
    (["generate", "--top-p", "1.5"], "argument --top-p: must be above 0 and at most 1, got '1.5'"),
    (["generate", "--seed", str(2**70)], "--seed: must be at least 0 and at most 9223372036854775807"),
    (["generate", "--max-new-tokens", "0"], "argument --max-new-tokens: must be at least 1, got '0'"),
    (["translate", "--batch-size", "-1"], "argument --batch-size: must be at least 1, got '-1'"),
    (["eval", "--max-batches", "0"], "argument --max-batches: must be at least 1, got '0'"),
    (["eval", "--limit", "x"], "argument --limit: expected int at least 1, got 'x'"),
    (["serve", "--port", "99999"], "argument --port: must be at least 1 and at most 65535, got '99999'"),
    (["serve", "--max-queue", "-1"], "argument --max-queue: must be at least 0, got '-1'"),
]


@pytest.mark.parametrize(("argv", "says"), ARG_CASES)
def test_bad_options_exit_2_with_one_line(argv, says, capsys):
    assert main([argv[0], "--ckpt", "anything", *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"attnkit {argv[0]}: error: ") and err.count("\n") == 1 and says in err, err


def test_paths_and_input_bytes_that_cannot_work(tiny_checkpoints, tmp_path, capsys, monkeypatch):
    lm, mt = str(tiny_checkpoints["lm"]), str(tiny_checkpoints["translation"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ROMEO \xff\xfe:")))
    assert main(["generate", "--ckpt", lm, "--max-new-tokens", "3"]) == 2
    assert capsys.readouterr().err.startswith("attnkit: error: stdin: not valid UTF-8 at line 1 (byte 6")
    src = tmp_path / "in.txt"
    src.write_text("a dog runs\n", encoding="utf-8")
    assert main(["translate", "--ckpt", mt, "--input", str(src), "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"attnkit: error: Is a directory: {tmp_path}\n"
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert main(["train", "--config", RECIPE, f"out_dir={not_a_dir}", "train.max_steps=1"]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        "attnkit: train.warmup_steps=100 is more than train.max_steps=1: "
        "the learning rate never reaches train.lr"
    )
    assert error == f"attnkit: error: File exists: {not_a_dir}"


def test_version_and_dialogue_eval_print_what_they_should(tiny_checkpoints, tmp_path, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("attnkit 0.")
    d = str(tiny_checkpoints["dialogue"])
    assert main(["eval", "--ckpt", d, "--split", "valid", "--limit", "4", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "BLEU-1 " in out and "distinct-2 " in out and "ROUGE" not in out


def test_eval_falls_back_to_valid_when_there_is_no_test_split(tmp_path, tiny_corpus, capsys):
    from attnkit.api import train
    from tests.conftest import tiny_run_config

    train(tiny_run_config(tmp_path / "run", tiny_corpus, "data.test_file=null", "train.max_steps=2",
                          "train.eval_every=2"))  # fmt: skip
    capsys.readouterr()
    assert main(["eval", "--ckpt", str(tmp_path / "run" / "best"), "--json"]) == 0
    out = capsys.readouterr()
    assert out.err == "attnkit: this dataset has no test split (train, valid); evaluating valid\n"
    assert '"split": "valid"' in out.out
