"""What an attribution explains: one model input, and the output tokens whose scores it splits.

A :class:`Target` is family-independent: ``inputs`` ``(1, S)`` are the token ids whose embeddings
are attributed (a classifier's text, an LM's prompt and continuation, a translation's source);
``score(model, embeds)`` returns, for a batch of (perturbed) input embeddings ``(B, S, C)``, the
log-probability of each explained output ``(B, R)``: the predicted label, or each continuation
or target token given its prefix. Inputs are swapped in through a hook on the token embedding,
so the rest of the model (positions, masks, caches) runs unchanged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.models.classifier import TransformerClassifier
from attnkit.models.decoder import Decoder
from attnkit.models.seq2seq import EncoderDecoder

BATCH = 8
"""Input copies per forward/backward pass in every method: integrated gradients on a 512-token
MiniLM input peaked at 2,077 MiB RSS with 16 copies, 1,268 with 8 (and took about as long)."""


def token_embedding(model: nn.Module) -> nn.Embedding:
    """The embedding table whose output an attribution perturbs (the source side of a seq2seq)."""
    if isinstance(model, EncoderDecoder):
        return model.encoder.embed.tok
    if isinstance(model, TransformerClassifier):
        return model.encoder.embed.tok
    if isinstance(model, Decoder):
        return model.embed.tok
    raise ValueError(
        f"attributions are computed for Transformer classifiers, decoders and encoder-decoders, "
        f"not {type(model).__name__}"
    )


@contextlib.contextmanager
def swap_embeddings(model: nn.Module, embeds: Tensor):
    """Within the block, the first call of the token embedding per forward returns ``embeds``
    ``(B, S, C)`` instead of looking ids up (a seq2seq's decoder may share the table: its later
    call in the same forward is left alone)."""
    table = token_embedding(model)
    state = {"calls": 0}

    def hook(module, args, output):
        state["calls"] += 1
        return embeds if state["calls"] == 1 else output

    def reset(module, args):
        state["calls"] = 0

    handles = [table.register_forward_hook(hook), model.register_forward_pre_hook(reset)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class Target:
    """The explained prediction: ``inputs`` ``(1, S)`` and ``rows`` scores (see the module)."""

    model: nn.Module
    inputs: Tensor
    input_labels: list[str]
    output_labels: list[str]
    output_ids: list[int]
    kind: str
    """``classifier``, ``decoder`` or ``seq2seq``."""
    decoder_inputs: Tensor | None = None
    """Seq2seq: ``(1, T)`` teacher-forced decoder ids (``<bos>`` + target)."""
    positions: list[int] = field(default_factory=list)
    """Decoder: the logit position of each explained row (the token before it)."""
    label_index: int = 0

    @property
    def n_inputs(self) -> int:
        return self.inputs.shape[1]

    def embeddings(self) -> Tensor:
        """The real input embeddings ``(1, S, C)`` (detached)."""
        with torch.no_grad():
            return token_embedding(self.model)(self.inputs).detach()

    def logprobs(self, ids: Tensor) -> Tensor:
        """``(B, R)`` log-probabilities of the explained outputs for ids ``(B, S)``."""
        m = self.model
        if self.kind == "classifier":
            return F.log_softmax(m(ids).logits.float(), -1)[:, [self.label_index]]
        if self.kind == "seq2seq":  # row r is read at decoder position r
            logits = m(ids, self.decoder_inputs.expand(ids.shape[0], -1)).logits[:, : len(self.output_ids)]
        else:  # row r is read at the position before its token
            logits = m(ids).logits[:, torch.tensor(self.positions, device=ids.device)]
        lp = F.log_softmax(logits.float(), -1)  # (B, R, V)
        out = torch.tensor(self.output_ids, device=ids.device)
        return lp.gather(-1, out.expand(ids.shape[0], -1)[..., None])[..., 0]  # (B, R, 1) -> (B, R)

    def score(self, embeds: Tensor) -> Tensor:
        """``(B, R)`` log-probabilities with the input embeddings replaced by ``embeds``."""
        ids = self.inputs.expand(embeds.shape[0], -1)
        with swap_embeddings(self.model, embeds):
            return self.logprobs(ids)


def build_target(lm, text: str, target: str | None = None, *, max_new_tokens: int = 16) -> Target:
    """The :class:`Target` for ``text`` through a loaded model ``lm``: its own prediction (the
    label, a greedy continuation of ``max_new_tokens``, a greedy translation), or ``target`` (a
    label name, a continuation, a target text) when given."""
    from attnkit.decode.search import greedy_search
    from attnkit.decode.seq2seq import encode_sources
    from attnkit.viz.tokens import token_labels

    model, tok = lm.model.eval(), lm.tokenizer
    if not text.strip():
        raise ValueError("nothing to explain: the input text is empty")
    token_embedding(model)  # refuses model types without an input embedding to perturb
    device = next(model.parameters()).device
    if isinstance(model, TransformerClassifier):
        ids = torch.tensor([lm.predictor.encode(text)], device=device)
        labels = list(lm.cfg.model.labels or [])
        if target is None:
            with torch.no_grad():
                index = int(model(ids).logits[0].argmax())
        elif target in labels:
            index = labels.index(target)
        else:
            raise ValueError(f"unknown label {target!r}; this classifier's labels are {', '.join(labels)}")
        return Target(model, ids, token_labels(tok, ids[0].tolist()), [labels[index]], [index], "classifier",
                      label_index=index)  # fmt: skip
    if isinstance(model, EncoderDecoder):
        src = encode_sources(tok, [text], lm.cfg.data)[0]
        x = torch.tensor([src], device=device)
        if target is None:
            mask = torch.ones_like(x, dtype=torch.bool)
            with torch.no_grad():
                out = greedy_search(
                    model, x, mask, bos_id=tok.bos_id, eos_id=tok.eos_id, max_len=2 * len(src) + 10
                )[0]
        else:
            out = tok.encode(target)
        if not out:
            raise ValueError("the model's output is empty: there is no output token to explain")
        dec = torch.tensor([[tok.bos_id, *out]], device=device)
        return Target(model, x, token_labels(tok.src, src), token_labels(tok, out), list(out), "seq2seq",
                      decoder_inputs=dec[:, : len(out)])  # fmt: skip
    prompt = tok.encode(text) or [tok.bos_id]
    if target is None:
        from attnkit.config import DecodeConfig
        from attnkit.decode.generate import generate_ids

        cfg = DecodeConfig(max_new_tokens=max_new_tokens, temperature=0.0)
        out = []
        with torch.no_grad():
            for nxt in generate_ids(
                model, torch.tensor([prompt], device=device), cfg, stop_ids=(tok.eos_id,)
            ):
                if int(nxt[0]) == tok.eos_id:
                    break
                out.append(int(nxt[0]))
    else:
        out = tok.encode(target)
    if not out:
        raise ValueError("the continuation is empty: there is no output token to explain")
    seq = [*prompt, *out]
    ids = torch.tensor([seq[:-1]], device=device)  # the last token is only predicted, never read
    positions = list(range(len(prompt) - 1, len(seq) - 1))
    return Target(
        model, ids, token_labels(tok, seq[:-1]), token_labels(tok, out), out, "decoder", positions=positions
    )
