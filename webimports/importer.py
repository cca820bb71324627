"""An import: files of one export read line by line (webimports.readers), their rows
stored as a tenant's daily aggregates in one transaction, and a receipt (WebImport).

The files are read before that transaction begins (their rows wait in a temporary
file): reading a large export takes long, and on SQLite a transaction holds the only
write lock of the database, so every tenant's writes waited for the whole read.

An import never doubles what is already counted: days on or after the tenant's first
native page view are left out (those are counted natively), and so are the numbers of a
day and dimension an earlier import or another file of this import brought, and lines
repeated in a file; the receipt counts the lines left out, by reason. A file that
cannot be read at all (its header, its encoding) stops the import with nothing stored.
"""

import csv
import datetime as dt
import io
import pickle
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from core.locks import try_lock
from webimports.days import Days
from webimports.limits import Budget, Limits
from webimports.models import ImportedDay, ImportedMetric, WebImport
from webimports.readers import (
    METRICS,
    PLAUSIBLE_SKIPPED,
    BadRow,
    ExportError,
    GaReader,
    PlausibleReader,
    Reader,
    Row,
    UmamiReader,
    plausible_table,
)
from webimports.uploads import Upload

BATCH = 2000  # rows per INSERT
MAX_ERRORS = 20  # problems listed in a receipt (all are counted)


class ImportBusy(RuntimeError):
    """Another import of the same tenant is running."""


@dataclass
class _Receipt:
    """What the receipt counts while the files are read."""

    read: int = 0
    imported: int = 0
    skipped: Counter = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    first: dt.date | None = None
    last: dt.date | None = None

    def skip(self, reason: str, upload: str, line: int, message: str | None = None) -> None:
        self.skipped[reason] += 1
        if message is not None and len(self.errors) < MAX_ERRORS:
            self.errors.append({"file": upload, "line": line, "message": message})

    def stored(self, day: dt.date) -> None:
        self.first = day if self.first is None else min(self.first, day)
        self.last = day if self.last is None else max(self.last, day)


