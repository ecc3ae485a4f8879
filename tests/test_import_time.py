"""``import attnkit`` and ``attnkit --help`` load no heavy module: torch, FastAPI, the metrics'
NLTK and matplotlib come in only when a command needs them. (How long that takes is a benchmark,
benchmarks/import_time.py; which modules load is what this test holds.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "fastapi", "nltk", "matplotlib", "rouge_score", "sacrebleu", "tokenizers", "transformers")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_and_help_stay_light():
    for code in ("import attnkit", "from attnkit.cli.main import build_parser; build_parser()"):
        loaded = _loaded_after(code)
        assert sorted(m for m in HEAVY if m in loaded) == [], code


def test_lazy_names_resolve_and_the_device_help_matches_the_api():
    import attnkit
    from attnkit.api import DEVICES
    from attnkit.cli.options import DEVICE_HELP

    assert attnkit.load.__module__ == "attnkit.api" and attnkit.zero_shot.__module__ == "attnkit.quick"
    assert set(attnkit.__all__) <= set(dir(attnkit))
    assert DEVICE_HELP.startswith(f"where the model runs: {', '.join(DEVICES)} or cuda:N")
    with pytest.raises(AttributeError) as err:
        getattr(attnkit, "nothing_here")  # noqa: B009
    assert str(err.value) == "module 'attnkit' has no attribute 'nothing_here'"
