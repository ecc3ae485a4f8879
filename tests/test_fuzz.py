"""Fuzzing with hypothesis: the override grammar and the tokenizers take any input and either
work or raise a ValueError that says what is wrong; nothing else escapes. Bounded example counts
keep this in the default suite (a few seconds)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnkit.config.base import apply_overrides, parse_value
from attnkit.config.run import RunConfig
from attnkit.text import BPETokenizer, build_tokenizer

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.booleans()
    | st.none()
    | st.from_regex(r"[a-z][a-z0-9_/.-]{0,12}", fullmatch=True).filter(
        lambda s: s.lower() not in ("true", "false", "null", "inf", "nan", "infinity")
    )
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


def render(v) -> str:
    """How a user would write ``v`` on the command line."""
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v) if isinstance(v, float) else str(v)


@FAST
@given(values)
def test_what_a_user_writes_parses_back(v):
    assert parse_value(render(v)) == v


@FAST
@given(st.text(max_size=60))
def test_any_text_is_a_value_or_a_value_error(raw):
    try:
        out = parse_value(raw)
    except ValueError as e:
        assert str(e)  # says something
    else:
        assert out is None or isinstance(out, bool | int | float | str | list)


@FAST
@given(st.text(max_size=40), st.text(max_size=40))
def test_any_override_is_applied_or_refused_with_a_value_error(key, raw):
    try:
        cfg = apply_overrides(RunConfig(), [f"{key}={raw}"])
    except ValueError as e:
        assert str(e)
    else:
        assert isinstance(cfg, RunConfig)


def test_the_grammar_is_not_yaml():
    assert parse_value("1:30") == "1:30"  # YAML 1.1 reads 90
    assert parse_value("yes") == "yes" and parse_value("off") == "off"  # YAML 1.1 booleans
    assert parse_value("none") == "none"  # a Literal value (model.positions=none), not null
    assert parse_value("3e-4") == 3e-4 and math.isinf(parse_value("inf"))
    assert parse_value("[[1, [2]], 'a,b', \"c\\nd\"]") == [[1, [2]], "a,b", "c\nd"]
    for bad, says in [
        ("[1, 2", "unbalanced brackets"),
        ("'abc", "unclosed quote"),
        ("[" * 9 + "]" * 9, "nested more than 8 deep"),
        ('"\\x"', "bad double-quoted string"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_value(bad)


CORPUS = "the cat sat on the mat. 你好，世界！ café naïve ☃\n"
unicode_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@pytest.fixture(scope="module")
def tokenizers():
    return {
        "char": build_tokenizer("char", CORPUS),
        "word": build_tokenizer("word", CORPUS),
        "bpe": BPETokenizer.train([CORPUS] * 4, 300),
    }


@FAST
@given(text=unicode_text)
def test_tokenizers_take_any_unicode_lone_surrogates_included(tokenizers, text):
    for kind, tok in tokenizers.items():
        ids = tok.encode(text, add_bos=True, add_eos=True)
        assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id, kind
        assert all(0 <= i < tok.vocab_size for i in ids), kind
        out = tok.decode(ids)
        assert isinstance(out, str) and not any("\ud800" <= ch <= "\udfff" for ch in out), kind
        if kind == "bpe":  # byte-level: every character but a lone surrogate comes back
            want = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
            assert out == want


@FAST
@given(text=st.text(st.sampled_from(sorted(set(CORPUS) - {"\n"})), max_size=40))
def test_char_tokenizer_round_trips_its_alphabet(tokenizers, text):
    tok = tokenizers["char"]
    assert tok.decode(tok.encode(text)) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "text": st.text(max_size=40) | json_values,
        "model": st.sampled_from(["lm", "translation", "nope"]) | json_values,
        "history": st.lists(st.text(max_size=20), max_size=3) | json_values,
        "max_new_tokens": st.integers(-5, 40) | json_values,
        "temperature": st.floats() | json_values,
        "seed": st.integers() | json_values,
        "beam": st.integers(-2, 20) | json_values,
        "labels": st.text(max_size=30) | json_values,
        "attention": st.booleans() | json_values,
        "layers": st.lists(st.integers(-3, 5), max_size=3) | json_values,
    },
)


@pytest.fixture(scope="module")
def client(tiny_checkpoints):
    from fastapi.testclient import TestClient

    import attnkit
    from attnkit.serve import ServeLimits, create_app

    models = {t: attnkit.load(tiny_checkpoints[t]) for t in ("lm", "translation")}
    return TestClient(create_app(models, ServeLimits(max_new_tokens=8)))


ENDPOINTS = ["generate", "translate", "summarize", "chat", "classify", "embed", "zero-shot"]
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@given(verb=st.sampled_from(ENDPOINTS), body=bodies)
def test_any_json_body_gets_an_answer_or_a_4xx_error(client, verb, body):
    raw = json.dumps(body)  # NaN and Infinity included, as a careless client would send them
    r = client.post(f"/api/{verb}", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code < 500, (verb, body, r.text[:300])
    data = r.json()
    assert ("output" in data) if r.status_code == 200 else (list(data) == ["error"] and data["error"])
