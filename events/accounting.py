"""Ingestion accounting (seed 003): per tenant and UTC hour, how many requests and
items were accepted, duplicates, or rejected — and why.

This module tallies; events.rollups writes the counters: inside the ingest
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
from events.exceptions import Refused, RejectedInput
from events.models import IngestionCount, RejectionReason
from events.rollups import Tally, ingestion_counts_apply

Outcome = IngestionCount.Outcome
Reason = RejectionReason
ACCEPTED = (Outcome.ACCEPTED.value, "")
DUPLICATE = (Outcome.DUPLICATE.value, "")


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


def record_ingestion(*, tenant_id: int, received: dt.datetime, items: Tally) -> None:
    """Count one request and its items. Run it in the ingest transaction: Prometheus
    hears of the items once that transaction commits."""
    requests = Counter({request_outcome(items): 1})
    ingestion_counts_apply(tenant_id=tenant_id, received=received, items=items, requests=requests)
    report_ingested(items)


def report_ingested(items: Tally) -> None:
    """Prometheus counts `items` once the data is committed (at once outside a
    transaction block); a failure there never fails the request."""
    transaction.on_commit(lambda: count_ingested(items), robust=True)


def record_refusal(*, tenant_id: int, reason: Reason, events: int = 1) -> None:
    """Count a request refused as a whole, with its items, in its own statement."""
    items = Counter({(Outcome.REJECTED.value, reason.value): events})
    with transaction.atomic():
        record_ingestion(tenant_id=tenant_id, received=timezone.now(), items=items)


def refusal_of(exc: Exception) -> tuple[Reason, int | None] | None:
    """The reason an exception from an ingestion view is counted under, with its item
    count when the exception knows it (None: the items of the body, when it could be
    read, else one); None for failures that are not about the sender's data (a key with
    the wrong role, server errors)."""
    if isinstance(exc, Refused):
        return exc.reason, exc.events
    if isinstance(exc, RejectedInput):  # a batch's envelope: its items are all refused
        return None if exc.counted else (exc.reason, None)
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return Reason.MALFORMED_JSON, 1
    if isinstance(exc, PayloadTooLarge):
        return Reason.TOO_LARGE, 1
    if isinstance(exc, exceptions.Throttled):
        return Reason.RATE_LIMITED, None
    if isinstance(exc, TenantInactive):
        return Reason.TENANT_INACTIVE, None
    if isinstance(exc, exceptions.ValidationError):  # a query parameter: the same
        return Reason.INVALID_FIELD, None
    return None
