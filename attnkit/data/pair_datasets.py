"""Registry entries for sequence-to-sequence data: translation pairs and summarization sets.

Each parser returns ``{split: table}`` where a table maps column names to equal-length lists:
``{"de": [...], "en": [...]}`` for Multi30k, ``{"dialogue": [...], "summary": [...]}`` for
SAMSum. A column ``<name>_refs`` (a list of lists) holds several references per example where
the data has them (SciTLDR); metrics use it, training uses ``<name>`` (the first reference).
Splits are always called ``train``, ``valid`` and ``test``.

Entries:

- ``multi30k``: Multi30k task 1, de/en; train 29,000 / valid 1,014 / test = test_2016_flickr 1,000.
- ``tatoeba-cmn-eng``: Tatoeba zh/en, 32,028 pairs with no published split. attnkit's rule
  (:func:`tatoeba_split_of`): hash the English sentence with sha1 under the salt
  ``attnkit-tatoeba-v1``; bucket ``int(digest[:8], 16) % 100``: < 90 train, < 95 valid, else
  test. All translations of one English sentence land in one split, and sentences added in later
  releases of the file never move existing ones.
- ``samsum``: SAMSum dialogues -> summaries; train 14,731 / valid 818 / test 819.
- ``scitldr``: SciTLDR-A, abstract -> TLDR; train 1,992 / valid 619 / test 618 papers, with
  all of a paper's TLDRs in ``tldr_refs`` (1 in train, 1-4 in dev, 2-4 in test).
- ``dailydialog``: DailyDialog multi-turn chit-chat; ``turns`` holds each dialogue's utterances
  (train 11,118 / valid 1,000 / test 1,000 dialogues). :func:`dialogue_pairs` turns them into
  (last-k-turns context with speaker markers, next utterance) pairs.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from attnkit.data.datasets import DatasetSpec, hash_bucket, register_dataset
from attnkit.data.sources import RemoteFile, read_text

Table = dict[str, list]


def _lines(path: Path) -> list[str]:
    text = read_text(path)
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _aligned(path_a: Path, path_b: Path, a: str, b: str) -> Table:
    la, lb = _lines(path_a), _lines(path_b)
    if len(la) != len(lb):
        raise ValueError(
            f"parallel files are not aligned: {path_a} has {len(la)} lines, {path_b} has {len(lb)}"
        )
    return {a: la, b: lb}


# --- multi30k --------------------------------------------------------------------------------

_M30K = "https://github.com/multi30k/dataset/raw/master/data/task1/raw/"
_M30K_FILES = {
    # local name: (split, sha256 of the gunzipped file, bytes)
    "train.de": ("train", "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72", 2110398),
    "train.en": ("train", "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6", 1801238),
    "val.de": ("valid", "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660", 75981),
    "val.en": ("valid", "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227", 63297),
    "test_2016_flickr.de": (
        "test",
        "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
        70649,
    ),
    "test_2016_flickr.en": (
        "test",
        "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
        62076,
    ),
}


def _parse_multi30k(paths: dict[str, Path]) -> dict[str, Table]:
    out = {}
    for stem, split in (("train", "train"), ("val", "valid"), ("test_2016_flickr", "test")):
        out[split] = _aligned(paths[f"{stem}.de"], paths[f"{stem}.en"], "de", "en")
    return out


register_dataset(
    DatasetSpec(
        name="multi30k",
        description="Multi30k task 1 de/en (Elliott et al. 2016); test = test_2016_flickr",
        license="research and educational use (Flickr terms); no explicit license",
        homepage="https://github.com/multi30k/dataset",
        # Upstream serves .gz files; the checksums here are of the decompressed text, which is
        # what the mirror holds and what a downloader must produce.
        files=tuple(
            RemoteFile(name, (f"{_M30K}{name}.gz",), sha, size, gzip=True)
            for name, (_, sha, size) in _M30K_FILES.items()
        ),
        parse=_parse_multi30k,
    )
)

# --- tatoeba-cmn-eng -------------------------------------------------------------------------

TATOEBA_SALT = "attnkit-tatoeba-v1"


def tatoeba_split_of(english: str) -> str:
    """The split an English sentence (and so all its translations) belongs to."""
    bucket = hash_bucket(f"{TATOEBA_SALT}\t{english}")
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def _parse_tatoeba(paths: dict[str, Path]) -> dict[str, Table]:
    out: dict[str, Table] = {s: {"en": [], "zh": []} for s in ("train", "valid", "test")}
    for i, line in enumerate(_lines(paths["cmn.txt"]), 1):
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"{paths['cmn.txt']}: line {i} has {len(cols)} tab-separated columns, need 2+")
        t = out[tatoeba_split_of(cols[0])]
        t["en"].append(cols[0])
        t["zh"].append(cols[1])
    return out


register_dataset(
    DatasetSpec(
        name="tatoeba-cmn-eng",
        description="Tatoeba Mandarin-English pairs (manythings.org 2026-02-13); hashed 90/5/5 split",
        license="CC BY 2.0 FR (attribution: www.manythings.org/anki and tatoeba.org)",
        homepage="https://www.manythings.org/anki/",
        files=(
            RemoteFile(
                "cmn.txt",
                ("https://www.manythings.org/anki/cmn-eng.zip",),
                "d766002332a8f21099afd7427138d44f06bed7486a18f7f0f26f217092667d73",
                4565695,
                zip_member="cmn.txt",
            ),
        ),
        parse=_parse_tatoeba,
    )
)

# --- samsum ----------------------------------------------------------------------------------

_SAMSUM = "https://huggingface.co/datasets/knkarthick/samsum/resolve/main/"


def _parse_samsum(paths: dict[str, Path]) -> dict[str, Table]:
    out = {}
    for name, split in (("train.csv", "train"), ("validation.csv", "valid"), ("test.csv", "test")):
        rows = list(csv.DictReader(io.StringIO(read_text(paths[name]))))
        missing = {"dialogue", "summary"} - set(rows[0] if rows else {})
        if missing:
            raise ValueError(f"{paths[name]}: CSV lacks column(s) {sorted(missing)}")
        # One upstream row has an empty dialogue; it teaches nothing and is dropped.
        rows = [r for r in rows if r["dialogue"].strip()]
        out[split] = {
            "dialogue": [r["dialogue"].replace("\r\n", "\n") for r in rows],
            "summary": [r["summary"] for r in rows],
        }
    return out


register_dataset(
    DatasetSpec(
        name="samsum",
        description="SAMSum messenger dialogues -> summaries (Gliwa et al. 2019)",
        license="CC BY-NC-ND 4.0 (non-commercial)",
        homepage="https://arxiv.org/abs/1911.12237",
        files=(
            RemoteFile(
                "train.csv",
                (_SAMSUM + "train.csv",),
                "8e1c74de2bd749e62b0bf218b2f0c9f5d25b8ecec605327065c2abe3c458f040",
                9255369,
            ),
            RemoteFile(
                "validation.csv",
                (_SAMSUM + "validation.csv",),
                "f0a4cdcf1805340829a5a5d48677d8c07921f622766a47cef67916cd4f8acf9b",
                504263,
            ),
            RemoteFile(
                "test.csv",
                (_SAMSUM + "test.csv",),
                "0c1da58c77766d5eefaf89ee6c48133481df0730d706bcf826d01efd274d5e13",
                521859,
            ),
        ),
        parse=_parse_samsum,
    )
)

# --- scitldr ---------------------------------------------------------------------------------

_SCITLDR = "https://raw.githubusercontent.com/allenai/scitldr/master/SciTLDR-Data/SciTLDR-A/"


def _parse_scitldr(paths: dict[str, Path]) -> dict[str, Table]:
    out = {}
    for name, split in (("train.jsonl", "train"), ("dev.jsonl", "valid"), ("test.jsonl", "test")):
        t: Table = {"abstract": [], "tldr": [], "tldr_refs": []}
        for i, line in enumerate(read_text(paths[name]).splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                src, refs = " ".join(rec["source"]), list(rec["target"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{paths[name]}: line {i} is not a SciTLDR record ({e})") from None
            t["abstract"].append(src)
            t["tldr"].append(refs[0])
            t["tldr_refs"].append(refs)
        out[split] = t
    return out


register_dataset(
    DatasetSpec(
        name="scitldr",
        description="SciTLDR-A: abstract -> one-sentence TLDR (Cachola et al. 2020), multi-reference test",
        license="Apache-2.0",
        homepage="https://github.com/allenai/scitldr",
        files=(
            RemoteFile(
                "train.jsonl",
                (_SCITLDR + "train.jsonl",),
                "b222771d387be585cfdf5ae957b36757138415a352e0a3e3b23f73f87c3b1119",
                3155015,
            ),
            RemoteFile(
                "dev.jsonl",
                (_SCITLDR + "dev.jsonl",),
                "3191fa98ccc09521332b7a1cd63b1930be4e8df125a235ccd31e40329709525e",
                1124865,
            ),
            RemoteFile(
                "test.jsonl",
                (_SCITLDR + "test.jsonl",),
                "fb42dd6cd4f4a1928ae8a01a189456fbfe994a07e938bd49f68653933f6503c9",
                1204107,
            ),
        ),
        parse=_parse_scitldr,
    )
)

# --- dailydialog -----------------------------------------------------------------------------

_DD = "http://yanran.li/files/ijcnlp_dailydialog.zip"
_DD_FILES = {
    "train/dialogues_train.txt": (
        "2128f3b82140b7d72d8d5bb989e5982a0394e4e40655995270d84c7eeee373b1",
        6041175,
    ),
    "validation/dialogues_validation.txt": (
        "2ad64701fe3a4449e7a6ee7cdc6c2a71c80f77b8a34f708ac0532395f499081c",
        558030,
    ),
    "test/dialogues_test.txt": ("3c323651cdfb09f7b529f850eddf96a638fc6cc9b43330b77956ab248484a1a8", 544208),
}


def _parse_dailydialog(paths: dict[str, Path]) -> dict[str, Table]:
    out = {}
    for name, split in zip(_DD_FILES, ("train", "valid", "test"), strict=True):
        dialogues = []
        for line in _lines(paths[name]):
            turns = [u.strip() for u in line.split("__eou__")[:-1]]
            if turns:
                dialogues.append(turns)
        out[split] = {"turns": dialogues}
    return out


SPEAKERS = ("A:", "B:")


def dialogue_context(history: list[str], k: int = 3, speakers: tuple[str, str] = SPEAKERS) -> str:
    """The model input for the turn after ``history``: its last ``k`` turns, each prefixed by its
    speaker marker (speakers alternate, counted from the dialogue's start), joined by newlines."""
    if k < 1:
        raise ValueError(f"a dialogue context needs at least one turn (context_turns >= 1), got {k}")
    lo = max(0, len(history) - k)
    return "\n".join(f"{speakers[j % 2]} {history[j]}" for j in range(lo, len(history)))


def dialogue_pairs(dialogues: list[list[str]], k: int = 3, speakers: tuple[str, str] = SPEAKERS) -> Table:
    """``{"context": [...], "response": [...]}`` for every turn after the first of each dialogue;
    the context is :func:`dialogue_context` of the turns before it."""
    ctx, resp = [], []
    for turns in dialogues:
        for i in range(1, len(turns)):
            ctx.append(dialogue_context(turns[:i], k, speakers))
            resp.append(turns[i])
    return {"context": ctx, "response": resp}


register_dataset(
    DatasetSpec(
        name="dailydialog",
        description="DailyDialog multi-turn dialogues (Li et al. 2017); 13,118 dialogues",
        license="CC BY-NC-SA 4.0 (research use)",
        homepage="http://yanran.li/dailydialog",
        files=tuple(
            # The release zip nests one zip per split: "outer!inner" names a member of a member.
            RemoteFile(
                name, (_DD,), sha, size, zip_member=f"ijcnlp_dailydialog/{name.split('/')[0]}.zip!{name}"
            )
            for name, (sha, size) in _DD_FILES.items()
        ),
        parse=_parse_dailydialog,
    )
)
