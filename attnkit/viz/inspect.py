"""Run a trained checkpoint on one input and keep every attention map it used.

``inspect_attention`` does what the task does (generate, translate, summarize, reply or
classify), then runs the model once more, teacher-forced on its own output, with attention
capture on. The maps are those of that forward pass:

- ``encoder``: source (or classified text) tokens attending to each other;
- ``decoder``: output tokens attending to earlier output tokens (an LM's prompt included);
- ``cross``: each output token's decoder state attending to the source tokens. Row t is the
  state that *predicted* output token t, so rows are labelled with the tokens they produced.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from attnkit.api import LoadedModel
from attnkit.decode.generate import generate_ids
from attnkit.viz.rollout import attention_rollout
from attnkit.viz.streams import AttentionStream, capture_streams
from attnkit.viz.tokens import token_labels

log = logging.getLogger(__name__)


@dataclass
class AttentionView:
    """A task's output on one input and the attention streams behind it."""

    task: str
    input: str
    output: Any
    """Text for generation/seq2seq tasks, ``{"label", "probs"}`` for classification."""
    streams: dict[str, AttentionStream]
    meta: dict[str, Any] = field(default_factory=dict)

    def rollout(self, stream: str | None = None) -> AttentionStream:
        """Attention rollout of a self-attention stream (default: the encoder, else the decoder)."""
        name = stream or ("encoder" if "encoder" in self.streams else "decoder")
        if name not in self.streams or name == "cross":
            raise ValueError(f"rollout needs a self-attention stream; this view has {list(self.streams)}")
        s = self.streams[name]
        n_layers = self.meta.get("n_layers", {}).get(name)
        if n_layers is not None and s.layers != list(range(n_layers)):
            raise ValueError(
                f"rollout needs every layer 0..{n_layers - 1} of the {name}; captured {s.layers} "
                "(drop --layers to capture all)"
            )
        r = attention_rollout(s.weights)  # (L, B, H, T, T) -> (B, T, T)
        w = r[None, :, None]  # (B, T, T) -> (1, B, 1, T, T)
        return AttentionStream("rollout", w, [s.layers[-1]], [0], list(s.queries), list(s.keys))


@dataclass
class InspectRequest:
    """One input to inspect, as :func:`inspect_attention` received it (an inspector's argument)."""

    text: str | None = None
    history: Sequence[str] | None = None
    audio: Any = None
    max_new_tokens: int = 0
    layers: Sequence[int] | None = None
    heads: Sequence[int] | None = None
    decode: dict[str, Any] = field(default_factory=dict)

    @property
    def selection(self) -> dict[str, Any]:
        return {"layers": self.layers, "heads": self.heads}


def _layer_counts(lm: LoadedModel) -> dict[str, int]:
    m = lm.cfg.model
    if lm.kind.family == "seq2seq":
        return {"encoder": m.n_encoder_layers or m.n_layers, "decoder": m.n_layers, "cross": m.n_layers}
    return {"decoder" if lm.kind.family == "decoder" else "encoder": m.n_layers}


def _check_len(n: int, limit: int, what: str, knob: str) -> None:
    if n > limit:
        raise ValueError(f"{what} is {n} tokens; this model takes at most {limit} ({knob})")


def _need_text(text: str | None) -> str:
    if not text or not text.strip():
        raise ValueError("the input text is empty")
    return text


def _meta(lm: LoadedModel, **more: Any) -> dict[str, Any]:
    return {"n_layers": _layer_counts(lm), "checkpoint": str(lm.path), **more}


