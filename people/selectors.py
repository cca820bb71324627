"""Reads over a person's data: the GDPR export (right of access)."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import QuerySet

from events.models import DeletionReceipt, EventLog
from stats.models import UserActivityPeriod

EXPORT_CHUNK = 2000  # rows fetched per round trip, and written per piece of the answer
EXPORT_FIELDS = ("uuid", "event_name", "timestamp", "received_at", "count", "data")
PERIOD_FIELDS = ("period_start", "period_end", "events")
DELETION_FIELDS = ("id", "reason", "filter", "events_deleted", "created_at")
_JSON = orjson.OPT_UTC_Z  # "…Z" like every other answer of the API


def person_export(
    *,
    profile: dict[str, Any] | None,
    logs: QuerySet[EventLog],
    periods: QuerySet[UserActivityPeriod],
    deletions: QuerySet[DeletionReceipt],
    user_number: int | None,
    now: dt.datetime,
) -> Iterator[bytes]:
    """One JSON document, `{"exported_at", "person": profile, "user_number", "events":
    [...], "activity_periods": [...], "deletions": [...]}`, produced in pieces: the rows
    (oldest first) are read EXPORT_CHUNK at a time, so a history of any length is never
    held in memory. Each queryset is already that person's, in their tenant."""
    yield b'{"exported_at":%s,"person":%s,"user_number":%s,"events":' % (
        orjson.dumps(now, option=_JSON),
        orjson.dumps(profile, option=_JSON),
        orjson.dumps(user_number),
    )
    events = logs.order_by("timestamp", "id").values_list(
        "uuid", "event__name", "timestamp", "received_at", "count", "data"
    )
    yield from _array(events, EXPORT_FIELDS)
    yield b',"activity_periods":'
    yield from _array(periods.order_by("period_start").values_list(*PERIOD_FIELDS), PERIOD_FIELDS)
    yield b',"deletions":'
    yield from _array(deletions.order_by("id").values_list(*DELETION_FIELDS), DELETION_FIELDS)
    yield b"}"


def _array(rows: QuerySet, fields: tuple[str, ...]) -> Iterator[bytes]:
    """A JSON array of objects (`fields` naming the values of each row), in pieces of
    EXPORT_CHUNK rows."""
    piece: list[bytes] = [b"["]
    separator = b""
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        piece.append(separator + orjson.dumps(dict(zip(fields, row, strict=True)), option=_JSON))
        separator = b","
        if len(piece) >= EXPORT_CHUNK:
            yield b"".join(piece)
            piece = []
    yield b"".join(piece) + b"]"
