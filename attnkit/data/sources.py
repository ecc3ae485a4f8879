"""Finding dataset files: the offline mirror, the download cache, or the canonical URL.

Lookup order for dataset ``name`` and file ``f``:

1. ``$ATTNKIT_DATA/<name>/<f>``: an offline mirror laid out one folder per dataset.
2. ``$ATTNKIT_CACHE/<name>/<f>`` (default ``~/.cache/attnkit``): earlier downloads.
3. Download from the canonical URL into the cache: to a temporary file first, checked against
   its sha256, then renamed into place, so a failed or corrupt download never looks complete.

Every file found is checked against its sha256; a mismatch is an error, never a warning. Text is
read as strict UTF-8, and a decoding error names the file and the line.

A :class:`RemoteTree` is a folder of many files (3,000 recordings) that upstream ships as one
archive: it is verified through a ``SHA256SUMS`` manifest whose own sha256 is pinned in code, so
one constant covers every file, and a download is unpacked into a temporary folder, checked file
by file, and renamed into place only when complete.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tempfile
import typing
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its local name, where it comes from, and its checksum."""

    name: str
    urls: tuple[str, ...]
    sha256: str = ""
    """Of the file as stored locally (after any decompression)."""
    size: int | None = None
    gzip: bool = False
    """The URL serves a .gz of the file; it is decompressed before the checksum."""
    zip_member: str | None = None
    """The URL serves a .zip archive; this member of it is the file (``outer.zip!inner`` for a
    member of a nested zip)."""
    md5: str | None = None
    """Used only where no sha256 of the file is published (the file's upstream gives MD5)."""

    def __post_init__(self) -> None:
        if not self.sha256 and not self.md5:
            raise ValueError(f"RemoteFile {self.name!r} needs a sha256 (or an md5) to be verified")


def data_root() -> Path | None:
    root = os.environ.get("ATTNKIT_DATA")
    return Path(root).expanduser() if root else None


def cache_root() -> Path:
    return Path(os.environ.get("ATTNKIT_CACHE", "~/.cache/attnkit")).expanduser()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, rf: RemoteFile) -> Path:
    algo, want = ("sha256", rf.sha256) if rf.sha256 else ("md5", rf.md5)
    h = hashlib.new(algo)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    got = h.hexdigest()
    if got != want:
        raise ValueError(
            f"checksum mismatch for {path}: {algo} {got}, expected {want}. The file is "
            "corrupt or a different version; delete it (or fix the mirror) and try again"
        )
    return path


def _unpack(blob: bytes, rf: RemoteFile) -> bytes:
    if rf.gzip:
        return gzip.decompress(blob)
    for member in (rf.zip_member or "").split("!"):  # "a.zip!b.txt": b.txt inside a.zip inside blob
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            blob = z.read(member)
    return blob


def _download(rf: RemoteFile, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in rf.urls:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                if rf.gzip or rf.zip_member:  # archives are small: unpack in memory
                    out.write(_unpack(resp.read(), rf))
                else:
                    while chunk := resp.read(_CHUNK):
                        out.write(chunk)
            _verify(Path(tmp), rf)
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError, zipfile.BadZipFile, KeyError) as e:
            errors.append(f"{url}: {e}")
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise FileNotFoundError("; ".join(errors))


def fetch(dataset: str, rf: RemoteFile, *, download: bool = True) -> Path:
    """Path to a verified local copy of ``rf`` (see the module docstring for the order).

    Raises:
        FileNotFoundError: naming every place looked at and how to set ``ATTNKIT_DATA``.
        ValueError: on a checksum mismatch.
    """
    looked = []
    root = data_root()
    if root is not None:
        p = root / dataset / rf.name
        if p.is_file():
            return _verify(p, rf)
        looked.append(str(p))
    cached = cache_root() / dataset / rf.name
    if cached.is_file():
        return _verify(cached, rf)
    looked.append(str(cached))
    why = "downloading is off"
    if download:
        try:
            return _download(rf, cached)
        except FileNotFoundError as e:
            why = f"download failed ({e})"
    raise FileNotFoundError(
        f"dataset {dataset!r}: file {rf.name!r} not found. Looked in: {', '.join(looked)}; {why}. "
        f"Set ATTNKIT_DATA to a folder holding {dataset}/{rf.name} (for example "
        "ATTNKIT_DATA=../shared/data), or connect to the internet to download it."
    )


