"""The standalone head view / model view: one HTML file that opens from disk with no network.

The viewer's JavaScript and CSS (``attnkit/viz/static``) and the compressed weights are inlined;
the page loads nothing else, so it works offline and can be mailed or archived as one file.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from attnkit.viz.payload import output_text

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}
body {{ margin: 16px; font: 14px/1.4 system-ui, "Noto Sans CJK SC", sans-serif; }}
.ak-io {{ background: #f6f6f6; padding: 8px; border-radius: 4px; white-space: pre-wrap; }}
</style></head>
<body>
<h2>{title}</h2>
<div class="ak-io"><b>input</b>: {input}</div>
<div class="ak-io"><b>output</b>: {output}</div>
<div id="ak-view"></div>
<script type="application/json" id="ak-data">{data}</script>
<script>{js}</script>
<script>
AttnView.render(document.getElementById("ak-view"),
  JSON.parse(document.getElementById("ak-data").textContent));
</script>
</body></html>
"""


def static_text(name: str) -> str:
    """A bundled viewer asset (``attnview.js``, ``attnview.css``)."""
    return resources.files("attnkit.viz").joinpath("static", name).read_text(encoding="utf-8")


def _json_in_script(obj: Any) -> str:
    # "</script" would end the element early and "<!--" changes how it is parsed; "\u003c" is
    # the same character to JSON.parse and never markup.
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c")


def _folded(text: str, keep: int = 300) -> str:
    """Escaped ``text``; past ``keep`` characters the rest folds into a <details> element."""
    if len(text) <= keep:
        return html.escape(text)
    return (
        f"<details><summary>{html.escape(text[:keep])}… ({len(text):,} characters)</summary>"
        f"{html.escape(text)}</details>"
    )


def render_html(payload: dict[str, Any], title: str = "attnkit attention") -> str:
    return TEMPLATE.format(
        title=html.escape(title),
        css=static_text("attnview.css"),
        js=static_text("attnview.js"),
        input=_folded(str(payload.get("input", ""))),
        output=_folded(output_text(payload.get("output")) or "—"),
        data=_json_in_script(payload),
    )


def write_html(payload: dict[str, Any], path: str | Path, title: str = "attnkit attention") -> Path:
    """Write the viewer for ``payload`` (:func:`attnkit.viz.payload.view_payload`) atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(render_html(payload, title), encoding="utf-8")
    tmp.replace(p)
    return p
