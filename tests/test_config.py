"""The config system: dataclasses, YAML files, dotted overrides, clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from attnkit.config import ModelConfig, apply_overrides, from_dict, load_yaml, save_yaml, to_dict


@dataclass
class _Run:
    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 10
    lr: float = 1e-3
    name: str | None = None


def test_yaml_round_trip_with_overrides(tmp_path):
    run = _Run(model=ModelConfig(d_model=32, n_heads=2), steps=5)
    path = tmp_path / "run.yaml"
    save_yaml(run, path)
    back = load_yaml(_Run, path, ["model.n_layers=3", "lr=2e-4", "name=demo", "model.n_kv_heads=1"])
    assert back.model.d_model == 32 and back.model.n_layers == 3 and back.model.n_kv_heads == 1
    assert back.lr == pytest.approx(2e-4) and back.name == "demo" and back.steps == 5
    assert to_dict(back)["model"]["n_layers"] == 3


def test_int_is_accepted_for_float_and_none_for_optional():
    run = apply_overrides(_Run(), ["lr=1", "model.n_kv_heads=null"])
    assert run.lr == 1.0 and isinstance(run.lr, float) and run.model.n_kv_heads is None


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("model.d_modle=8", r"unknown key 'model.d_modle'; valid keys: .*d_model"),
        ("steps=ten", r"steps: expected int, got str 'ten'"),
        ("model.norm=batch", r"model.norm: 'batch' is not one of 'layernorm', 'rmsnorm'"),
        ("steps.x=1", r"'steps' is not a config section"),
        ("steps", r"must look like key.sub=value"),
        ("model.bias=3", r"model.bias: expected bool"),
        ("model.n_heads=5", r"d_model=64 is not divisible by n_heads=5"),
    ],
)
def test_bad_overrides_are_clear_errors(override, match):
    with pytest.raises(ValueError, match=match):
        apply_overrides(_Run(), [override])


def test_unknown_yaml_key_lists_valid_keys(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  d_model: 32\n  heads: 2\n")
    with pytest.raises(ValueError, match=r"unknown config key\(s\) model.heads; valid keys under model"):
        load_yaml(_Run, p)
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_yaml(_Run, tmp_path / "missing.yaml")
    p.write_bytes(b"model: \xff\xfe\n")
    with pytest.raises(ValueError, match="cannot parse config"):
        load_yaml(_Run, p)


def test_from_dict_builds_nested():
    run = from_dict(_Run, {"model": {"d_model": 16, "n_heads": 2}})
    assert isinstance(run.model, ModelConfig) and run.model.head_dim == 8


def test_every_shipped_recipe_loads_and_writes_its_own_run_dir():
    from pathlib import Path

    from attnkit.api import load_config
    from attnkit.tasks import TASKS

    recipes = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
    assert len(recipes) >= 28
    cfgs = {p.relative_to(p.parents[1]).as_posix(): load_config(p) for p in recipes}  # unknown keys fail here
    assert all(c.task in TASKS for c in cfgs.values())
    out_dirs = [c.out_dir for c in cfgs.values()]
    assert len(set(out_dirs)) == len(out_dirs), "two recipes would overwrite one run directory"
    assert all(Path(c.out_dir).name == Path(name).stem for name, c in cfgs.items()), "runs/<recipe name>"
