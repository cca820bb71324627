"""Ingestion accounting (seed 003): per tenant and UTC hour, how many requests and
items were accepted, duplicates, or rejected — and why.

Counted with the same increment upsert as the HourlyCount rollup: inside the ingest
transaction for requests that reach the store (so the counters commit with the
rows), and in a statement of its own right after a request is refused whole.
Prometheus counts the same items once the data is committed.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

from accounts.authentication import TenantInactive
from core.metrics import count_ingested
from core.rest import PayloadTooLarge
from events.models import IngestionCount, RejectionReason
from events.rollups import increment, utc_hour

Outcome = IngestionCount.Outcome
Reason = RejectionReason
# (outcome, reason) → items; reason is "" unless the outcome is "rejected"
Tally = Counter[tuple[str, str]]
ACCEPTED = (Outcome.ACCEPTED.value, "")


class Refused(exceptions.APIException):
    """An ingestion request refused as a whole: the answer says why (`reason`). The
    accounting counts `events` items, or when None those of the body if it is readable."""

    def __init__(
        self, message: str, *, reason: Reason, status: int, events: int | None = None
    ) -> None:
        super().__init__({"detail": message, "reason": reason.value})
        self.status_code = status
        self.reason = reason
        self.events = events


class RejectedInput(exceptions.ValidationError):
    """A 400 with DRF's field errors, counted under `reason` — unless `counted`: the
    service already counted it in its transaction (an unknown event)."""

    def __init__(self, errors, *, reason: str, counted: bool = False) -> None:
        super().__init__(errors)
        self.reason = Reason(reason)
        self.counted = counted


def tally(receipts: Iterable) -> Tally:
    """Items by (outcome, reason) from ingestion receipts."""
    return Counter(
        (str(receipt.status), str(receipt.reason) if receipt.status == Outcome.REJECTED else "")
        for receipt in receipts
    )


def request_outcome(items: Tally) -> tuple[str, str]:
    """Where a request is counted: `accepted` when anything was stored or found stored
    (it was answered 2xx), else under the reason of its first rejected items."""
    if any(outcome != Outcome.REJECTED for outcome, _ in items):
        return ACCEPTED
    return next(iter(items), (Outcome.REJECTED.value, Reason.INVALID_FIELD.value))


def ingestion_counts_apply(*, tenant_id: int, received: dt.datetime, items: Tally) -> None:
    """Count one request and its items. Run it in the ingest transaction: Prometheus
    hears of the items once that transaction commits."""
    hour = utc_hour(received)
    requests = Counter({request_outcome(items): 1})
    rows = [
        (tenant_id, hour, outcome, reason, items[(outcome, reason)], requests[(outcome, reason)])
        for outcome, reason in sorted(items.keys() | requests.keys())
    ]
    increment(
        IngestionCount,
        keys=("tenant_id", "hour", "outcome", "reason"),
        amounts=("events", "requests"),
        rows=rows,
    )
    transaction.on_commit(lambda: count_ingested(items))


def record_refusal(*, tenant_id: int, reason: Reason, events: int = 1) -> None:
    """Count a request refused as a whole, with its items, in its own statement."""
    items = Counter({(Outcome.REJECTED.value, reason.value): events})
    with transaction.atomic():
        ingestion_counts_apply(tenant_id=tenant_id, received=timezone.now(), items=items)


def refusal_of(exc: Exception) -> tuple[Reason, int | None] | None:
    """The reason an exception from an ingestion view is counted under, with its item
    count when the exception knows it; None for failures that are not about the
    sender's data (a key with the wrong role, server errors)."""
    if isinstance(exc, Refused):
        return exc.reason, exc.events
    if isinstance(exc, RejectedInput):
        return None if exc.counted else (exc.reason, 1)
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return Reason.MALFORMED_JSON, 1
    if isinstance(exc, PayloadTooLarge):
        return Reason.TOO_LARGE, 1
    if isinstance(exc, exceptions.Throttled):
        return Reason.RATE_LIMITED, None
    if isinstance(exc, TenantInactive):
        return Reason.TENANT_INACTIVE, None
    if isinstance(exc, exceptions.ValidationError):
        return Reason.INVALID_FIELD, 1
    return None
