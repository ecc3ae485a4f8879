"""The backend registry's rules on toy backends registered (and removed) by the tests: what a
registration stores, the refusals in full, inexact backends that cannot fall back, and masks
combined with a backend's own band (`make mutate`, docs/testing.md)."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import registry
from attnkit.attention.reference import reference_attention
from attnkit.attention.registry import BACKENDS, FAMILIES, Backend, Capabilities


@pytest.fixture
def scratch(monkeypatch):
    monkeypatch.setattr(registry, "BACKENDS", dict(BACKENDS))
    monkeypatch.setattr(registry, "FAMILIES", dict(FAMILIES))
    return registry


def test_a_registration_stores_its_name_function_and_capabilities(scratch):
    def toy(q, k, v, **kw):
        return v, None

    caps = Capabilities(weights=False, exact=False)
    assert scratch.register_backend("toy", caps)(toy) is toy
    assert scratch.BACKENDS["toy"] == Backend("toy", toy, caps)
    scratch.register_backend("plain")(toy)
    assert scratch.BACKENDS["plain"].caps == Capabilities()
    with pytest.raises(ValueError) as err:
        scratch.register_backend("toy")(toy)
    assert str(err.value) == "attention backend 'toy' is already registered"


def test_a_family_registration_and_its_refusals(scratch):
    def factory(arg):
        return Backend(f"fam:{arg}", reference_attention)

    scratch.register_family("fam", factory, "a toy family")
    assert scratch.FAMILIES["fam"] == (factory, "a toy family")
    for taken in ("fam", "reference"):
        with pytest.raises(ValueError) as err:
            scratch.register_family(taken, factory, "again")
        assert str(err.value) == f"attention backend {taken!r} is already registered"


def test_an_inexact_backend_refuses_what_it_cannot_serve_in_full():
    toy = Backend("toy", lambda q, k, v, **kw: (v, None), Capabilities(weights=False, exact=False))
    q = torch.randn(1, 1, 2, 4)
    with pytest.raises(ValueError) as err:
        toy(q, q, q, need_weights=True)
    assert str(err.value) == (
        "attention backend 'toy' is not exact and cannot serve need_weights=True; use capture_attention "
        "for its weights, or another dtype"
    )
    narrow = Backend("narrow", toy.fn, Capabilities(exact=False, dtypes=(torch.float32,)))
    with pytest.raises(ValueError) as err:
        narrow(q.double(), q.double(), q.double())
    assert str(err.value).endswith(
        "cannot serve dtype torch.float64; use capture_attention for its weights, or another dtype"
    )


def test_a_backend_band_is_combined_with_the_callers_mask():
    band = torch.tensor([[True, False, False], [True, True, False]])
    seen = []

    def extra(t, s, is_causal, device):
        seen.append((t, s, is_causal, device))
        return band

    b = Backend("banded", reference_attention, extra_mask=extra)
    mask = torch.tensor([[False, True, True], [True, False, True]])
    assert torch.equal(b.effective_mask(mask, True, 2, 3, "cpu"), mask & band)
    assert torch.equal(b.effective_mask(None, False, 2, 3, "cpu"), band)
    assert seen == [(2, 3, True, "cpu"), (2, 3, False, "cpu")]
    assert Backend("plain", reference_attention).effective_mask(mask, True, 2, 3, "cpu") is mask


def test_a_fallback_keeps_the_callers_mask_and_the_band_and_says_why(scratch, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(scratch, "_warned", set())
    seen = []

    def band(t, s, is_causal, device):
        seen.append((t, s, is_causal, str(device)))
        return torch.ones(t, s, dtype=torch.bool).tril(s - t)

    fused = Backend("fused", reference_attention, Capabilities(weights=False), extra_mask=band)
    q = torch.randn(1, 1, 3, 4, dtype=torch.float64)
    k = torch.randn(1, 1, 5, 4, dtype=torch.float64)
    mask = torch.tensor([True, False, True, True, True]).expand(3, 5)
    _, w = fused(q, k, k, mask=mask, need_weights=True)
    assert seen == [(3, 5, False, "cpu")]
    allowed = mask & band(3, 5, False, "cpu")
    assert torch.equal(w[0, 0] > 0, allowed)
    narrow = Backend("narrow", reference_attention, Capabilities(dtypes=(torch.float32,)))
    with caplog.at_level(logging.WARNING, logger="attnkit.attention.registry"):
        narrow(q, k, k)
    assert [r.getMessage() for r in caplog.records][-1:] == [
        "attention backend 'narrow' cannot serve dtype torch.float64; using 'reference' for it"
    ]


def test_family_names_split_at_the_first_colon(scratch, monkeypatch):
    monkeypatch.setattr(scratch, "_family_cache", {})
    args = []
    def factory(arg):
        args.append(arg)
        return Backend(f"fam:{arg}", reference_attention)

    scratch.register_family("fam", factory, "toy")
    assert scratch.get_backend("fam:a:b").name == "fam:a:b" and args == ["a:b"]
    assert scratch.get_backend("fam:a:b") is scratch.get_backend("fam:a:b") and args == ["a:b"]  # cached
    with pytest.raises(ValueError, match=r"unknown attention backend 'nofam:1'; available: .*fam:<arg>"):
        scratch.get_backend("nofam:1")
