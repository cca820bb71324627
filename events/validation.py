"""The one validator for incoming event logs, shared by every ingestion route.

Plain Python on already-decoded JSON (no DRF serializer per event): it turns a
raw dict into an `EventInput` or a DRF-style `{"field": ["message"]}` dict. Its field
table, EVENT_FIELDS, is also what the API schema describes (events.serializers).
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import orjson
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import jsonbody
from events.models import (
    DISTINCT_ID_MAX_LENGTH,
    EVENT_NAME_MAX_LENGTH,
    RejectionReason,
    event_name_problem,
)

# Caps on one event's `data` (OWASP API4): its size as compact JSON, its nesting, and the
# length of every property name in it.
MAX_DATA_BYTES = 32 * 1024
MAX_DATA_DEPTH = 10
MAX_PROPERTY_KEY_LENGTH = 200
MAX_COUNT = 2**31 - 1
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FIRST = dt.datetime.min.replace(tzinfo=dt.UTC)
LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


class FieldErrors(dict[str, list[str]]):
    """DRF's `{"field": ["message"]}`, plus the reason the rejection is counted under:
    `timestamp_out_of_range` when that is the only problem, else `invalid_field`."""

    reason: RejectionReason = RejectionReason.INVALID_FIELD


class Rejection(ValueError):
    """A field problem counted under its own reason when it is the item's only one."""

    reason = RejectionReason.INVALID_FIELD


class TimestampOutOfRange(Rejection):
    """A readable timestamp outside what is accepted (before 1970, too far ahead)."""

    reason = RejectionReason.TIMESTAMP_OUT_OF_RANGE


class DataTooLarge(Rejection):
    """`data` over MAX_DATA_BYTES."""

    reason = RejectionReason.TOO_LARGE


@dataclass(slots=True)
class EventInput:
    """A validated event log, not yet stored. `timestamp` None means "now"."""

    event_name: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: dt.datetime | None = None
    distinct_id: str = ""
    uuid: UUID | None = None
    count: int = 1


@dataclass(frozen=True)
class RefusedItem:
    """A batch's item holding a value that cannot be stored (core.jsonbody.ValueRefused):
    validate_event rejects it with `errors`; `raw` keeps its uuid for the receipt."""

    raw: Any
    errors: FieldErrors


