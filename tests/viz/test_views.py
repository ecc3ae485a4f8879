"""Rollout, token labels, the compact payload, the offline HTML and the PNG views."""

from __future__ import annotations

import json
import re
import warnings

import pytest
import torch

from attnkit.text.bpe import BPETokenizer
from attnkit.text.simple import CharTokenizer, WordTokenizer
from attnkit.viz import AttentionStream, attention_rollout, token_labels
from attnkit.viz.fonts import INSTALL_HINT, cjk_family
from attnkit.viz.html import render_html
from attnkit.viz.payload import SCALE, decode_weights, encode_weights, stream_payload


def _rows(t: int, causal: bool = False) -> torch.Tensor:
    w = torch.rand(t, t, dtype=torch.float64)
    if causal:
        w = w.tril()
    return w / w.sum(-1, keepdim=True)


def test_rollout_matches_hand_computation():
    a1, a2 = _rows(4), _rows(4)
    eye = torch.eye(4, dtype=torch.float64)
    w = torch.stack([a1, a2]).unsqueeze(1)  # (L, H, T, T) with one head
    expect = (0.5 * a2 + 0.5 * eye) @ (0.5 * a1 + 0.5 * eye)
    torch.testing.assert_close(attention_rollout(w).double(), expect, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(attention_rollout(w, residual=0.0).double(), a2 @ a1, atol=1e-6, rtol=1e-6)
    # heads are averaged before the residual is added
    heads = torch.stack([_rows(4), _rows(4)])  # (H, T, T)
    one = attention_rollout(heads.unsqueeze(0)).double()
    torch.testing.assert_close(one, 0.5 * heads.mean(0) + 0.5 * eye, atol=1e-6, rtol=1e-6)


def test_rollout_rows_sum_to_one_and_causal_stays_causal():
    w = torch.stack(
        [torch.stack([_rows(6, causal=True) for _ in range(3)]) for _ in range(4)]
    )  # (L, H, T, T)
    r = attention_rollout(w)
    torch.testing.assert_close(r.sum(-1), torch.ones(6))
    assert torch.equal(r.triu(1), torch.zeros(6, 6))
    assert attention_rollout(w.unsqueeze(1).expand(4, 2, 3, 6, 6)).shape == (2, 6, 6)  # batched
    with pytest.raises(ValueError, match="square"):
        attention_rollout(torch.rand(2, 1, 3, 4))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(w, head_fusion="median")


def test_labels_follow_the_text_for_every_tokenizer():
    text = "the cat sat"
    word = WordTokenizer.train(text)
    assert token_labels(word, [2, *word.encode(text), 3]) == ["<bos>", "the", "cat", "sat", "<eos>"]
    char = CharTokenizer.train("ab c")
    assert token_labels(char, char.encode("a b")) == ["a", "␣", "b"]
    # byte-level BPE trained without Chinese: each Han character is 3 byte tokens; the first two
    # complete nothing and show as a continuation mark, the third carries the character.
    bpe = BPETokenizer.train(["hello world"] * 50, vocab_size=300)
    ids = bpe.encode("hello 你好")
    labels = token_labels(bpe, ids)
    assert len(labels) == len(ids)
    assert labels == ["hello", "␣", "…", "…", "你", "…", "…", "好"]


def test_payload_roundtrip_is_within_one_quantisation_step():
    w = torch.softmax(torch.randn(2, 3, 5, 7), -1)  # (L, H, T, S)
    back = decode_weights(encode_weights(w), (2, 3, 5, 7))
    assert back.shape == w.shape
    assert float((back - w).abs().max()) <= 0.5 / SCALE + 1e-6
    s = AttentionStream("cross", w.unsqueeze(1), [0, 1], [0, 1, 2], list("abcde"), list("ABCDEFG"))
    p = stream_payload(s)
    assert p["shape"] == [2, 3, 5, 7] and p["queries"] == list("abcde") and p["title"].startswith("cross")
    with pytest.raises(ValueError, match="labels"):
        stream_payload(AttentionStream("encoder", w.unsqueeze(1), [0, 1], [0, 1, 2], ["x"], ["y"]))


def test_html_is_self_contained_and_escapes_its_input():
    w = torch.softmax(torch.randn(1, 1, 1, 3, 3), -1)
    evil = "</script><script>alert(1)</script>"
    s = AttentionStream("encoder", w, [0], [0], ["a", evil, "c"], ["a", evil, "c"])
    page = render_html({"task": "lm", "input": evil, "output": "ok", "streams": [stream_payload(s)]})
    assert "<script>alert(1)" not in page  # the label is data, not markup
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from a network
    assert "@import" not in page and "fetch(" not in page
    data = re.search(r'<script type="application/json" id="ak-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["streams"][0]["queries"][1] == evil


def test_stream_checks_its_shape():
    with pytest.raises(ValueError, match=r"\(L, B, H, T, S\)"):
        AttentionStream("encoder", torch.rand(2, 3, 3), [0], [0])
    with pytest.raises(ValueError, match="head indices"):
        AttentionStream("encoder", torch.rand(1, 1, 2, 3, 3), [0], [0])


def test_chinese_labels_render_with_a_cjk_font(tmp_path):
    import matplotlib.image

    from attnkit.viz import png

    if cjk_family() is None:
        pytest.fail(f"no CJK font is installed, so Chinese heatmap labels would be boxes; {INSTALL_HINT}")
    labels = ["我", "喜欢", "喝", "茶", "。"]
    w = torch.softmax(torch.randn(5, 5), -1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = png.heatmap(w, labels, labels, tmp_path / "zh.png", title="中文")
    missing = [str(c.message) for c in caught if "missing from font" in str(c.message)]
    assert missing == []
    img = matplotlib.image.imread(out)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


def test_alignment_and_links(tmp_path):
    from attnkit.viz import png

    w = torch.softmax(torch.randn(2, 1, 4, 3, 5), -1)  # (L, B, H, T, S)
    c = AttentionStream("cross", w, [0, 1], [0, 1, 2, 3], ["x", "y", "<eos>"], ["a", "b", "c", "d", "<eos>"])
    align = png.alignment_matrix(c)
    torch.testing.assert_close(align, w[1, 0].mean(0))  # last layer, mean of heads
    torch.testing.assert_close(png.alignment_matrix(c, layer=0), w[0, 0].mean(0))
    out = png.word_links(align, c.keys, c.queries, tmp_path / "links.png")
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="labels"):
        png.word_links(align, c.queries, c.keys, tmp_path / "bad.png")
    grid = png.head_grid(c, tmp_path / "grid.png")
    assert grid.stat().st_size > 1000
