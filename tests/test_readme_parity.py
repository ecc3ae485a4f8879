"""README.md and README.zh-CN.md stay in step: the same sections in the same order, and the same
shell commands (comments aside), so a reader of either gets the same instructions."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sections(text: str) -> list[str]:
    """The level of each heading outside code blocks, in order (``#``, ``##``, …)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [m.group(1) for m in re.finditer(r"^(#+) ", text, flags=re.M)]


def commands(text: str) -> list[str]:
    """Every command line of the ```bash blocks, without its comment, whitespace collapsed."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                out.append(re.sub(r"\s+", " ", line))
    return out


def test_both_readmes_have_the_same_sections_and_commands():
    en = (ROOT / "README.md").read_text(encoding="utf-8")
    zh = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert sections(en) == sections(zh)
    assert len(sections(en)) >= 17  # the title and 16 sections as of this test's writing
    assert commands(en) == commands(zh)
    assert len(commands(en)) > 60


def test_the_checks_see_a_difference():
    en = "# t\n## a\n```bash\nattnkit demo  # x\n```\n## b\n"
    assert sections(en) == ["#", "##", "##"] and commands(en) == ["attnkit demo"]
    assert commands(en.replace("demo", "demo --seed 1")) != commands(en)
