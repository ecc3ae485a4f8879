"""The README's pretrained-model example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_three_line_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Pretrained models") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) == 4  # import + the three lines
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "'label': 'positive'" in printed
    page = tmp_path / "viz" / "minilm" / "attention.html"
    assert page.is_file() and "AttnView.render" in page.read_text(encoding="utf-8")