def decode_utf8(data: bytes, where: str) -> str:
    """Strict UTF-8 decoding; the error names ``where``, the line and the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(
            f"{where}: not valid UTF-8 at line {line} (byte {e.start}: {data[e.start : e.start + 4]!r}); "
            "re-encode it as UTF-8"
        ) from None


def iter_lines(stream: typing.BinaryIO, where: str) -> typing.Iterator[str]:
    """The lines of a byte stream (without their line ends), decoded strictly as UTF-8 one at a
    time, so a file of any length is read in bounded memory; a bad byte names the line."""
    for n, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{where}: not valid UTF-8 at line {n} (byte {e.start}: {raw[e.start : e.start + 4]!r}); "
                "re-encode it as UTF-8"
            ) from None


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file strictly.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty, or not UTF-8 (naming the line and byte offset).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"text file not found: {p}")
    text = decode_utf8(p.read_bytes(), str(p))
    if not text.strip():
        raise ValueError(f"{p}: the file is empty")
    return text


# --- folders of files --------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteTree:
    """A folder of files that upstream ships inside one zip archive."""

    name: str
    """Local folder name (``recordings``)."""
    urls: tuple[str, ...]
    """Zip archives holding the folder."""
    member_prefix: str
    """The folder inside the archive (``repo-1.0.10/recordings/``)."""
    manifest_sha256: str
    """sha256 of the manifest text: ``<sha256>  <file>`` lines sorted by file name."""
    count: int
    """Files the folder holds."""
    suffix: str = ""
    """Only archive members ending so belong to the folder (``.wav``)."""
    manifest: str = "SHA256SUMS"
    """Manifest file name, stored beside the folder."""


def manifest_text(folder: Path, names: list[str]) -> str:
    """The ``sha256sum``-format manifest of ``names`` in ``folder``, sorted by name."""
    return "".join(f"{sha256_of(folder / n)}  {n}\n" for n in sorted(names))


def _pinned_manifest(base: Path, tree: RemoteTree) -> list[str]:
    """The manifest's lines after checking its sha256 against the pin and its file count."""
    man = base / tree.manifest
    if not man.is_file():
        raise ValueError(f"{man} is missing: it verifies {base / tree.name}; restore it or delete the folder")
    text = man.read_text(encoding="utf-8")
    got = hashlib.sha256(text.encode()).hexdigest()
    if got != tree.manifest_sha256:
        raise ValueError(
            f"checksum mismatch for {man}: sha256 {got}, expected {tree.manifest_sha256}. The folder "
            "is a different version or was edited; delete it (or fix the mirror) and try again"
        )
    lines = text.splitlines()
    if len(lines) != tree.count:
        raise ValueError(f"{man} lists {len(lines)} files, expected {tree.count}")
    return lines


def _verify_tree(base: Path, tree: RemoteTree) -> Path:
    """``base/tree.name`` after checking the manifest's pin and every file against it."""
    folder = base / tree.name
    for line in _pinned_manifest(base, tree):
        f = folder / line.split("  ", 1)[1]
        if not f.is_file() or f"{sha256_of(f)}  {f.name}" != line:
            raise ValueError(
                f"{f}: missing or checksum mismatch against {base / tree.manifest}; delete the folder "
                "(or fix the mirror) and try again"
            )
    return folder


def _download_tree(tree: RemoteTree, base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in tree.urls:
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{tree.name}.", suffix=".part"))
        try:
            with urllib.request.urlopen(url, timeout=120) as resp:
                blob = resp.read()
            folder = tmp / tree.name
            folder.mkdir()
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                members = [
                    m for m in z.namelist()
                    if m.startswith(tree.member_prefix) and m.endswith(tree.suffix) and not m.endswith("/")
                ]  # fmt: skip
                names = [m[len(tree.member_prefix) :] for m in members]
                if any("/" in n or n.startswith(".") for n in names):
                    raise ValueError(f"unexpected nested or hidden members under {tree.member_prefix}")
                for m, n in zip(members, names, strict=True):
                    (folder / n).write_bytes(z.read(m))
            (tmp / tree.manifest).write_text(manifest_text(folder, names), encoding="utf-8")
            _pinned_manifest(tmp, tree)  # the files were just hashed into it: only the pin is left
            (base / tree.manifest).unlink(missing_ok=True)
            shutil.rmtree(base / tree.name, ignore_errors=True)
            os.replace(tmp / tree.name, base / tree.name)
            os.replace(tmp / tree.manifest, base / tree.manifest)  # last: it marks the tree complete
            return base / tree.name
        except (urllib.error.URLError, OSError, ValueError, zipfile.BadZipFile) as e:
            errors.append(f"{url}: {e}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise FileNotFoundError("; ".join(errors))


def fetch_tree(dataset: str, tree: RemoteTree, *, download: bool = True) -> Path:
    """Path to a verified local copy of the folder ``tree`` (mirror, cache, then download).

    Raises:
        FileNotFoundError: naming every place looked at and how to set ``ATTNKIT_DATA``.
        ValueError: a manifest or file checksum mismatch.
    """
    looked = []
    root = data_root()
    for base in ([root / dataset] if root is not None else []) + [cache_root() / dataset]:
        if (base / tree.name).is_dir() and (base / tree.manifest).is_file():
            return _verify_tree(base, tree)
        looked.append(str(base / tree.name))
    why = "downloading is off"
    if download:
        try:
            return _download_tree(tree, cache_root() / dataset)
        except FileNotFoundError as e:
            why = f"download failed ({e})"
    raise FileNotFoundError(
        f"dataset {dataset!r}: folder {tree.name!r} not found. Looked in: {', '.join(looked)}; {why}. "
        f"Set ATTNKIT_DATA to a folder holding {dataset}/{tree.name} and {dataset}/{tree.manifest} "
        "(for example ATTNKIT_DATA=../shared/data), or connect to the internet to download it."
    )
