"""Speech datasets: recordings with transcripts, as columns of file paths and labels.

- ``fsdd``: the Free Spoken Digit Dataset (Jackson et al.), 3,000 WAVs (8 kHz mono 16-bit) of
  the digits zero to nine by 6 speakers, 50 takes each. Official split by take index: 0-4 test
  (300), 5-49 train (2,700); the same speakers are on both sides. :func:`speaker_split` holds
  one speaker out instead.

Tables are ``{split: {"path": [...], "digit": [...], "speaker": [...], "index": [...],
"text": [...]}}`` with ``text`` the spelled word (``seven``). Reading and featurizing the audio is
the speech task's job (:mod:`attnkit.audio`); this layer only finds and verifies the files.
"""

from __future__ import annotations

import re
from pathlib import Path

from attnkit.data.datasets import DatasetSpec, hash_bucket, register_dataset
from attnkit.data.sources import RemoteTree

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
_NAME = re.compile(r"^([0-9])_([a-z]+)_([0-9]+)\.wav$")

Table = dict[str, list]


def _table(rows: list[tuple[Path, int, str, int]]) -> Table:
    return {
        "path": [r[0] for r in rows],
        "digit": [r[1] for r in rows],
        "speaker": [r[2] for r in rows],
        "index": [r[3] for r in rows],
        "text": [DIGIT_WORDS[r[1]] for r in rows],
    }


def fsdd_recordings(folder: Path) -> list[tuple[Path, int, str, int]]:
    """``(path, digit, speaker, take)`` for every recording, sorted by file name."""
    rows = []
    for p in sorted(folder.glob("*.wav")):
        m = _NAME.match(p.name)
        if m is None:
            raise ValueError(f"{p}: not an FSDD file name (expected <digit>_<speaker>_<take>.wav)")
        rows.append((p, int(m.group(1)), m.group(2), int(m.group(3))))
    return rows


def _parse_fsdd(paths: dict[str, Path]) -> dict[str, Table]:
    rows = fsdd_recordings(paths["recordings"])
    return {
        "train": _table([r for r in rows if r[3] >= 5]),  # the upstream README's rule
        "test": _table([r for r in rows if r[3] < 5]),
    }


def load_speech_files(
    train: str | Path, valid: str | Path | None = None, test: str | Path | None = None
) -> dict[str, Table]:
    """A user's own recordings: one UTF-8 TSV per split, ``audio.wav<TAB>transcript`` per line.

    Relative audio paths are relative to the TSV's folder. An optional third column names the
    speaker (for ``data.holdout_speaker``). Missing audio files are reported all at once.
    """
    from attnkit.data.sources import read_text

    out: dict[str, Table] = {}
    for split, manifest in (("train", train), ("valid", valid), ("test", test)):
        if manifest is None:
            continue
        base, rows, missing = Path(manifest).parent, [], []
        for i, line in enumerate(read_text(manifest).splitlines(), 1):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) not in (2, 3) or not cols[1].strip():
                raise ValueError(f"{manifest}: line {i} should be audio.wav<TAB>transcript[<TAB>speaker]")
            path = Path(cols[0]) if Path(cols[0]).is_absolute() else base / cols[0]
            if not path.is_file():
                missing.append(str(path))
            rows.append((path, cols[1].strip(), cols[2].strip() if len(cols) == 3 else ""))
        if missing:
            raise FileNotFoundError(f"{manifest}: {len(missing)} audio file(s) not found, e.g. {missing[:3]}")
        out[split] = {
            "path": [r[0] for r in rows],
            "text": [r[1] for r in rows],
            "speaker": [r[2] for r in rows],
        }
    return out


def speaker_split(tables: dict[str, Table], speaker: str) -> dict[str, Table]:
    """Every recording of ``speaker`` as ``test``, every other speaker's as ``train``."""
    cols = list(tables["train"])
    every = {c: [x for t in tables.values() for x in t[c]] for c in cols}
    known = sorted(set(every.get("speaker", [])) - {""})
    if speaker not in known:
        raise ValueError(f"unknown speaker {speaker!r}; this dataset has {', '.join(known)}")
    keep = [s != speaker for s in every["speaker"]]
    return {
        "train": {c: [x for x, k in zip(every[c], keep, strict=True) if k] for c in cols},
        "test": {c: [x for x, k in zip(every[c], keep, strict=True) if not k] for c in cols},
    }


def hold_out_recordings(tables: dict[str, Table], percent: int = 10) -> dict[str, Table]:
    """``percent``% of train, chosen by a hash of the file name, as ``valid`` (test untouched)."""
    train = tables["train"]
    held = [hash_bucket(Path(p).name) < percent for p in train["path"]]
    cols = list(train)
    return {
        **tables,
        "train": {c: [x for x, h in zip(train[c], held, strict=True) if not h] for c in cols},
        "valid": {c: [x for x, h in zip(train[c], held, strict=True) if h] for c in cols},
    }


register_dataset(
    DatasetSpec(
        name="fsdd",
        description="Free Spoken Digit Dataset: 3,000 8 kHz recordings of 0-9, 6 speakers; takes 0-4 test",
        license="CC BY-SA 4.0",
        homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
        files=(),
        trees=(
            RemoteTree(
                "recordings",
                ("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip",),
                member_prefix="free-spoken-digit-dataset-1.0.10/recordings/",
                manifest_sha256="1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959",
                count=3000,
                suffix=".wav",
            ),
        ),
        parse=_parse_fsdd,
    )
)