def inspect_attention(
    lm: LoadedModel,
    text: str | None = None,
    *,
    history: Sequence[str] | None = None,
    audio: Any = None,
    max_new_tokens: int = 0,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    **decode: Any,
) -> AttentionView:
    """The task's output for ``text`` (``history`` for a conversation, ``audio`` for speech) and
    its attention maps, by the inspector the task's registry entry names.

    Args:
        text: the prompt (LM), source (translation/summarization), text to classify, or for
            dialogue the last turn (``history`` takes the whole conversation instead).
        max_new_tokens: for an LM, tokens to generate after the prompt (0 shows the prompt alone).
        layers, heads: the block indices and head indices to keep (default all).
        decode: decode overrides for the generating tasks (``beam_size=1``, ``temperature=…``).

    Raises:
        ValueError: empty or over-long input, a model without attention, or a bad selection.
    """
    inspect = lm.kind.resolve("inspect")
    if inspect is None:
        raise ValueError(f"no attention view for task {lm.cfg.task!r}")
    return inspect(lm, InspectRequest(text, history, audio, max_new_tokens, layers, heads, decode))


def inspect_lm(lm: LoadedModel, req: InspectRequest) -> AttentionView:
    """A decoder's prompt and continuation (an instruction-tuned LM's chat reply when
    ``req.history`` is given), over exactly the tokens the model read and wrote (no re-tokenizing)."""
    if req.history:
        prompt = lm.chat_prompt(req.history)
        turn = dataclasses.replace(req, text=prompt, history=None, max_new_tokens=req.max_new_tokens or 128)
        view = inspect_lm(lm, turn)
        view.input, view.output = "\n".join(req.history), view.output.strip()
        view.meta["prompt"] = prompt
        return view
    tok, device = lm.tokenizer, next(lm.model.parameters()).device
    ids = tok.encode(_need_text(req.text)) or [tok.bos_id]
    meta = _meta(lm, prompt_tokens=len(ids))
    new: list[int] = []
    if req.max_new_tokens > 0:
        cfg = dataclasses.replace(lm.cfg.decode, max_new_tokens=req.max_new_tokens, **req.decode)
        for nxt in generate_ids(lm.model, torch.tensor([ids], device=device), cfg, stop_ids=(tok.eos_id,)):
            if int(nxt[0]) == tok.eos_id:
                break
            new.append(int(nxt[0]))
    ids = ids + new
    limit = lm.cfg.model.max_seq_len
    if len(ids) > limit:  # generation slides its window the same way: show the last one
        meta["shown_from_token"] = len(ids) - limit
        ids = ids[-limit:]
    meta["ids"] = ids
    streams = capture_streams(lm.model, torch.tensor([ids], device=device), **req.selection)
    streams["decoder"].queries = streams["decoder"].keys = token_labels(tok, ids)
    return AttentionView(lm.cfg.task, req.text, tok.decode(new), streams, meta)


TEMPLATE_MARK = "§"
"""Prefix of the labels of a prompt template's own tokens (not the source, not the output)."""


def inspect_prompted(lm: LoadedModel, req: InspectRequest) -> AttentionView:
    """A decoder-only pair model (``summarization-lm``, …): its output for ``req.text`` (or the
    dialogue ``req.history``; up to ``req.max_new_tokens`` tokens, 0 = the task's own cap) and the
    decoder's attention over prompt and output. The prompt
    template's own tokens are labelled with a leading ``§``; ``meta["segments"]`` gives each
    position's part (``template``, ``source`` or ``output``)."""
    from attnkit.decode.prompted import search

    pred = lm.predictor
    source = pred.context(req.history) if req.history and hasattr(pred, "context") else _need_text(req.text)
    tok, template, device = lm.tokenizer, pred.template, next(lm.model.parameters()).device
    prompt = pred.prompt(source)
    cfg = dataclasses.replace(lm.cfg.decode, **req.decode)
    cap = req.max_new_tokens or 2 * lm.cfg.data.max_tgt_len  # 0: as long as the task's outputs may be
    new = search(lm.model, [prompt], cfg, pad_id=tok.pad_id, eos_id=tok.eos_id, max_new=cap)[0]
    ids = prompt + new
    tail = len(tok.encode(template.tail))
    head = template.overhead(tok) - tail  # template tokens before the source
    tail_at = len(prompt) - tail
    segments = ["source" if head <= i < tail_at else "template" for i in range(len(prompt))]
    segments += ["output"] * len(new)
    labels = [f"{TEMPLATE_MARK}{lab}" if seg == "template" else lab
              for lab, seg in zip(token_labels(tok, ids), segments, strict=True)]  # fmt: skip
    streams = capture_streams(lm.model, torch.tensor([ids], device=device), **req.selection)
    streams["decoder"].queries = streams["decoder"].keys = labels
    meta = _meta(lm, prompt_tokens=len(prompt), ids=ids, segments=segments, prompt=template.render(source))
    return AttentionView(lm.cfg.task, source, tok.decode(new).strip(), streams, meta)


