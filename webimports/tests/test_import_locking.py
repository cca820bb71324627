"""An import reads its files before it opens its transaction: on SQLite a transaction
holds the database's only write lock, and another tenant's events waited (then answered
503) for as long as a large export took to read."""

import io
import sqlite3

import pytest
from django.db import connection

from webimports.importer import run_import
from webimports.models import ImportedDay
from webimports.uploads import Upload

LINES = 5000  # enough lines that reading them reports progress more than once


def _visitors() -> bytes:
    rows = [f"2024-01-{day % 28 + 1:02d},1,1,0,1,1" for day in range(LINES)]
    header = "date,visitors,pageviews,bounces,visits,visit_duration"
    return "\n".join([header, *rows]).encode() + b"\n"


def _writes_elsewhere() -> str:
    """Whether another connection could write right now: "free", or its error."""
    if connection.vendor != "sqlite":
        return "free" if not connection.in_atomic_block else "in a transaction"
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.05)
    try:
        other.execute("BEGIN IMMEDIATE")  # takes the write lock, or fails at once
        other.rollback()
        return "free"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_nothing_is_locked_while_the_files_are_read(tenant):
    data = _visitors()
    seen: list[str] = []
    upload = Upload("imported_visitors_20240101_20240128.csv", len(data), lambda: io.BytesIO(data))

    def progress(size: int) -> None:
        seen.append(_writes_elsewhere())

    receipt = run_import(tenant, "plausible", [upload], progress=progress)

    assert seen, "reading reported no progress"
    assert set(seen) == {"free"}, seen
    assert receipt.rows_read == LINES
    assert ImportedDay.objects.filter(web_import=receipt).count() == 28  # one line a day
    assert receipt.rows_skipped == {"duplicate_row": LINES - 28}
    assert receipt.created_at <= receipt.finished_at


@pytest.mark.django_db(transaction=True)
def test_an_import_stores_all_its_rows_past_a_batch(tenant):
    """Rows wait in a temporary file BATCH at a time; every one is stored at the end."""
    rows = [f"2024-01-01,example.com,/page-{index},1,1,1,," for index in range(4500)]
    header = "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors"
    data = "\n".join([header, *rows]).encode() + b"\n"
    upload = Upload("imported_pages_20240101_20240101.csv", len(data), lambda: io.BytesIO(data))

    receipt = run_import(tenant, "plausible", [upload])

    assert receipt.rows_imported == 4500
    stored = ImportedDay.objects.filter(web_import=receipt)
    assert stored.count() == 4500
    assert sorted(stored.values_list("value", flat=True))[:2] == ["/page-0", "/page-1"]
