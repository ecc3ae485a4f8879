"""The backend registry: lookup, errors, capabilities and the logged fallback."""

from __future__ import annotations

import logging

import pytest
import torch

from attnkit.attention import BACKENDS, get_backend, list_backends, register_backend, registry


def test_unknown_backend_lists_available_names():
    with pytest.raises(ValueError, match=r"unknown attention backend 'flash9'.*reference.*sdpa"):
        get_backend("flash9")


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_backend("sdpa")(lambda *a, **k: None)


def test_list_is_sorted_and_contains_core_backends():
    names = list_backends()
    assert names == sorted(names)
    assert {"reference", "sdpa"} <= set(names)


def test_need_weights_on_fused_backend_falls_back_with_one_warning(caplog, monkeypatch):
    monkeypatch.setattr(registry, "_warned", set())
    q = torch.randn(1, 2, 4, 8)
    with caplog.at_level(logging.WARNING, logger="attnkit.attention.registry"):
        _, w1 = get_backend("sdpa")(q, q, q, need_weights=True)
        _, w2 = get_backend("sdpa")(q, q, q, need_weights=True)
    assert w1 is not None and w1.shape == (1, 2, 4, 4)
    torch.testing.assert_close(w1, w2)
    torch.testing.assert_close(w1.sum(-1), torch.ones(1, 2, 4))
    warnings = [r for r in caplog.records if "cannot serve need_weights" in r.getMessage()]
    assert len(warnings) == 1


def test_capabilities_are_declared():
    assert BACKENDS["reference"].caps.weights is True
    assert BACKENDS["sdpa"].caps.weights is False
    assert all(b.caps.gqa for b in BACKENDS.values())


@pytest.mark.parametrize(
    ("q", "k", "v", "mask", "match"),
    [
        ((2, 4, 5, 8), (2, 4, 5, 8, 1), (2, 4, 5, 8), None, r"4-D q"),
        ((2, 4, 5, 8), (3, 4, 5, 8), (3, 4, 5, 8), None, r"batch mismatch: q\(2, 4, 5, 8\)"),
        ((2, 4, 5, 8), (2, 4, 5, 6), (2, 4, 5, 6), None, r"head dim mismatch"),
        ((2, 4, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, r"H=4 must be a multiple of .* Hkv=3"),
        ((2, 4, 5, 8), (2, 4, 5, 8), (2, 4, 6, 8), None, r"k and v must have the same shape"),
        ((2, 4, 5, 8), (2, 4, 7, 8), (2, 4, 7, 8), (2, 1, 1, 5), r"mask of shape \(2, 1, 1, 5\)"),
    ],
)
@pytest.mark.parametrize("backend", ["reference", "sdpa"])
def test_bad_shapes_raise_value_errors_naming_shapes(backend, q, k, v, mask, match):
    m = torch.ones(mask, dtype=torch.bool) if mask else None
    with pytest.raises(ValueError, match=match):
        get_backend(backend)(torch.randn(q), torch.randn(k), torch.randn(v), mask=m)


def test_float_mask_is_rejected():
    q = torch.randn(1, 1, 3, 4)
    with pytest.raises(ValueError, match="bool with True = may attend"):
        get_backend("sdpa")(q, q, q, mask=torch.zeros(3, 3))