def inspect_encoder(lm: LoadedModel, req: InspectRequest) -> AttentionView:
    """An encoder's self-attention over the text it read, with the task's main output
    (a classifier's labels, an embedding model's vector)."""
    text = _need_text(req.text)
    full, limit = lm.predictor.encode(text, limit=False), lm.predictor.max_tokens
    ids, notes = full[:limit], []
    if len(full) > limit:  # the model reads only these: say so, with the numbers
        notes.append(f"the text is {len(full)} tokens; the model reads (the view too) the first {limit}")
        log.warning("%s", notes[-1])
    if lm.kind.main_verb == "embed":
        e = lm.embed([text])[0]
        output: Any = {"dim": int(e.numel()), "embedding": [round(float(x), 5) for x in e]}
    else:
        output = lm.classify([text])[0]
    device = next(lm.model.parameters()).device
    streams = capture_streams(lm.model, torch.tensor([ids], device=device), **req.selection)
    streams["encoder"].queries = streams["encoder"].keys = token_labels(lm.tokenizer, ids)
    return AttentionView(lm.cfg.task, text, output, streams, _meta(lm, notes=notes))


def inspect_seq2seq(lm: LoadedModel, req: InspectRequest) -> AttentionView:
    """Source, output, and the encoder, decoder and cross streams of the teacher-forced pass
    over the model's own output. A dialogue model reads ``req.history`` (or the text as one turn)."""
    from attnkit.decode.seq2seq import encode_sources

    if hasattr(lm.predictor, "context"):  # a dialogue model: the conversation is the input
        turns = list(req.history) if req.history else ([req.text] if req.text else [])
        if not turns or not all(t.strip() for t in turns):
            raise ValueError("dialogue needs at least one non-empty turn")
        text, source = "\n".join(turns), lm.predictor.context(turns)
    else:
        text = source = _need_text(req.text)
    tok, device = lm.tokenizer, next(lm.model.parameters()).device
    src = encode_sources(tok, [source], lm.cfg.data)[0]
    output = lm.transduce([source], **req.decode)[0]
    out_ids = tok.encode(output.lower() if lm.cfg.data.lowercase else output)
    tgt_in, tgt_out = [tok.bos_id, *out_ids], [*out_ids, tok.eos_id]
    _check_len(len(tgt_in), lm.cfg.model.max_seq_len, "the output", "model.max_seq_len")
    src_t, tgt_t = torch.tensor([src], device=device), torch.tensor([tgt_in], device=device)
    streams = capture_streams(lm.model, src_t, tgt_t, **req.selection)
    src_labels = token_labels(tok.src, src)
    in_labels, out_labels = token_labels(tok, tgt_in), token_labels(tok, tgt_out)
    labels = {"encoder": (src_labels, src_labels), "decoder": (in_labels, in_labels),
              "cross": (out_labels, src_labels)}  # fmt: skip
    for name, (q, k) in labels.items():
        if name in streams:
            streams[name].queries, streams[name].keys = q, k
    return AttentionView(lm.cfg.task, text, output, streams, _meta(lm, source=source))
