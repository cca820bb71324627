"""What one import through the API may cost a worker: the bytes its files unpack to (all
of them together, counted as they are read: a zip's declared sizes may lie), how far a
zip's member may unpack beyond its compressed size, the lines read, and the seconds spent
reading. A file past a limit stops the import with nothing stored (a 413 naming the
setting). `manage.py import_web_stats` runs without them: large exports go there.
"""

import time
from dataclasses import dataclass

from django.conf import settings

from webimports.readers import ExportError

# A member that unpacks to less than this is never refused for its ratio: a small file of
# repeated lines compresses well and costs nothing to read.
RATIO_FLOOR = 1024 * 1024
ADVICE = "import the export in parts, or from the shell (manage.py import_web_stats)."


class ImportTooLarge(ExportError):
    """An import over one of its Limits: nothing is stored."""


@dataclass(frozen=True)
class Limits:
    """An import's limits; None: no limit."""

    unpacked_bytes: int | None = None
    ratio: int | None = None
    rows: int | None = None
    seconds: float | None = None

    @classmethod
    def of_uploads(cls) -> "Limits":
        """The limits of an upload to /api/imports/ (settings; 0 is no limit)."""
        return cls(
            unpacked_bytes=settings.WEBIMPORT_MAX_UNPACKED_BYTES or None,
            ratio=settings.WEBIMPORT_MAX_RATIO or None,
            rows=settings.WEBIMPORT_MAX_ROWS or None,
            seconds=settings.WEBIMPORT_MAX_SECONDS or None,
        )


class Budget:
    """An import's limits, spent as its files are read; raises ImportTooLarge."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.deadline = None if limits.seconds is None else time.monotonic() + limits.seconds
        self.unpacked = 0
        self.rows = 0

    def declared(self, size: int) -> None:
        """The files' declared sizes, summed: refused at once when already too many."""
        self._check_bytes(size)

    def took(self, size: int, *, name: str, read: int, packed: int | None) -> None:
        """`size` more bytes read of file `name`, `read` of it so far; `packed`: its
        compressed size when a zip's member."""
        self.unpacked += size
        self._check_bytes(self.unpacked)
        ratio = self.limits.ratio
        if ratio is not None and packed is not None and RATIO_FLOOR < read > ratio * packed:
            raise ImportTooLarge(
                f"{name}: unpacks to more than {ratio} times its compressed size "
                f"(WEBIMPORT_MAX_RATIO): not an export of a site's numbers."
            )
        self._check_time()

    def row(self) -> None:
        self.rows += 1
        rows = self.limits.rows
        if rows is not None and self.rows > rows:
            raise ImportTooLarge(
                f"The files hold more than {rows} lines (WEBIMPORT_MAX_ROWS): {ADVICE}"
            )

    def _check_bytes(self, size: int) -> None:
        limit = self.limits.unpacked_bytes
        if limit is not None and size > limit:
            raise ImportTooLarge(
                f"The files unpack to more than {limit} bytes (WEBIMPORT_MAX_UNPACKED_BYTES): "
                f"{ADVICE}"
            )

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ImportTooLarge(
                f"Reading the files took more than {self.limits.seconds:g} seconds "
                f"(WEBIMPORT_MAX_SECONDS): {ADVICE}"
            )
