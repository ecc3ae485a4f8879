"""Checkpoint files on their own: optimizer state of any shape, where a checkpoint is found,
what is optional, and the exact refusals. Built on tiny objects so each rule is checked directly.
Written for `make mutate MODULE=attnkit/training/checkpoint.py` (docs/testing.md).
"""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from attnkit.config import RunConfig
from attnkit.text import CharTokenizer
from attnkit.training import checkpoint as ckpt


class Tallying(torch.optim.Optimizer):
    """An optimizer whose state holds plain numbers and tensors, with dotted names."""

    def __init__(self, params) -> None:
        super().__init__(params, {"lr": 0.1})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["calls"] = st.get("calls", 0) + 1
                st["scale.last"] = 0.5 * st["calls"]
                st["trace.sum"] = st.get("trace.sum", torch.zeros_like(p)) + p.detach()


def _save(tmp_path, name="ck", **kw):
    model = nn.Linear(2, 2)
    return ckpt.save_checkpoint(
        tmp_path / name, model=model, cfg=RunConfig(), tokenizer=CharTokenizer.train("ab"), **kw
    ), model


def test_optimizer_state_round_trips_numbers_tensors_and_dotted_names(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    opt = Tallying(model.parameters())
    opt.step()
    opt.step()
    d = tmp_path / "opt"
    d.mkdir()
    ckpt._optimizer_to_files(opt, d)
    again = Tallying(model.parameters())
    ckpt._optimizer_from_files(again, d)
    for p in model.parameters():
        a, b = opt.state[p], again.state[p]
        assert set(b) == {"calls", "scale.last", "trace.sum"}
        assert b["calls"] == a["calls"] == 2 and b["scale.last"] == a["scale.last"] == 1.0
        assert torch.equal(b["trace.sum"], a["trace.sum"])
    assert again.param_groups[0]["lr"] == 0.1


def test_a_checkpoint_is_found_at_its_path_its_old_twin_or_a_run_directory(tmp_path):
    path, _ = _save(tmp_path)
    assert ckpt.resolve_checkpoint(path) == path
    os.replace(path, tmp_path / "ck.old")  # a crash between the two renames of a save
    assert ckpt.resolve_checkpoint(path) == tmp_path / "ck.old"
    run = tmp_path / "run"
    run.mkdir()
    os.replace(tmp_path / "ck.old", run / "last")
    assert ckpt.resolve_checkpoint(run) == run / "last"
    with pytest.raises(FileNotFoundError, match=f"no checkpoint at {tmp_path / 'nowhere'}: expected"):
        ckpt.resolve_checkpoint(tmp_path / "nowhere")


def test_rng_state_is_optional(tmp_path):
    path, _ = _save(tmp_path)
    assert ckpt.load_rng(path) == {}
    state = {"torch": torch.get_rng_state()}
    path, _ = _save(tmp_path, "with_rng", rng=state)
    assert torch.equal(ckpt.load_rng(path)["torch"], state["torch"])


def test_a_swapped_tokenizer_is_refused_with_the_whole_story(tmp_path):
    path, _ = _save(tmp_path)
    manifest = ckpt.read_manifest(path)
    cfg = RunConfig()
    cfg.model.vocab_size = 7
    CharTokenizer.train("abc").save(path / "tokenizer.json")
    with pytest.raises(ValueError) as err:
        ckpt.load_tokenizer_checked(path, manifest, cfg)
    assert str(err.value) == (
        f"{path}: tokenizer.json does not match this checkpoint (vocab 7, model vocab 7); it was "
        "replaced or edited. Restore the tokenizer saved with the model"
    )


def test_manifest_records_what_loading_checks(tmp_path):
    tok = CharTokenizer.train("ab")
    path, model = _save(tmp_path, step=12, metrics={"loss": 1.5}, schedule_steps=40)
    m = ckpt.read_manifest(path)
    assert m == {
        "format": 1,
        "step": 12,
        "metrics": {"loss": 1.5},
        "schedule_steps": 40,
        "model_class": "Linear",
        "vocab_size": tok.vocab_size,
        "tokenizer_sha256": tok.fingerprint(),
    }
    assert "schedule_steps" not in ckpt.read_manifest(_save(tmp_path, "plain")[0])
    other = nn.Linear(2, 2)
    ckpt.load_weights(other, path)
    assert torch.equal(other.weight, model.weight)


def test_weights_that_do_not_fit_are_refused_naming_at_most_five_keys(tmp_path):
    path, _ = _save(tmp_path)  # nn.Linear(2, 2): weight, bias
    wide = nn.Sequential(*[nn.Linear(2, 2) for _ in range(4)])
    with pytest.raises(ValueError) as err:
        ckpt.load_weights(wide, path)
    assert str(err.value) == (
        f"{path / 'model.safetensors'} does not fit Sequential built from config.yaml: missing "
        "['0.bias', '0.weight', '1.bias', '1.weight', '2.bias'], unexpected ['bias', 'weight']"
    )
    extra = nn.Linear(2, 2)
    extra.register_parameter("gate", nn.Parameter(torch.zeros(1)))  # missing only, none unexpected
    with pytest.raises(ValueError, match=r"does not fit Linear built from config.yaml: missing \['gate'\], "):
        ckpt.load_weights(extra, path)
    (path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError) as err:
        ckpt.load_weights(nn.Linear(2, 2), path)
    assert str(err.value) == f"{path / 'model.safetensors'} is missing"


def test_manifests_that_cannot_be_read_or_are_another_format_are_refused(tmp_path):
    path, _ = _save(tmp_path)
    (path / "manifest.json").write_text('{"format": 2}', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        ckpt.read_manifest(path)
    assert str(err.value) == f"{path}: checkpoint format 2, this attnkit reads 1"
    (path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}/manifest.json is unreadable: Expecting"):
        ckpt.read_manifest(path)


def test_saving_over_a_checkpoint_swaps_it_whole_and_a_crash_keeps_the_old_one(tmp_path, monkeypatch):
    first, _ = _save(tmp_path / "a" / "b", step=1)  # parents are created
    assert ckpt.read_manifest(_save(tmp_path, "zero")[0])["step"] == 0  # the default step
    stale = first.with_name(f".{first.name}.tmp-{os.getpid()}")
    stale.mkdir()
    (stale / "junk").write_text("left by a killed save")
    _save(tmp_path / "a" / "b", step=2)
    assert ckpt.read_manifest(first)["step"] == 2
    assert sorted(p.name for p in first.parent.iterdir()) == ["ck"]  # no .old, no temporary
    real = os.replace

    def crash_before_the_new_one_lands(src, dst):  # after the old one moved to ck.old
        if str(dst) == str(first) and ".tmp-" in str(src):
            raise OSError("power cut")
        real(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", crash_before_the_new_one_lands)
    with pytest.raises(OSError, match="power cut"):
        _save(tmp_path / "a" / "b", step=3)
    monkeypatch.setattr(ckpt.os, "replace", real)
    assert not first.exists()
    found = ckpt.resolve_checkpoint(first)
    assert found.name == "ck.old" and ckpt.read_manifest(found)["step"] == 2


class ScalarsOnly(torch.optim.Optimizer):
    def __init__(self, params) -> None:
        super().__init__(params, {"lr": 0.1})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["calls"] = self.state[p].get("calls", 0) + 1


def test_an_optimizer_state_of_plain_numbers_only_round_trips(tmp_path):
    model = nn.Linear(2, 1)
    opt = ScalarsOnly(model.parameters())
    opt.step()
    ckpt._optimizer_to_files(opt, tmp_path)
    again = ScalarsOnly(model.parameters())
    ckpt._optimizer_from_files(again, tmp_path)
    assert [again.state[p] for p in model.parameters()] == [{"calls": 1}, {"calls": 1}]


def test_refusals_name_at_most_five_unexpected_keys_and_say_where_to_look(tmp_path):
    wide = nn.Sequential(*[nn.Linear(2, 2) for _ in range(4)])
    tok = CharTokenizer.train("ab")
    path = ckpt.save_checkpoint(tmp_path / "wide", model=wide, cfg=RunConfig(), tokenizer=tok)
    with pytest.raises(ValueError) as err:
        ckpt.load_weights(nn.Linear(2, 2), path)
    assert str(err.value).endswith(
        "missing ['bias', 'weight'], unexpected ['0.bias', '0.weight', '1.bias', '1.weight', '2.bias']"
    )
    with pytest.raises(FileNotFoundError) as err:
        ckpt.resolve_checkpoint(tmp_path / "nowhere")
    assert str(err.value) == (
        f"no checkpoint at {tmp_path / 'nowhere'}: expected a directory with manifest.json, "
        "model.safetensors, config.yaml and tokenizer.json (or a run directory containing last/); "
        "attnkit.load also takes a pretrained name (minilm, smollm2) or an HF-format directory with "
        "config.json"
    )


def test_a_save_clears_an_old_twin_left_by_an_earlier_crash(tmp_path):
    # A crash after the new checkpoint landed but before ck.old was removed leaves both.
    path, _ = _save(tmp_path, step=1)
    _save(tmp_path, "ck.old", step=0)
    _save(tmp_path, step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"] and ckpt.read_manifest(path)["step"] == 2
