"""Write an export into a directory and run it in its engine against attnkit (see common.py).

Check inputs are fixed (seeded), use ordinary token ids (not the specials), and include a padded
row for encoders, so masks are exercised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from attnkit.export import onnx as onnx_export
from attnkit.export.common import GREEDY_TOKENS, TOLERANCE, ExportError, onnx_kind, relative_error


def _ids(model: nn.Module, shape: tuple[int, int], vocab: int | None = None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(4, vocab or model.cfg.vocab_size, shape, generator=gen)


def _verdict(err: float, quantize: str, same: int | None, what: str) -> dict:
    tol = TOLERANCE[quantize]
    if err > tol:
        raise ExportError(f"{what} differs from attnkit by {err:.2e} (relative), above the tolerance {tol:g}")
    if same is not None and quantize == "none" and same < GREEDY_TOKENS:
        raise ExportError(f"{what} chose {same} of {GREEDY_TOKENS} greedy tokens as attnkit does")
    report = {"max_relative_error": err, "tolerance": tol}
    if same is not None:
        report["greedy_tokens_equal"] = f"{same}/{GREEDY_TOKENS}"
    return report


def _greedy_same(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@torch.no_grad()
def check_onnx(model: nn.Module, d: Path, quantize: str) -> dict:
    kind = onnx_kind(model)
    path = d / "model.onnx"
    if kind == "decoder":
        names = onnx_export.export_decoder(model, path)
    else:
        onnx_export.export_encoder(model, "logits" if kind == "classifier" else "hidden", path)
    if quantize == "int8":
        fp32 = d / "model.fp32.onnx"
        path.rename(fp32)
        onnx_export.quantize_int8(fp32, path)
        fp32.unlink()
    sess = onnx_export.session(path)
    if kind != "decoder":
        ids = _ids(model, (2, 9))
        mask = torch.ones(2, 9, dtype=torch.bool)
        mask[1, 6:] = False
        out = model(ids, padding_mask=mask)
        want = out.logits if kind == "classifier" else out.hidden[mask]
        got = torch.from_numpy(sess.run(None, {"ids": ids.numpy(), "padding_mask": mask.numpy()})[0])
        got = got if kind == "classifier" else got[mask]
        return {
            "kind": kind,
            "inputs": ["ids", "padding_mask"],
            **_verdict(relative_error(got, want), quantize, None, "ONNX"),
        }
    ids = _ids(model, (1, 8))
    want = model(ids).logits[0]
    feed = dict(zip(names[1:], (p.numpy() for p in onnx_export.empty_past(model)), strict=True))
    out = sess.run(None, {"ids": ids[:, :5].numpy(), **feed})
    got = [out[0][0]]
    for i in range(5, 8):  # three cached steps through the present/past tensors
        out = sess.run(None, {"ids": ids[:, i : i + 1].numpy(), **dict(zip(names[1:], out[1:], strict=True))})
        got.append(out[0][0])
    err = relative_error(torch.from_numpy(np.concatenate(got)), want)
    ours = _attnkit_greedy(model, ids)
    theirs = onnx_greedy(sess, names, ids[0].tolist(), GREEDY_TOKENS, model)
    return {"kind": kind, "inputs": names, **_verdict(err, quantize, _greedy_same(ours, theirs), "ONNX")}


def _attnkit_greedy(model: nn.Module, ids: torch.Tensor) -> list[int]:
    from attnkit.decode.greedy import greedy_generate

    return greedy_generate(model, ids, max_new_tokens=GREEDY_TOKENS)[0, ids.shape[1] :].tolist()


def onnx_greedy(sess, names: list[str], prompt: list[int], n: int, model: nn.Module) -> list[int]:
    """Greedy decoding with an exported decoder: prefill, then one cached step per token."""
    past = [p.numpy() for p in onnx_export.empty_past(model)]
    out = sess.run(None, {"ids": np.array([prompt]), **dict(zip(names[1:], past, strict=True))})
    tokens = []
    for _ in range(n):
        tokens.append(int(out[0][0, -1].argmax()))
        out = sess.run(None, {"ids": np.array([[tokens[-1]]]), **dict(zip(names[1:], out[1:], strict=True))})
    return tokens


def _names(ids) -> list[str]:
    return [str(i) for i in ids]


@torch.no_grad()
def check_ct2_export(model: nn.Module, d: Path, quantize: str, specials: dict[str, int]) -> dict:
    import ctranslate2

    from attnkit.export import ct2
    from attnkit.models.decoder import Decoder

    ct2.write(model, d, quantize=quantize, **specials)
    if isinstance(model, Decoder):
        gen = ctranslate2.Generator(str(d), device="cpu")
        ids = _ids(model, (1, 8))
        want = model(ids).logits[0]
        got = torch.from_numpy(np.asarray(gen.forward_batch([_names(ids[0].tolist())]))[0])
        ours = _attnkit_greedy(model, ids)
        res = gen.generate_batch(
            [_names(ids[0].tolist())], max_length=GREEDY_TOKENS, sampling_topk=1,
            include_prompt_in_result=False, end_token=[],
        )  # fmt: skip
        theirs = [int(t) for t in res[0].sequences[0]]
        return {
            "kind": "decoder",
            **_verdict(relative_error(got, want), quantize, _greedy_same(ours, theirs), "CTranslate2"),
        }
    from attnkit.decode.search import greedy_search

    tr = ctranslate2.Translator(str(d), device="cpu")
    src_vocab = model.encoder.embed.tok.weight.shape[0]
    src = _ids(model, (1, 7), src_vocab)
    tgt = _ids(model, (1, 6))
    tgt[0, 0] = specials["bos"]
    logp = torch.log_softmax(model(src, tgt).logits[0, :-1], -1)  # (T-1, V): scores of tgt[1:]
    want = logp.gather(1, tgt[0, 1:, None])[:, 0]
    scored = tr.score_batch([_names(src[0].tolist())], [_names(tgt[0, 1:].tolist())])
    got = torch.tensor(scored[0].log_probs[: want.shape[0]])
    mask = torch.ones_like(src, dtype=torch.bool)
    # attnkit's max_len counts <eos>, CTranslate2's does not: one more for attnkit, then compare 12.
    ours = greedy_search(
        model, src, mask, bos_id=specials["bos"], eos_id=specials["eos"], max_len=GREEDY_TOKENS + 1
    )
    res = tr.translate_batch([_names(src[0].tolist())], beam_size=1, max_decoding_length=GREEDY_TOKENS)
    theirs = [int(t) for t in res[0].hypotheses[0]]
    same = GREEDY_TOKENS if ours[0] == theirs else _greedy_same(ours[0], theirs)
    return {"kind": "seq2seq", **_verdict(relative_error(got, want), quantize, same, "CTranslate2")}
