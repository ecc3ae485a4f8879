"""A pretrained model's own tokenizer, from its ``tokenizer.json`` (HF ``tokenizers`` format).

Pretrained vocabularies put their special tokens where their authors did (BERT: ``[PAD]`` 0,
``[UNK]`` 100, ``[CLS]`` 101, ``[SEP]`` 102; SmolLM2: ``<|endoftext|>`` 0, ``<|im_start|>`` 1,
``<|im_end|>`` 2), so this tokenizer carries its special ids as instance attributes instead of
attnkit's fixed 0-3. The roles map onto attnkit's: ``bos`` is what starts an input (BERT's
``[CLS]``), ``eos`` what ends one (``[SEP]``, ``<|im_end|>``).

``encode`` never adds specials on its own; ``add_bos``/``add_eos`` add the role tokens, as for
every attnkit tokenizer. The pipeline (normaliser, pre-tokenizer, model, decoder) is the one in
the file, so ids equal the original library's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenizers import Tokenizer as HFTokenizerCore

from attnkit.text.base import Tokenizer, register_tokenizer, replace_surrogates

ROLES = ("pad", "unk", "bos", "eos")


@register_tokenizer
class HFTokenizer(Tokenizer):
    """A ``tokenizers.Tokenizer`` with named special-token roles."""

    kind = "hf"

    def __init__(self, core: HFTokenizerCore, roles: dict[str, str | None]) -> None:
        # attnkit pads and truncates batches itself; a tokenizer.json may ask for both (MiniLM's
        # pads every input to 128), which would change what encode() returns.
        core.no_padding()
        core.no_truncation()
        self.core = core
        self.roles = dict(roles)
        ids: dict[str, int | None] = {}
        for role in ROLES:
            tok = roles.get(role)
            tid = core.token_to_id(tok) if tok is not None else None
            if tok is not None and tid is None:
                raise ValueError(f"special token {tok!r} (the {role} role) is not in this vocabulary")
            ids[role] = tid
        if ids["eos"] is None:
            raise ValueError("a pretrained tokenizer needs an eos token (what ends an input)")
        self.pad_id = ids["pad"] if ids["pad"] is not None else ids["eos"]
        self.unk_id = ids["unk"] if ids["unk"] is not None else self.pad_id
        self.bos_id = ids["bos"] if ids["bos"] is not None else ids["eos"]
        self.eos_id = ids["eos"]
        added = {i: t.content for i, t in core.get_added_tokens_decoder().items() if t.special}
        self._specials = {**added, **{v: roles[r] for r, v in ids.items() if v is not None}}
        self.structural_ids = frozenset(i for i in (self.pad_id, self.bos_id, self.eos_id))

    @property
    def vocab_size(self) -> int:
        return self.core.get_vocab_size(with_added_tokens=True)

    def special_tokens(self) -> dict[int, str]:
        return dict(self._specials)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        ids = self.core.encode(replace_surrogates(text), add_special_tokens=False).ids
        return self._wrap(ids, add_bos, add_eos)

    def single_template(self) -> tuple[list[int], list[int]]:
        """The ids the file's post-processor puts around one text (BERT: ``[CLS]`` before,
        ``[SEP]`` after), read off an encoding of a probe text; a post-processor that adds
        nothing (SmolLM2) gives ``([bos], [])``, as for attnkit's tokenizers. Read once, then
        kept: classification calls it for every text it encodes."""
        if getattr(self, "_template", None) is None:
            self._template = self._read_template()
        return list(self._template[0]), list(self._template[1])

    def _read_template(self) -> tuple[list[int], list[int]]:
        probe = "a"
        body = self.core.encode(probe, add_special_tokens=False).ids
        full = self.core.encode(probe, add_special_tokens=True).ids
        if full == body:
            return [self.bos_id], []
        for start in range(len(full) - len(body) + 1):
            if full[start : start + len(body)] == body:
                return full[:start], full[start + len(body) :]
        raise ValueError(
            "this tokenizer's post-processor changes the text's own ids; cannot split its template"
        )

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        clean = [replace_surrogates(t) for t in texts]
        return [e.ids for e in self.core.encode_batch(clean, add_special_tokens=False)]

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        if skip_special:
            ids = [i for i in ids if i not in self.structural_ids]
        return self.core.decode(list(ids), skip_special_tokens=False)

    def token_to_id(self, token: str) -> int | None:
        return self.core.token_to_id(token)

    def to_dict(self) -> dict[str, Any]:
        return {"hf": self.core.to_str(), "roles": self.roles}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        return cls(HFTokenizerCore.from_str(d["hf"]), d["roles"])

    @classmethod
    def from_file(cls, path: str, roles: dict[str, str | None]) -> HFTokenizer:
        return cls(HFTokenizerCore.from_file(str(path)), roles)
