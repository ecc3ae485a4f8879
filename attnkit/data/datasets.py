"""The dataset registry: each entry carries its URLs, checksums, license and parser.

``load_dataset(name)`` returns ``{split: text}`` for corpora and ``{split: {column: list}}`` for
paired data (:mod:`attnkit.data.pair_datasets`). Files come from :mod:`attnkit.data.sources`
(offline mirror, cache, or download). Users' own corpora go through :func:`load_text_files`.

Entries so far:

- ``tinyshakespeare``: char-rnn's 1.1 MB Shakespeare; nanoGPT's 90/10 split by characters
  (1,003,854 train / 111,540 valid).
- ``wikitext-2``: WikiText-2 (v1, tokenized, ``<unk>`` already applied), the published
  train/valid/test; word-level, one ``<eos>`` per line by convention.

Paired text, labelled text and speech (``fsdd``) register from their own modules below.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from attnkit.data.sources import RemoteFile, RemoteTree, fetch, fetch_tree, read_text

Splits = dict[str, str]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset."""

    name: str
    description: str
    license: str
    homepage: str
    files: tuple[RemoteFile, ...]
    parse: Callable[[dict[str, Path]], Splits]
    """Turns {file or folder name: verified local path} into {split: text} (or columns)."""
    trees: tuple[RemoteTree, ...] = ()
    """Folders of many files shipped as one archive (speech recordings)."""


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in DATASETS:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}") from None


def load_dataset(name: str, *, download: bool = True):
    """``{split: text}`` (corpora) or ``{split: {column: list}}`` (paired data), verified."""
    spec = get_dataset(name)
    paths = {rf.name: fetch(name, rf, download=download) for rf in spec.files}
    paths.update({t.name: fetch_tree(name, t, download=download) for t in spec.trees})
    return spec.parse(paths)


def load_text_files(
    train: str | os.PathLike, valid: str | os.PathLike | None = None, test: str | os.PathLike | None = None
) -> Splits:
    """A user's own corpus: one UTF-8 text file per split (valid/test optional)."""
    out = {"train": read_text(train)}
    if valid is not None:
        out["valid"] = read_text(valid)
    if test is not None:
        out["test"] = read_text(test)
    return out


# --- tinyshakespeare -------------------------------------------------------------------------


def _parse_shakespeare(paths: dict[str, Path]) -> Splits:
    text = read_text(paths["input.txt"])
    n = int(len(text) * 0.9)  # nanoGPT data/shakespeare_char/prepare.py
    return {"train": text[:n], "valid": text[n:]}


register_dataset(
    DatasetSpec(
        name="tinyshakespeare",
        description="char-rnn Tiny Shakespeare, 1,115,394 chars; 90/10 split as in nanoGPT",
        license="public-domain text (char-rnn repository: MIT)",
        homepage="https://github.com/karpathy/char-rnn",
        files=(
            RemoteFile(
                "input.txt",
                (
                    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                ),
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                1115394,
            ),
        ),
        parse=_parse_shakespeare,
    )
)

# --- wikitext-2 ------------------------------------------------------------------------------

_WT2 = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/"


def _parse_wikitext(paths: dict[str, Path]) -> Splits:
    return {split: read_text(paths[f"{split}.txt"]) for split in ("train", "valid", "test")}


register_dataset(
    DatasetSpec(
        name="wikitext-2",
        description="WikiText-2 v1 (tokenized; vocab 33,278 incl. <eos>); Merity et al. 2017",
        license="CC BY-SA 3.0",
        homepage="https://blog.salesforceairesearch.com/the-wikitext-long-term-dependency-language-modeling-dataset/",
        files=(
            RemoteFile(
                "train.txt",
                (_WT2 + "train.txt",),
                "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
                10797148,
            ),
            RemoteFile(
                "valid.txt",
                (_WT2 + "valid.txt",),
                "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                1121681,
            ),
            RemoteFile(
                "test.txt",
                (_WT2 + "test.txt",),
                "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                1256449,
            ),
        ),
        parse=_parse_wikitext,
    )
)


def hash_bucket(key: str) -> int:
    """A stable bucket in [0, 100) for ``key`` (sha1): split rules that need no seed and never
    move an example when the data grows."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 100


def load_pair_files(
    train: str | os.PathLike, valid: str | os.PathLike | None = None, test: str | os.PathLike | None = None
) -> dict[str, dict[str, list[str]]]:
    """A user's own parallel data: one TSV file per split, ``source<TAB>target`` per line.

    Returns ``{split: {"src": [...], "tgt": [...]}}``. A literal ``\\n`` in a field stands for
    a line break (so multi-line dialogues fit on one line).
    """
    out = {}
    for split, path in (("train", train), ("valid", valid), ("test", test)):
        if path is None:
            continue
        src, tgt = [], []
        for i, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2:
                raise ValueError(
                    f"{path}: line {i} has {len(cols)} tab-separated fields; expected source<TAB>target"
                )
            src.append(cols[0].replace("\\n", "\n"))
            tgt.append(cols[1].replace("\\n", "\n"))
        out[split] = {"src": src, "tgt": tgt}
    return out


# Paired and labelled entries register themselves into DATASETS on import.
from attnkit.data import class_datasets, pair_datasets, speech_datasets  # noqa: E402, F401