def run_import(
    tenant: Tenant,
    source: str,
    uploads: list[Upload],
    *,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> WebImport:
    """Reads `uploads` (an export of `source`: WebImport.Source) into `tenant`'s daily
    aggregates and returns the receipt. `progress` is told each chunk of bytes read.
    Raises ExportError (nothing stored; ImportTooLarge past `limits`) or ImportBusy."""
    budget = Budget(limits or Limits())
    budget.declared(sum(upload.size for upload in uploads))
    with try_lock(f"webimport-{tenant.pk}") as held:
        if not held:
            raise ImportBusy("Another import of this tenant is running.")
        with _Run(tenant, source, progress or (lambda size: None), budget) as run:
            for upload in uploads:
                run.read(upload)
            with transaction.atomic():
                return run.finish()


class _Run:
    """One import under way: its receipt, the days it may bring, and the rows read, which
    wait in a temporary file (BATCH at a time) until `finish` stores them."""

    def __init__(
        self, tenant: Tenant, source: str, progress: Callable[[int], None], budget: Budget
    ):
        self.tenant = tenant
        self.source = source
        self.progress = progress
        self.budget = budget
        self.tz = ZoneInfo(tenant.timezone)
        self.receipt = _Receipt()
        self.days = Days(tenant, self.tz)
        self.pending: list[Row] = []
        self.spilled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self.started = timezone.now()

    def __enter__(self) -> "_Run":
        return self

    def __exit__(self, *exc_info) -> None:
        self.spilled.close()

    def read(self, upload: Upload) -> None:
        try:
            with upload.open() as handle:
                self._read_text(upload.name, handle, self._counter(upload))
        except zipfile.BadZipFile as exc:  # a zip's member, opened or read (webimports.uploads)
            raise ExportError(f"{upload.name}: cannot be unpacked ({exc}).") from None

    def _counter(self, upload: Upload) -> Callable[[int], None]:
        """Told each chunk of `upload` read: spends the budget, then reports progress."""
        read = 0

        def took(size: int) -> None:
            nonlocal read
            read += size
            self.budget.took(size, name=upload.name, read=read, packed=upload.packed)
            self.progress(size)

        return took

    def _read_text(self, name: str, handle: IO[bytes], counter: Callable[[int], None]) -> None:
        stream = io.BufferedReader(_Counting(handle, counter))
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        lines = _Lines(text, one_table=self.source == WebImport.Source.GA)
        try:
            self._read_lines(name, lines)
        except csv.Error as exc:
            raise ExportError(f"{name}, line {lines.number}: {exc}") from None
        except UnicodeDecodeError:
            raise ExportError(f"{name}: not UTF-8 text (save it as UTF-8 CSV).") from None

    def _read_lines(self, name: str, lines: "_Lines") -> None:
        records = csv.DictReader(lines, strict=True)
        records.fieldnames = [column.strip() for column in records.fieldnames or []]
        repeated = sorted({c for c in records.fieldnames if records.fieldnames.count(c) > 1})
        if repeated:
            raise ExportError(f"{name}, line {lines.number}: the column {repeated[0]} twice.")
        reader = _reader(self.source, name, records.fieldnames, self.tz)
        done = {"name": name, "table": reader.table if reader else None, "rows": 0}
        if reader is not None and reader.note:
            done["note"] = reader.note
        self.receipt.files.append(done)
        file = _File(name, len(self.receipt.files), reader)
        for record in records:
            self.budget.row()
            if None in record or None in record.values():  # more values, or fewer
                raise ExportError(
                    f"{name}, line {lines.number}: {_values_in(record)} values, the header "
                    f"has {len(records.fieldnames)} columns."
                )
            self.receipt.read += 1
            done["rows"] += 1
            self._take(file, record, lines.number)
        if reader is not None:
            self.store(reader.finish())

    def _take(self, file: "_File", record: dict[str, str], line: int) -> None:
        """Stores the rows of one line, or counts why it is left out."""
        reader, receipt = file.reader, self.receipt
        if reader is None:
            receipt.skip("unsupported_table", file.name, line)
            return
        try:
            day = reader.day_of(record)
            reason = self.days.reason_against(day, reader=reader, file=file.number)
            if reason is not None:
                receipt.skip(reason, file.name, line)
                return
            key = _line_key(record)
            if key in file.lines:
                same = f"the same line as line {file.lines[key]}."
                receipt.skip("duplicate_row", file.name, line, same)
                return
            rows = reader.add(record)
            free = self.days.metrics_free(day, reader=reader, file=file.number)
            if free != reader.metrics:  # another report brought the others
                rows = [_only(row, free) for row in rows]
            self.store(rows)
        except BadRow as exc:
            receipt.skip("invalid_row", file.name, line, str(exc))
            return
        except ExportError as exc:  # the file is not what its header said (a GA report)
            raise ExportError(f"{file.name}, line {line}: {exc}") from None
        self.days.bring(day, reader=reader, file=file.number)
        file.lines[key] = line
        receipt.imported += 1

    def store(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.receipt.stored(row.date)
            self.pending.append(row)
        if len(self.pending) >= BATCH:
            pickle.dump([tuple(row) for row in self.pending], self.spilled)
            self.pending.clear()

    def finish(self) -> WebImport:
        """The receipt and every row read, stored: run it in a transaction."""
        receipt = self.receipt
        web_import = WebImport.objects.create(
            tenant=self.tenant,
            source=self.source,
            files=receipt.files,
            rows_read=receipt.read,
            rows_imported=receipt.imported,
            rows_skipped=dict(receipt.skipped),
            errors=receipt.errors,
            start_date=receipt.first,
            end_date=receipt.last,
            finished_at=timezone.now(),
        )
        # When it began, as before the rows were read first (created_at is set on insert).
        WebImport.objects.filter(pk=web_import.pk).update(created_at=self.started)
        web_import.created_at = self.started
        for rows in self._batches():
            ImportedDay.objects.bulk_create(
                ImportedDay(tenant=self.tenant, web_import=web_import, **row._asdict())
                for row in rows
            )
        ImportedMetric.objects.bulk_create(self.days.metrics(web_import), batch_size=BATCH)
        return web_import

    def _batches(self) -> Iterator[list[Row]]:
        """The rows read, BATCH at a time: the spilled ones, then those still pending."""
        self.spilled.seek(0)
        while True:
            try:
                # Only this run wrote this file (an anonymous temporary file).
                values = pickle.load(self.spilled)  # noqa: S301
            except EOFError:
                break
            yield [Row(*row) for row in values]
        yield self.pending


def _reader(source: str, name: str, columns: list[str], tz: ZoneInfo) -> Reader | None:
    """The reader of one file; None for a table that is not imported. Raises ExportError
    naming the file."""
    try:
        if not columns:
            raise ExportError("the file is empty.")
        if source == WebImport.Source.PLAUSIBLE:
            table = plausible_table(name, columns)
            return None if table in PLAUSIBLE_SKIPPED else PlausibleReader(table, columns)
        if source == WebImport.Source.UMAMI:
            return UmamiReader(columns, tz)
        return GaReader(columns)
    except ExportError as exc:
        raise ExportError(f"{name}: {exc}") from None


@dataclass
class _File:
    """A file being read: its number in the import, its reader (None: a table left out)
    and the lines it gave, by key (to leave out a line given again)."""

    name: str
    number: int
    reader: Reader | None
    lines: dict[int, int] = field(default_factory=dict)  # key: the line's number


def _values_in(record: dict[Any, Any]) -> int:
    """A line's values, read by csv.DictReader (a missing one None, more under None)."""
    return sum(value is not None for key, value in record.items() if key is not None) + len(
        record.get(None, [])
    )


def _only(row: Row, metrics: frozenset[str]) -> Row:
    """`row` with its numbers but `metrics` 0."""
    return row._replace(**{name: 0 for name in METRICS if name not in metrics})


def _line_key(record: dict[str, Any]) -> int:
    """A line's values, hashed: the same line twice in an export (all the values of a day,
    a page or an event again) is the same numbers twice, never new ones. 64 bits, kept
    per file (about 100 bytes a line), so two different lines of a file of ten million
    share one with a chance of about 1 in 300,000."""
    return hash(tuple(tuple(v) if isinstance(v, list) else v for v in record.values()))


class _Counting(io.RawIOBase):
    """A binary stream that reports how many bytes were read from it."""

    def __init__(self, inner: IO[bytes], report: Callable[[int], None]):
        self.inner = inner
        self.report = report

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        if data:
            self.report(len(data))
        return len(data)


class _Lines(Iterator[str]):
    """A text stream's lines without blank ones and `#` comments (Google Analytics puts
    its report's title and dates above the header), numbered as in the file.

    `one_table`: a blank line after the table's first line ends it. A Google Analytics
    report holds more tables after its own, each after a blank line: Universal
    Analytics' exports end with the chart's `Day Index,<metric>` lines, GA4's may hold
    further tables of the same report. What follows is read (counted against the
    limits, a damaged zip member still noticed) but not parsed."""

    def __init__(self, stream: IO[str], *, one_table: bool = False):
        self.stream = stream
        self.number = 0
        self.one_table = one_table
        self.started = False

    def __next__(self) -> str:
        for line in self.stream:
            self.number += 1
            if not line.strip():
                if self.one_table and self.started:
                    for _ in self.stream:  # the other tables: read, not parsed
                        pass
                    break
            elif not line.startswith("#"):
                self.started = True
                return line
        raise StopIteration
