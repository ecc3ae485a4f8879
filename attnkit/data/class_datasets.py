"""Registry entries for text classification: ``{split: {"text": [...], "label": [...]}}``.

Labels are strings (class names where the data names them), so a model's label vocabulary is
built from the training split and reported by name. Splits are ``train``, ``valid`` and, where
labelled, ``test``.

- ``sst2``: GLUE SST-2 (lower-cased, PTB-tokenized); train 67,349 / valid = GLUE dev 872. The GLUE
  test split has no labels and is not loaded: evaluate on ``valid``.
- ``ag_news``: 4 topics; train 120,000 / test 7,600 (no official dev split). The offline mirror
  has only the test file; the train file is downloaded from its canonical URL (checked by MD5,
  the checksum torchtext publishes for it).
- ``trec``: TREC question classification (Li & Roth 2002); train 5,452 / test 500, with the 6
  coarse labels in ``label`` and the 50 fine ones in ``fine``. The files are ASCII except one
  Latin-1 byte; they are decoded as Latin-1, as the data's authors wrote them.
- ``chnsenticorp``: Chinese hotel/product review sentiment; train 9,600 / valid = dev 1,200 (the
  official test file is unlabelled and not loaded).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from attnkit.data.datasets import DatasetSpec, register_dataset
from attnkit.data.sources import RemoteFile, read_text

Table = dict[str, list]


def _tsv_rows(path: Path) -> list[dict[str, str]]:
    text = read_text(path)
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def _table(rows: list[dict[str, str]], text_col: str, label_col: str, path: Path, names=None) -> Table:
    out: Table = {"text": [], "label": []}
    for i, r in enumerate(rows, 2):
        if r.get(text_col) is None or r.get(label_col) is None:
            raise ValueError(f"{path}: line {i} lacks the {text_col!r}/{label_col!r} columns")
        out["text"].append(r[text_col].strip())
        out["label"].append(names[r[label_col]] if names else r[label_col])
    return out


# --- sst2 ------------------------------------------------------------------------------------

_SST = {"0": "negative", "1": "positive"}


def _binary_tsv_parser(text_col: str):
    """Parser for train.tsv/dev.tsv with ``text_col`` and a 0/1 ``label`` (SST-2, ChnSentiCorp)."""

    def parse(paths: dict[str, Path]) -> dict[str, Table]:
        return {
            split: _table(_tsv_rows(paths[name]), text_col, "label", paths[name], _SST)
            for name, split in (("train.tsv", "train"), ("dev.tsv", "valid"))
        }

    return parse


_parse_sst2 = _binary_tsv_parser("sentence")


register_dataset(
    DatasetSpec(
        name="sst2",
        description="GLUE SST-2 binary sentiment (Socher et al. 2013); evaluate on dev (valid)",
        license="research use with citation (no explicit license)",
        homepage="https://gluebenchmark.com/tasks",
        files=(
            RemoteFile(
                "train.tsv",
                ("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",),
                "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
                3806081,
                zip_member="SST-2/train.tsv",
            ),
            RemoteFile(
                "dev.tsv",
                ("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",),
                "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
                94931,
                zip_member="SST-2/dev.tsv",
            ),
        ),
        parse=_parse_sst2,
    )
)

# --- ag_news ---------------------------------------------------------------------------------

_AG = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
AG_CLASSES = ("World", "Sports", "Business", "Sci/Tech")


def _parse_ag_csv(path: Path) -> Table:
    out: Table = {"text": [], "label": []}
    for i, row in enumerate(csv.reader(io.StringIO(read_text(path))), 1):
        if len(row) != 3 or row[0] not in ("1", "2", "3", "4"):
            raise ValueError(f"{path}: row {i} is not `class,title,description` with class 1-4")
        # The CSV writes line breaks inside the text as a backslash; make them spaces.
        title, desc = (x.replace("\\n", " ").replace("\\", " ") for x in row[1:])
        out["text"].append(f"{title.strip()}. {desc.strip()}")
        out["label"].append(AG_CLASSES[int(row[0]) - 1])
    return out


def _parse_ag(paths: dict[str, Path]) -> dict[str, Table]:
    return {"train": _parse_ag_csv(paths["train.csv"]), "test": _parse_ag_csv(paths["test.csv"])}


register_dataset(
    DatasetSpec(
        name="ag_news",
        description="AG News topics (Zhang et al. 2015), 4 classes; train 120k / test 7.6k",
        license="non-commercial research use (AG's corpus readme)",
        homepage="https://github.com/zhangxiangxiao/Crepe",
        files=(
            RemoteFile("train.csv", (_AG + "train.csv",), md5="b1a00f826fdfbd249f79597b59e1dc12"),
            RemoteFile(
                "test.csv",
                (_AG + "test.csv",),
                "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
                1857427,
            ),
        ),
        parse=_parse_ag,
    )
)

# --- trec ------------------------------------------------------------------------------------

_TREC = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"


def _parse_trec_file(path: Path) -> Table:
    out: Table = {"text": [], "label": [], "fine": []}
    for i, line in enumerate(path.read_bytes().decode("latin-1").splitlines(), 1):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        coarse, sep, _ = label.partition(":")
        if not sep or not text:
            raise ValueError(f"{path}: line {i} is not `COARSE:fine question`")
        out["text"].append(text.strip())
        out["label"].append(coarse)
        out["fine"].append(label)
    return out


def _parse_trec(paths: dict[str, Path]) -> dict[str, Table]:
    return {
        "train": _parse_trec_file(paths["train_5500.label"]),
        "test": _parse_trec_file(paths["TREC_10.label"]),
    }


register_dataset(
    DatasetSpec(
        name="trec",
        description="TREC question classification (Li & Roth 2002): 6 coarse / 50 fine labels",
        license="research use with citation (no explicit license)",
        homepage="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        files=(
            RemoteFile(
                "train_5500.label",
                (_TREC + "train_5500.label",),
                "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
                335858,
            ),
            RemoteFile(
                "TREC_10.label",
                (_TREC + "TREC_10.label",),
                "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
                23354,
            ),
        ),
        parse=_parse_trec,
    )
)

# --- chnsenticorp ----------------------------------------------------------------------------

_CSC = "https://bj.bcebos.com/paddlenlp/datasets/ChnSentiCorp.zip"


_parse_chnsenticorp = _binary_tsv_parser("text_a")


register_dataset(
    DatasetSpec(
        name="chnsenticorp",
        description="ChnSentiCorp Chinese review sentiment (PaddleNLP release); evaluate on dev (valid)",
        license="non-commercial research or teaching only (Baidu LUGE agreement); do not redistribute",
        homepage="https://github.com/PaddlePaddle/PaddleNLP",
        files=(
            RemoteFile(
                "train.tsv",
                (_CSC,),
                "0b2653c23e5c79f539472e90cb10522f0ada4b80d3da95572d8b48fda47d5b33",
                3019974,
                zip_member="ChnSentiCorp/train.tsv",
            ),
            RemoteFile(
                "dev.tsv",
                (_CSC,),
                "83cc6779a1c12517120dab421ca69d22e48ea0fef72d40ea7f0d5c4cff53f603",
                379124,
                zip_member="ChnSentiCorp/dev.tsv",
            ),
        ),
        parse=_parse_chnsenticorp,
    )
)
