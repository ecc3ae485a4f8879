"""attnkit's one config system: dataclasses, YAML files of plain values, dotted overrides.

Every concern (model, data, training, decoding) is a ``@dataclass`` with defaults and a docstring
per field. A YAML file holds values only, nested the same way as the dataclasses; overrides on the
command line are ``section.field=value`` with the value parsed as YAML and type-checked against
the field. Unknown keys are errors that list the valid ones, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert dicts to nested dataclasses."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[-1] if errors else f"{where}: {value!r} is not {_type_name(tp)}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (item,) = get_args(tp)[:1] or (Any,)
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return origin(items)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads "3e-4" (no dot) as a string; accept what Python reads as a float.
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{where}: expected float, got str {value!r}") from None
    if tp is int and isinstance(value, bool):
        raise ValueError(f"{where}: expected int, got bool {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ValueError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys and wrong types."""
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(names))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ValueError(
            f"unknown config key(s) {', '.join(prefix + u for u in unknown)}; "
            f"valid keys{' under ' + where if where else ''}: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


_RANGES = {  # rule -> (test, wording)
    ">0": (lambda v: v > 0, "above 0"),
    ">=0": (lambda v: v >= 0, "0 or more"),
    ">=1": (lambda v: v >= 1, "1 or more"),
    "(0,1]": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "[0,1)": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "[0,100)": (lambda v: 0 <= v < 100, "a percentage in [0, 100)"),
    "any": (lambda v: True, "a finite number"),
}


def check_ranges(obj: Any, section: str, rules: dict[str, str]) -> None:
    """Refuse a field outside its range, naming it, its value and the range. ``rules`` maps a
    field to one of ``_RANGES``; None passes (an optional field left unset); a float must also be
    finite (NaN and infinity are never a setting)."""
    for name, rule in rules.items():
        v = getattr(obj, name)
        if v is None or isinstance(v, bool):
            continue
        test, wording = _RANGES[rule]
        if not (math.isfinite(v) and test(v)):
            raise ValueError(f"{section}.{name}={v!r} is out of range: it must be {wording}")


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (safe to dump as YAML)."""
    d = dataclasses.asdict(obj)
    return _plain(d)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


_INT = re.compile(r"[+-]?\d(_?\d)*")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)
_WORDS = {"true": True, "false": False, "null": None, "~": None}
MAX_LIST_DEPTH = 8


def parse_value(raw: str, depth: int = 0) -> Any:
    """An override's value, by one small grammar (not YAML: no sexagesimal ``1:30``, no anchors):

    - ``true`` / ``false``, ``null`` / ``~`` (any case); an empty value is ``""``;
    - integers (``12``, ``-3``, ``1_000``) and floats (``3e-4``, ``.5``, ``inf``, ``nan``);
    - a list ``[a, b, [c, d]]`` of values (nested at most 8 deep);
    - ``"double quoted"`` (JSON escapes such as ``\n``) or ``'single quoted'`` strings;
    - anything else is the text itself, stripped.

    Raises:
        ValueError: an unbalanced list or quote, or a list nested too deep.
    """
    s = raw.strip()
    if s.lower() in _WORDS:
        return _WORDS[s.lower()]
    if _INT.fullmatch(s):
        return int(s)
    if _FLOAT.fullmatch(s):
        return float(s)
    if s[:1] == "[" or s[-1:] == "]":
        return _parse_list(s, depth)
    if s[:1] in "\"'" and s:
        if len(s) < 2 or s[-1] != s[0]:
            raise ValueError(f"unclosed quote in {raw!r}")
        if s[0] == "'":
            return s[1:-1]
        try:
            return json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"bad double-quoted string {raw!r}: {e.msg}") from None
    return s


def _parse_list(s: str, depth: int) -> list:
    if not (s.startswith("[") and s.endswith("]")):
        raise ValueError(f"unbalanced brackets in {s!r}; a list looks like [1, 2, 3]")
    if depth >= MAX_LIST_DEPTH:
        raise ValueError(f"lists nested more than {MAX_LIST_DEPTH} deep in {s!r}")
    items, level, quote, start = [], 0, "", 1
    for i, ch in enumerate(s[1:-1], start=1):  # split on the commas of this level only
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            level += 1
        elif ch == "]":
            level -= 1
            if level < 0:
                raise ValueError(f"unbalanced brackets in {s!r}; a list looks like [1, 2, 3]")
        elif ch == "," and level == 0:
            items.append(s[start:i])
            start = i + 1
    if level or quote:
        raise ValueError(f"unbalanced {'quote' if quote else 'brackets'} in {s!r}")
    items.append(s[start:-1])
    if len(items) == 1 and not items[0].strip():
        return []
    return [parse_value(item, depth + 1) for item in items]


def apply_overrides(obj: T, overrides: typing.Iterable[str]) -> T:
    """Return a copy of ``obj`` with ``a.b=value`` overrides applied (values by :func:`parse_value`).

    Raises:
        ValueError: for a malformed override, an unknown key (listing the valid ones) or a value
            of the wrong type.
    """
    data = to_dict(obj)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                here = ".".join(parts[: i + 1])
                raise ValueError(
                    f"override {item!r}: {here!r} is not a config section; "
                    f"sections here: {', '.join(k for k, v in node.items() if isinstance(v, dict)) or 'none'}"
                )
            node = node[part]
        if parts[-1] not in node:
            raise ValueError(f"override {item!r}: unknown key {key!r}; valid keys: {', '.join(sorted(node))}")
        try:
            node[parts[-1]] = parse_value(raw) if raw.strip() else ""
        except ValueError as e:
            raise ValueError(f"override {item!r}: {e}") from None
    return from_dict(type(obj), data)


def load_yaml(cls: type[T], path: str | os.PathLike, overrides: typing.Iterable[str] = ()) -> T:
    """Read a YAML config into ``cls``, then apply dotted overrides."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"cannot parse config {p}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"config {p} must be a mapping at the top level, got {type(data).__name__}")
    return apply_overrides(from_dict(cls, data), overrides)


def save_yaml(obj: Any, path: str | os.PathLike) -> None:
    """Write a config as YAML atomically (temp file in the same dir, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(to_dict(obj), f, sort_keys=False, allow_unicode=True)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
