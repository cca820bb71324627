"""Reads over a person's data: the GDPR export (right of access)."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import QuerySet

from events.models import EventLog

EXPORT_CHUNK = 2000  # rows fetched per round trip, and written per piece of the answer
EXPORT_FIELDS = ("uuid", "event_name", "timestamp", "received_at", "count", "data")
_JSON = orjson.OPT_UTC_Z  # "…Z" like every other answer of the API


def person_export(
    *, profile: dict[str, Any] | None, logs: QuerySet[EventLog], now: dt.datetime
) -> Iterator[bytes]:
    """One JSON document, `{"exported_at", "person": profile, "events": [...]}`, produced
    in pieces: the events (oldest first) are read EXPORT_CHUNK rows at a time, so a
    history of any length is never held in memory."""
    yield b'{"exported_at":%s,"person":%s,"events":[' % (
        orjson.dumps(now, option=_JSON),
        orjson.dumps(profile, option=_JSON),
    )
    rows = (
        logs.order_by("timestamp", "id")
        .values_list("uuid", "event__name", "timestamp", "received_at", "count", "data")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    piece: list[bytes] = []
    separator = b""
    for row in rows:
        piece.append(
            separator + orjson.dumps(dict(zip(EXPORT_FIELDS, row, strict=True)), option=_JSON)
        )
        separator = b","
        if len(piece) >= EXPORT_CHUNK:
            yield b"".join(piece)
            piece = []
    yield b"".join(piece) + b"]}"
