"""The files of an upload: a CSV file itself, or the `.csv` members of a zip (Plausible
exports one), each opened only when read; what a damaged zip raises, as BadZipFile."""

import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings

from webimports.readers import ExportError

MAX_NAME = 200  # characters of a file's name kept in a receipt
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a member's header; an empty zip's end
# What zipfile raises besides BadZipFile for a damaged or unusual zip (found by damaging
# zips at random): an encrypted member (RuntimeError), an unknown compression method or
# zip version (NotImplementedError), a name flagged UTF-8 that is not (UnicodeDecodeError)
# or an offset before the start (both ValueError), damaged compressed bytes (zlib.error,
# EOFError, lzma.LZMAError, and OSError from bz2).
UNPACKING_ERRORS = (
    zipfile.BadZipFile,
    RuntimeError,
    NotImplementedError,
    ValueError,
    zlib.error,
    EOFError,
    lzma.LZMAError,
    OSError,
)


@dataclass
class Upload:
    """A file to read: its name, its size in bytes, how to open it (binary), and its
    compressed size when it is a zip's member."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]
    packed: int | None = None

    def __post_init__(self) -> None:
        # Shown in receipts (stored as JSON, which holds no NUL): printable, and short.
        self.name = "".join(c for c in self.name if c.isprintable())[:MAX_NAME] or "unnamed"


def uploads_of(name: str, size: int, opener: Callable[[], IO[bytes]]) -> list[Upload]:
    """The CSV files of an upload: itself, or the `.csv` members of a zip (Plausible
    exports one), refused when they would unpack to more than WEBIMPORT_MAX_BYTES."""
    with opener() as head:
        is_zip = head.read(4) in ZIP_SIGNATURES
    if not is_zip:
        return [Upload(name, size, opener)]
    with opener() as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                members = [
                    info
                    for info in archive.infolist()
                    if not info.is_dir() and info.filename.lower().endswith(".csv")
                ]
        except UNPACKING_ERRORS as exc:
            raise ExportError(f"{name}: not a readable zip ({exc}).") from None
    if not members:
        raise ExportError(f"{name}: the zip holds no .csv file.")
    if sum(info.file_size for info in members) > settings.WEBIMPORT_MAX_BYTES:
        raise ExportError(f"{name}: unpacks to more than {settings.WEBIMPORT_MAX_BYTES} bytes.")
    # A member's compressed size as declared, at most the zip's own (a declared one may lie).
    return [
        Upload(info.filename, info.file_size, _member(opener, info), min(info.compress_size, size))
        for info in members
    ]


def uploads_of_paths(paths: Iterable[str | Path]) -> list[Upload]:
    found: list[Upload] = []
    for path in map(Path, paths):
        found += uploads_of(str(path.name), path.stat().st_size, lambda path=path: path.open("rb"))
    return found


def _member(opener, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    """Opens a zip's member; what it cannot unpack raises BadZipFile, opened or read."""

    def open_member() -> IO[bytes]:
        handle = opener()
        try:
            archive = zipfile.ZipFile(handle)
            member = archive.open(info)
        except UNPACKING_ERRORS as exc:
            handle.close()
            raise zipfile.BadZipFile(exc) from exc
        return _Member(member, (archive, handle))  # type: ignore[return-value]

    return open_member


class _Member:
    """A zip's member: what cannot be unpacked raises BadZipFile (a UnicodeDecodeError from
    here is no text's), and closing it closes its archive and the file under it."""

    def __init__(self, member: IO[bytes], owners: tuple):
        self.member = member
        self.owners = owners

    def read(self, size: int = -1) -> bytes:
        try:
            return self.member.read(size)
        except UNPACKING_ERRORS as exc:
            raise zipfile.BadZipFile(exc) from exc

    def close(self) -> None:
        for owner in (self.member, *self.owners):
            owner.close()

    def __enter__(self) -> "_Member":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