def unstorable_items_refused(body: Any) -> Any | None:
    """A batch `body` whose parse refused a value that cannot be stored, with each item
    holding one replaced by a RefusedItem naming it (the others are stored as usual);
    None when such a value is outside the items, or the body is no batch: the request
    is refused as a whole."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    try:
        jsonbody.check_value({key: value for key, value in body.items() if key != "events"})
    except jsonbody.ValueRefused:
        return None
    return {**body, "events": [_refused_or_item(item) for item in body["events"]]}


def _refused_or_item(item: Any) -> Any:
    try:
        jsonbody.check_value(item)
    except jsonbody.ValueRefused as exc:
        return RefusedItem(item, FieldErrors({exc.where: [str(exc)]}))
    return item


def validate_event(
    raw: Any, *, now: dt.datetime, skew: dt.timedelta = dt.timedelta(0)
) -> tuple[EventInput | None, FieldErrors]:
    """Validate one decoded JSON item; exactly one of the pair is meaningful.

    `skew` (server clock - client clock, from a batch's `sent_at`) is added to a
    client timestamp before the range check, so the stored time is in server time."""
    if isinstance(raw, RefusedItem):
        return None, raw.errors
    if not isinstance(raw, dict):
        return None, FieldErrors(non_field_errors=["Each event must be a JSON object."])
    errors = FieldErrors({name: ["Unknown field."] for name in sorted(raw.keys() - EVENT_FIELDS)})
    values: dict[str, Any] = {}
    reason = RejectionReason.INVALID_FIELD
    for name, spec in EVENT_FIELDS.items():
        if name not in raw or (raw[name] is None and spec.nullable):
            if spec.required:
                errors[name] = ["This field is required."]
            continue
        try:
            values[name] = spec.parse(raw[name], now=now, skew=skew)
        except ValueError as exc:
            errors[name] = [str(exc)]
            reason = exc.reason if isinstance(exc, Rejection) else reason
    if len(errors) == 1:
        errors.reason = reason
    if errors:
        return None, errors
    return EventInput(**values), FieldErrors()


def _event_name(value: Any, **_clock: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    if (problem := event_name_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _data(value: Any, **_clock: Any) -> dict[str, Any]:
    # Seed 001's Python example sends data as a JSON string holding an object.
    if isinstance(value, str):
        try:
            value = jsonbody.loads(value.encode())
        except jsonbody.JSONBodyError as exc:
            raise ValueError(f"A string here must hold a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("Must be a JSON object (use {} for no data).")
    _check_properties(value, depth=1)
    size = len(orjson.dumps(value))
    if size > MAX_DATA_BYTES:
        raise DataTooLarge(f"Is {size} bytes as JSON; at most {MAX_DATA_BYTES} are accepted.")
    return value


def _check_properties(value: Any, *, depth: int) -> None:
    """At most MAX_DATA_DEPTH levels of objects and lists (`data` itself is level 1),
    property names at most MAX_PROPERTY_KEY_LENGTH characters, everywhere in `data`."""
    if isinstance(value, dict | list) and depth > MAX_DATA_DEPTH:
        raise ValueError(f"Objects and lists are nested deeper than {MAX_DATA_DEPTH} levels.")
    if isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_PROPERTY_KEY_LENGTH:
                raise ValueError(
                    f"Property name '{key[:40]}…' is longer than {MAX_PROPERTY_KEY_LENGTH} "
                    "characters."
                )
            _check_properties(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_properties(item, depth=depth + 1)


def _timestamp(value: Any, *, now: dt.datetime, skew: dt.timedelta) -> dt.datetime:
    try:
        parsed = _parse_timestamp(value) + skew
    except OverflowError:
        # Unix seconds beyond a datetime's years 1-9999 (or a time the skew moves past
        # them): out of range on that side, as a nearer one would be.
        past = value < 0 if isinstance(value, int | float) else skew < dt.timedelta(0)
        parsed = FIRST if past else LAST
    return timestamp_in_range(parsed, now=now, skew=skew)


def timestamp_in_range(
    timestamp: dt.datetime, *, now: dt.datetime, skew: dt.timedelta = dt.timedelta(0)
) -> dt.datetime:
    """`timestamp` (aware, in server time) if it is after 1970-01-01 and at most
    MAX_FUTURE_SKEW_SECONDS ahead of `now`, else TimestampOutOfRange. Every ingestion
    route passes here (events.services checks the items adapters build)."""
    if timestamp < EPOCH:
        raise TimestampOutOfRange(
            "Timestamp is before 1970-01-01" + (" after clock-skew correction." if skew else ".")
        )
    max_skew = dt.timedelta(seconds=settings.EVENTTRACKER["MAX_FUTURE_SKEW_SECONDS"])
    if timestamp > now + max_skew:
        raise TimestampOutOfRange(
            f"Timestamp is more than {max_skew} in the future"
            + (" after clock-skew correction." if skew else ".")
        )
    return timestamp


def _parse_timestamp(value: Any) -> dt.datetime:
    """ISO 8601 (or seed 000's `YYYY-MM-DD HH:MM:SS`), or Unix seconds; naive means UTC."""
    if isinstance(value, bool):
        raise ValueError("Must be an ISO 8601 datetime string or Unix seconds.")
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            # A number is Unix seconds, however far: readable, but beyond any datetime.
            raise OverflowError("Timestamp is out of range.") from None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise ValueError("Must be an ISO 8601 datetime string or Unix seconds.")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _distinct_id(value: Any, **_clock: Any) -> str:
    if jsonbody.is_integer(value):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    if len(value) > DISTINCT_ID_MAX_LENGTH:
        raise ValueError(f"May have at most {DISTINCT_ID_MAX_LENGTH} characters.")
    return value


def _uuid(value: Any, **_clock: Any) -> UUID:
    try:
        return UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise ValueError("Must be a UUID string.") from None


def _count(value: Any, **_clock: Any) -> int:
    if not jsonbody.is_integer(value):
        raise ValueError("Must be a whole number.")
    if not 1 <= value <= MAX_COUNT:
        raise ValueError(f"Must be between 1 and {MAX_COUNT}.")
    return value


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an incoming event: how `validate_event` parses it (`parse` gets the
    value and the keywords `now` and `skew`; a ValueError is the field's error), and what
    the API schema says of it."""

    parse: Callable[..., Any]
    kind: Literal["string", "object", "datetime", "uuid", "integer"]
    help: str
    required: bool = False
    nullable: bool = False  # JSON null means "not given" (browser clients send nulls)
    limits: Mapping[str, int] = field(default_factory=dict)  # max_length, min/max_value


EVENT_FIELDS: dict[str, FieldSpec] = {
    "event_name": FieldSpec(
        _event_name,
        "string",
        "The event's name (exact match; created on the fly if the tenant allows it).",
        required=True,
        limits={"max_length": EVENT_NAME_MAX_LENGTH},
    ),
    "data": FieldSpec(_data, "object", "A JSON object, or a string holding one. Default {}."),
    "timestamp": FieldSpec(
        _timestamp,
        "datetime",
        "When it happened (ISO 8601 or Unix seconds, naive = UTC); default now.",
        nullable=True,
    ),
    "distinct_id": FieldSpec(
        _distinct_id,
        "string",
        "Your end user's id.",
        nullable=True,
        limits={"max_length": DISTINCT_ID_MAX_LENGTH},
    ),
    "uuid": FieldSpec(
        _uuid,
        "uuid",
        "Idempotency key: a repeat stores nothing and answers 200.",
        nullable=True,
    ),
    "count": FieldSpec(
        _count,
        "integer",
        "How many occurrences this log stands for. Default 1.",
        limits={"min_value": 1, "max_value": MAX_COUNT},
    ),
}


MAX_BATCH_EVENTS = 1000
BATCH_FIELDS = frozenset({"events", "sent_at"})


@dataclass(slots=True)
class BatchEnvelope:
    """A batch body's outer object: the raw items, and the clock skew from `sent_at`."""

    events: list[Any]
    skew: dt.timedelta = dt.timedelta(0)


def validate_batch(raw: Any, *, now: dt.datetime) -> tuple[BatchEnvelope | None, FieldErrors]:
    """Validate `{"events": [...], "sent_at"?}`; the items themselves are checked one by one
    later. Skew = now - sent_at (PostHog's rule): it corrects each item's timestamp."""
    if not isinstance(raw, dict):
        return None, FieldErrors(
            non_field_errors=['The body must be an object: {"events": [...]}.']
        )
    errors = FieldErrors({name: ["Unknown field."] for name in sorted(raw.keys() - BATCH_FIELDS)})
    events = raw.get("events")
    if not isinstance(events, list):
        errors["events"] = ["Required: a list of event objects."]
    elif not events:
        errors["events"] = ["The batch is empty."]
    skew = dt.timedelta(0)
    if raw.get("sent_at") is not None:
        try:
            skew = now - _parse_timestamp(raw["sent_at"])
        except (ValueError, OverflowError):
            errors["sent_at"] = ["Must be an ISO 8601 datetime string or Unix seconds."]
    if errors:
        return None, errors
    return BatchEnvelope(events=events, skew=skew), FieldErrors()
