"""A font that has Chinese glyphs, for matplotlib labels.

Matplotlib's default DejaVu Sans has no CJK glyphs: Chinese tokens would render as empty boxes.
matplotlib (>= 3.6) falls back glyph by glyph along ``font.family``, so we put a CJK font
second. If none is installed, labels with CJK text warn once with the install command.
"""

from __future__ import annotations

import functools
import re
import warnings

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Source Han Sans SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
INSTALL_HINT = (
    "install one: `apt-get install fonts-noto-cjk` (Debian/Ubuntu) or `brew install font-noto-sans-cjk`"
)
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@functools.cache
def cjk_family() -> str | None:
    """The first installed CJK font family, or None."""
    from matplotlib import font_manager

    fm = font_manager.fontManager

    def pick() -> str | None:
        installed = {f.name for f in fm.ttflist}
        return next((name for name in CJK_FAMILIES if name in installed), None)

    found = pick()
    if found is None:
        # matplotlib caches its font list once; a CJK font installed after that is only seen
        # by scanning the system fonts again and registering the CJK ones.
        for path in font_manager.findSystemFonts():
            low = path.lower()
            if any(k in low for k in ("cjk", "wqy", "wenquanyi", "droidsansfallback", "uming", "sourcehan")):
                try:
                    fm.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # an unreadable font file: try the next one
        found = pick()
    return found


@functools.cache
def _warn_once() -> None:
    warnings.warn(f"no CJK font found, so Chinese labels render as boxes; {INSTALL_HINT}", stacklevel=4)


def font_families(labels: list[str] | None = None) -> list[str]:
    """``font.family`` for labels: DejaVu Sans, then a CJK font when one is installed."""
    fam = cjk_family()
    if fam is None and labels and any(_CJK.search(s) for s in labels):
        _warn_once()
    return ["DejaVu Sans"] + ([fam] if fam else [])
