"""Writes with several steps: ingesting and deleting event logs (with receipts).

`event_logs_ingest` is the single path every ingestion route uses: validate the
items (events.validation), resolve the events of the whole batch in one query
(creating missing ones when the tenant allows it), insert all logs in one
statement (events.bulk) with
`ON CONFLICT (tenant_id, uuid) DO NOTHING RETURNING`, and report per item
whether it was stored now (`accepted`) or was already there (`duplicate`).
The caller answers only after the surrounding transaction commits.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Sum

from accounts.credentials import TenantChanged, ensure_unchanged, tenant_row
from accounts.models import ApiKey, Tenant, User
from accounts.tenancy import scope_to_tenant
from core.locks import lock_until_commit, retry_deadlocks
from core.sharding import sequential_shard_writes
from events.accounting import record_ingestion, report_ingested, tally
from events.bulk import EventGone, LogRow, store_logs
from events.event_ids import event_ids as resolve_event_ids
from events.exceptions import EventNotFound, EventsChanging, RetriedLogGone
from events.models import DeletionReceipt, Event, EventLog, RejectionReason
from events.rollups import (
    after_ingest_commit,
    deltas_of_queryset,
    hourly_counts_apply,
    pause_folds,
)
from events.sketches import forget_event, lock_sketches
from events.usersets import forget_numbers
from events.uuid7 import uuid7
from events.validation import (
    EventInput,
    FieldErrors,
    RefusedItem,
    TimestampOutOfRange,
    timestamp_in_range,
    validate_event,
)

DELETE_CHUNK = 1000
NOT_STORED_ATOMIC = "Not stored: another item of this atomic batch was rejected."
Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(slots=True)
class Receipt:
    """What happened to one submitted item, in submission order."""

    index: int
    status: Status
    uuid: UUID | None
    errors: FieldErrors | None = None
    reason: str | None = None  # a RejectionReason, for rejected items
    log_id: int | None = None
    row: LogRow | None = None  # what was stored, for accepted items
    item: EventInput | None = None  # the validated input, for items that passed validation


def event_logs_ingest(
    *,
    tenant: Tenant,
    created_by: User | None,
    now: dt.datetime,
    raw_items: Sequence[object] | None = None,
    items: Sequence[EventInput] | None = None,
    api_key: ApiKey | None = None,
    skew: dt.timedelta = dt.timedelta(0),
    atomic: bool = False,
    enrich: Callable[[EventInput], EventInput] | None = None,
    tenant_from_cache: bool = False,
) -> list[Receipt]:
    """Validate `raw_items` (decoded JSON, by events.validation) — or take `items` an
    adapter already mapped (seed 000) — store the valid ones exactly once each (by uuid)
    and return one receipt per item, in order.

    `enrich` maps each valid item before it is stored (events.enrichment: what a web
    page's request says about the visit). With `atomic`, nothing is stored if any item is
    rejected. The counter increments (the hourly rollup, the ingestion accounting of the
    request and all its items) commit with the logs: on PostgreSQL in the one statement
    that inserts them (events.bulk).

    `tenant_from_cache`: `tenant` is as a cached credential had it, not read by this
    request; then nothing is written unless its row is still that, and TenantChanged
    says so (accounts.credentials).

    An event of the request deleted after its id was resolved (events.bulk.EventGone):
    the request is handled again with the tenant read afresh, as if it came after the
    deletion — or, with `tenant_from_cache`, TenantChanged. Deleted again meanwhile:
    EventsChanging (a 503 with Retry-After), nothing stored."""
    if (raw_items is None) == (items is None):
        raise TypeError("Give raw_items or items, not both.")
    if items is None:
        rejected, valid = _validate(raw_items, now=now, skew=skew)
    else:
        rejected, valid = _in_range(items, now=now)
    if enrich is not None:
        valid = [(index, enrich(item)) for index, item in valid]
    store = partial(
        _resolve_and_store,
        valid=valid,
        rejected=rejected,
        atomic=atomic,
        created_by=created_by,
        now=now,
        api_key=api_key,
    )
    try:
        return store(tenant, tenant_from_cache=tenant_from_cache)
    except EventGone:
        # An event of the request was deleted after its id was resolved: nothing was
        # written. Handle the request as if it came after the deletion, with the tenant
        # as it is now (its names resolve anew: created again, or unknown), once.
        if tenant_from_cache:
            raise TenantChanged from None  # the view handles it afresh
        fresh = tenant_row(tenant.pk)
        if fresh is None:  # the tenant itself is gone: the retry is refused its credential
            raise EventsChanging from None
    try:
        return store(fresh, tenant_from_cache=False)
    except EventGone:
        raise EventsChanging from None


def _resolve_and_store(
    tenant: Tenant,
    *,
    valid: list[tuple[int, EventInput]],
    rejected: list[Receipt],
    atomic: bool,
    created_by: User | None,
    now: dt.datetime,
    api_key: ApiKey | None,
    tenant_from_cache: bool,
) -> list[Receipt]:
    """The receipts of the validated items, once the accepted ones are stored.

    An event created for the request whose items all turned out duplicates as they were
    inserted (a concurrent request stored their uuid first, after _names_of_duplicates
    looked) is deleted again, if still without logs: a duplicate has no side effect."""
    created: set[int] = set()
    if atomic and rejected:
        receipts = _in_order(rejected, [_unstored(index, item) for index, item in valid])
        _abandon(receipts)  # no event is resolved (nor created) for a doomed batch
    else:
        receipts = _receipts(
            tenant,
            valid,
            rejected,
            created_by=created_by,
            now=now,
            api_key=api_key,
            created=created,
        )
        if atomic and any(receipt.status == "rejected" for receipt in receipts):
            _abandon(receipts)
    _store(tenant, receipts, now=now, tenant_from_cache=tenant_from_cache)
    if unused := created - {r.row.event_id for r in receipts if r.row is not None}:
        retry_deadlocks(partial(_drop_unused_events, tenant, unused))
    return receipts


def stored_log(tenant: Tenant, uuid: UUID) -> EventLog:
    """The tenant's log with this uuid (with its event): the answer to a repeated single
    event. RetriedLogGone (a 503 with Retry-After) when a deletion took it after the
    insert found it: read by a statement of its own, it may be gone by then."""
    logs = scope_to_tenant(EventLog.objects.select_related("event"), tenant)
    try:
        return logs.get(uuid=uuid)
    except EventLog.DoesNotExist:
        raise RetriedLogGone from None


def _validate(
    raw_items: Sequence[object], *, now: dt.datetime, skew: dt.timedelta
) -> tuple[list[Receipt], list[tuple[int, EventInput]]]:
    """The receipts of the items validation rejects, and the valid items with their index."""
    rejected: list[Receipt] = []
    valid: list[tuple[int, EventInput]] = []
    for index, raw in enumerate(raw_items):
        item, errors = validate_event(raw, now=now, skew=skew)
        if item is None:
            uuid = _raw_uuid(raw)
            rejected.append(Receipt(index, "rejected", uuid, errors=errors, reason=errors.reason))
        else:
            valid.append((index, item))
    return rejected, valid


def _in_range(
    items: Sequence[EventInput], *, now: dt.datetime
) -> tuple[list[Receipt], list[tuple[int, EventInput]]]:
    """validate_event's timestamp range check, for items an adapter built itself (seed
    000): a log outside it would be stored, and break the stats' calendar arithmetic."""
    rejected: list[Receipt] = []
    valid: list[tuple[int, EventInput]] = []
    for index, item in enumerate(items):
        try:
            if item.timestamp is not None:
                timestamp_in_range(item.timestamp, now=now)
        except TimestampOutOfRange as exc:
            errors = FieldErrors(timestamp=[str(exc)])
            errors.reason = exc.reason
            rejected.append(Receipt(index, "rejected", item.uuid, errors=errors, reason=exc.reason))
        else:
            valid.append((index, item))
    return rejected, valid


def _receipts(
    tenant: Tenant,
    valid: list[tuple[int, EventInput]],
    rejected: list[Receipt],
    *,
    created_by: User | None,
    now: dt.datetime,
    api_key: ApiKey | None,
    created: set[int],
) -> list[Receipt]:
    """Every item's receipt, in order: `accepted` with its row for the valid items whose
    event exists (or may be created), `duplicate` for an item of an event not created
    because its uuid is stored already, `rejected` for the others. `created` gets the ids
    of the events created for them."""
    repeated: set[UUID] = set()
    event_ids = resolve_event_ids(
        tenant=tenant,
        names={item.event_name for _, item in valid},
        needless=partial(_names_of_duplicates, tenant, valid, repeated),
        created=created,
    )
    built = [
        _duplicate(index, item)
        if item.event_name not in event_ids and item.uuid in repeated
        else _unknown_event(index, item)
        if item.event_name not in event_ids
        else _accepted(index, item, _build_row(tenant, event_ids, item, now, created_by, api_key))
        for index, item in valid
    ]
    return _in_order(rejected, built)


def _names_of_duplicates(
    tenant: Tenant, valid: list[tuple[int, EventInput]], repeated: set[UUID], missing: set[str]
) -> set[str]:
    """Of the `missing` event names (about to be created), those whose every item is a
    duplicate: its uuid stored already, or carried by an earlier item (the first of equal
    uuids is the one stored). Creating their event would leave an event without logs (a
    duplicate has no side effect). One query, run only when events are to be created;
    `repeated` gets the uuids of those duplicates."""
    uuids = {item.uuid for _, item in valid if item.event_name in missing and item.uuid}
    if not uuids:
        return set()
    logs = scope_to_tenant(EventLog.objects.all(), tenant).filter(uuid__in=uuids)
    stored = set(logs.values_list("uuid", flat=True))
    claimed: set[UUID] = set()
    needed: set[str] = set()
    for _, item in valid:
        if item.uuid is not None and (item.uuid in stored or item.uuid in claimed):
            if item.event_name in missing:
                repeated.add(item.uuid)
            continue
        if item.uuid is not None:
            claimed.add(item.uuid)
        if item.event_name in missing:
            needed.add(item.event_name)
    return missing - needed


def _drop_unused_events(tenant: Tenant, ids: set[int]) -> None:
    """Delete those of the events `ids` (created by this request) that have no logs. The
    locks of an event type's deletion, in its order (_event_delete); once an event's row
    is held, every log of it that will ever commit has committed (_lock_event), so one
    that is found without logs stays so: a write of a log of it under way (a concurrent
    request found the event) fails its key check and stores afresh (EventGone)."""
    with transaction.atomic():
        _take_deletion_locks(tenant)
        events = scope_to_tenant(Event.objects.filter(pk__in=ids), tenant).order_by("pk")
        held = list(events.select_for_update().values_list("pk", flat=True))
        logs = scope_to_tenant(EventLog.objects.filter(event=OuterRef("pk")), tenant)
        for event in events.filter(pk__in=held).exclude(Exists(logs)):
            event.delete()  # bumps the tenant's cache version (events.signals)


def _store(
    tenant: Tenant, receipts: list[Receipt], *, now: dt.datetime, tenant_from_cache: bool
) -> None:
    """Insert the rows of the `accepted` receipts (marking the repeats `duplicate`) and
    count the request; Prometheus hears of the items once that is committed."""
    pending = [receipt for receipt in receipts if receipt.row is not None]
    refused = tally(receipt for receipt in receipts if receipt.status == "rejected")
    if pending:
        # Insert in uuid order: concurrent batches then take the unique-index locks in the
        # same order, so overlapping retries wait for each other instead of deadlocking.
        # The sort is stable: the first of equal uuids is the one stored.
        rows = sorted((r.row for r in pending), key=lambda row: row.uuid.int)
        inserted = store_logs(
            rows,
            tenant_id=tenant.pk,
            received=now,
            rejected=refused,
            unchanged=tenant if tenant_from_cache else None,
            duplicates=sum(1 for r in receipts if r.status == "duplicate" and r.row is None),
        )
        _mark_duplicates(pending, inserted)
        report_ingested(tally(receipts))
        after_ingest_commit()
    else:
        if tenant_from_cache:  # a rare answer: worth the read of the row
            ensure_unchanged(tenant)
        # The rejected items, and duplicates whose event was never created (_duplicate).
        record_ingestion(tenant_id=tenant.pk, received=now, items=tally(receipts))


def event_logs_delete(
    *,
    logs: QuerySet[EventLog],
    chunk: int = DELETE_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
    lock: str | None = None,
    users: set[str] | None = None,
) -> int:
    """Delete `logs` (an already tenant-scoped queryset) and their share of the rollup.
    The step of `deletion_create`, which every route and job calls (it adds the receipt).

    Works in chunks, each its own (nested) transaction, so a large delete never
    holds its locks for long; wrap the call in `transaction.atomic()` to make the
    whole delete all-or-nothing. `on_chunk(n)` runs inside each chunk's transaction
    once its n logs are gone. `lock`: a lock each chunk's transaction takes first
    (core.locks.lock_until_commit). `users`: gets the distinct_ids of the deleted logs.
    Returns the number of logs deleted."""
    deleted = 0
    while True:
        with transaction.atomic():
            if lock is not None:
                lock_until_commit(lock)
            # FOR UPDATE: a concurrent delete of the same rows waits, then skips them,
            # so no row's count is subtracted from the rollup twice.
            chosen = logs.order_by().select_for_update().values_list("id", "distinct_id")
            rows = list(chosen[:chunk])
            if not rows:
                return deleted
            if users is not None:
                users.update(distinct_id for _, distinct_id in rows)
            batch = EventLog.objects.filter(id__in=[pk for pk, _ in rows])
            hourly_counts_apply(deltas_of_queryset(batch, sign=-1))
            removed = batch.delete()[0]
            if on_chunk is not None:
                on_chunk(removed)
            deleted += removed


def deletion_create(
    *,
    tenant: Tenant,
    logs: QuerySet[EventLog],
    reason: str,
    filters: dict[str, Any],
    created_by: User | None = None,
    api_key: ApiKey | None = None,
    chunk: int = DELETE_CHUNK,
    atomic: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> DeletionReceipt:
    """Delete `logs` (already scoped to `tenant`) with their rollup share, and record a
    DeletionReceipt that counts them, even none: a request is answered with its receipt.
    `filters` (JSON-ready) says what was matched.

    `atomic`: all or nothing (API deletions). Otherwise each chunk commits together
    with its share of the receipt's count, so an interrupted run leaves a receipt that
    counts exactly the logs that are gone, and a rerun deletes the rest.
    `on_chunk(n)` reports progress after each chunk.

    The deletions of a tenant take turns (its deletion lock, in each transaction that
    deletes logs): two of them locking overlapping logs in different orders, or one
    holding logs of an event that another deletes, deadlocked. An atomic one then takes
    the tenant's sketch lock, before any row (events.sketches: its rows may include the
    events joined by a filter on their name). An API deletion (atomic, outside a
    transaction) that PostgreSQL still aborts as a deadlock's victim is run again
    (core.locks.retry_deadlocks)."""
    deletion = _Deletion(
        tenant=tenant, reason=reason, filters=filters, created_by=created_by, api_key=api_key
    )
    work = partial(
        _deletion_create, deletion, logs=logs, chunk=chunk, atomic=atomic, on_chunk=on_chunk
    )
    receipt = retry_deadlocks(work) if atomic else work()
    return receipt or deletion.create(events_deleted=0)


def expired_logs_delete(
    *,
    tenant: Tenant,
    logs: QuerySet[EventLog],
    filters: dict[str, Any],
    chunk: int = DELETE_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
) -> DeletionReceipt | None:
    """The retention purge's `deletion_create`, chunk by chunk (not atomic), with a
    receipt only if it deleted logs: nobody asked for this deletion, so a receipt of 0
    (a concurrent purge took the logs, or the first chunk failed) would only say nothing."""
    deletion = _Deletion(tenant=tenant, reason=DeletionReceipt.Reason.RETENTION, filters=filters)
    return _deletion_create(deletion, logs=logs, chunk=chunk, atomic=False, on_chunk=on_chunk)


@dataclass(slots=True)
class _Deletion:
    """A deletion's receipt, written with its first chunk: in that chunk's transaction,
    so no receipt is left by a deletion that deleted nothing (unless asked for one)."""

    tenant: Tenant
    reason: str
    filters: dict[str, Any]
    created_by: User | None = None
    api_key: ApiKey | None = None
    receipt: DeletionReceipt | None = None

    def create(self, *, events_deleted: int) -> DeletionReceipt:
        return DeletionReceipt.objects.create(
            tenant=self.tenant,
            reason=self.reason,
            filter=self.filters,
            created_by=self.created_by,
            api_key=self.api_key,
            events_deleted=events_deleted,
        )

    def count(self, removed: int) -> None:
        if self.receipt is None:
            self.receipt = self.create(events_deleted=removed)
        else:
            rows = DeletionReceipt.objects.filter(pk=self.receipt.pk)
            rows.update(events_deleted=F("events_deleted") + removed)
            self.receipt.events_deleted += removed


def _deletion_create(
    deletion: _Deletion,
    *,
    logs: QuerySet[EventLog],
    chunk: int,
    atomic: bool,
    on_chunk: Callable[[int], None] | None,
) -> DeletionReceipt | None:
    """The deleting and counting of `deletion_create`; None if nothing was deleted."""
    deletion.receipt = None  # a deadlock's retry starts afresh: its receipt rolled back

    def count(removed: int) -> None:
        deletion.count(removed)
        if on_chunk is not None:
            on_chunk(removed)

    tenant_id = deletion.tenant.pk
    with transaction.atomic() if atomic else nullcontext():
        if atomic:  # the sketch lock before any row (events.sketches: the lock order)
            lock_until_commit(_deletions_lock(tenant_id))
            lock_sketches(tenant_id)
        users: set[str] = set()
        event_logs_delete(
            logs=logs, chunk=chunk, on_chunk=count, lock=_deletions_lock(tenant_id), users=users
        )
        forget_numbers(tenant_id=tenant_id, distinct_ids=users)
    return deletion.receipt


def _deletions_lock(tenant_id: int) -> str:
    return f"deletions:{tenant_id}"


def event_delete(
    *,
    tenant: Tenant,
    event: Event,
    logs: QuerySet[EventLog],
    created_by: User | None = None,
    api_key: ApiKey | None = None,
) -> DeletionReceipt:
    """Delete `event` and its logs (those of `logs`, already scoped to `tenant`) with their
    share of the rollup, in one transaction; returns the receipt that counts the logs,
    with `occurrences` beside it (not stored): the sum of their counts, which seed 000's
    `DELETE /admin/v1/events/{name}` answers.

    Its locks come in an order no other writer reverses: the tenant's deletion lock
    (deletion_create), the folds (rollups.pause_folds), the tenant's sketch lock
    (events.sketches.lock_sketches), the event's row (_lock_event), its logs, the rollup
    rows. Outside a transaction, a deadlock's victim is run again all the same
    (core.locks)."""
    if event.tenant_id != tenant.pk:
        raise ValueError("The event does not belong to this tenant.")
    return retry_deadlocks(
        partial(
            _event_delete,
            tenant=tenant,
            event=event,
            logs=logs,
            created_by=created_by,
            api_key=api_key,
        )
    )


def _event_delete(
    *,
    tenant: Tenant,
    event: Event,
    logs: QuerySet[EventLog],
    created_by: User | None,
    api_key: ApiKey | None,
) -> DeletionReceipt:
    with transaction.atomic():
        _take_deletion_locks(tenant)
        lock_sketches(tenant.pk)  # forget_numbers and forget_event need it, before any row
        _lock_event(tenant, event)
        # Every log of the event that will ever commit has committed (_lock_event).
        occurrences = logs.filter(event=event).aggregate(total=Sum("count"))["total"] or 0
        receipt = deletion_create(
            tenant=tenant,
            logs=logs.filter(event=event),
            reason=DeletionReceipt.Reason.EVENT,
            filters={"event_name": event.name},
            created_by=created_by,
            api_key=api_key,
        )
        forget_event(event)
        _, deleted = event.delete()
        if deleted.get(EventLog._meta.label):  # the lock above makes this impossible
            raise RuntimeError("Logs of a locked event were left for the cascade.")
    receipt.occurrences = occurrences
    return receipt


def _take_deletion_locks(tenant: Tenant) -> None:
    """The first locks of deleting an event type, in their order (event_delete), for the
    transaction under way. Django deletes an event's rollup rows by event id alone (every
    shard), and the deletion then bumps the tenant's cache version (a reference table):
    hence the sequential shard writes."""
    sequential_shard_writes()
    lock_until_commit(_deletions_lock(tenant.pk))
    pause_folds(tenant_id=tenant.pk)


def _lock_event(tenant: Tenant, event: Event) -> None:
    """Hold the event's row (FOR UPDATE) until the deletion commits. A write of its logs
    commits only once its foreign key check has shared that row (FOR KEY SHARE, at the
    writer's commit: the key is deferred), so from here on every log of the event that
    will ever commit is committed already: the chunked delete finds them all and ends,
    while writes still under way wait and then store afresh (events.bulk.EventGone)."""
    locked = scope_to_tenant(Event.objects.select_for_update().filter(pk=event.pk), tenant)
    if not locked.values_list("pk", flat=True):
        raise EventNotFound(event.name)  # a concurrent deletion of it committed first


def _in_order(*parts: list[Receipt]) -> list[Receipt]:
    return sorted((receipt for part in parts for receipt in part), key=lambda r: r.index)


def _accepted(index: int, item: EventInput, row: LogRow) -> Receipt:
    return Receipt(index=index, status="accepted", uuid=row.uuid, row=row, item=item)


def _duplicate(index: int, item: EventInput) -> Receipt:
    """An item whose uuid the tenant has stored (or an earlier item of the request
    carries) under an event it has not got: nothing to store, and no event to create."""
    return Receipt(index=index, status="duplicate", uuid=item.uuid, item=item)


def _unstored(index: int, item: EventInput) -> Receipt:
    """An item of an atomic batch that validation passed but that will not be stored."""
    return Receipt(index=index, status="accepted", uuid=item.uuid, item=item)


def _abandon(receipts: list[Receipt]) -> None:
    """An atomic batch with a rejected item stores nothing: its valid items are
    rejected too, counted under the reason of the first item rejected on its own."""
    reason = next(receipt.reason for receipt in receipts if receipt.status == "rejected")
    for receipt in receipts:
        if receipt.status != "rejected":
            receipt.status, receipt.row, receipt.reason = "rejected", None, reason
            receipt.errors = {"non_field_errors": [NOT_STORED_ATOMIC]}


def _raw_uuid(raw: object) -> UUID | None:
    """The uuid a rejected item carried, if it is a valid one (for the client's receipt)."""
    if isinstance(raw, RefusedItem):
        raw = raw.raw
    try:
        return UUID(raw["uuid"]) if isinstance(raw, dict) else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _unknown_event(index: int, item: EventInput) -> Receipt:
    message = (
        f"Unknown event '{item.event_name}'. Create it at /api/events/ first, "
        "or turn on auto_create_events for this tenant."
    )
    return Receipt(
        index=index,
        status="rejected",
        uuid=item.uuid,
        errors={"event_name": [message]},
        reason=RejectionReason.UNKNOWN_EVENT,
        item=item,
    )


def _build_row(
    tenant: Tenant,
    event_ids: dict[str, int],
    item: EventInput,
    now: dt.datetime,
    created_by: User | None,
    api_key: ApiKey | None,
) -> LogRow:
    return LogRow(
        tenant_id=tenant.pk,
        event_id=event_ids[item.event_name],
        uuid=item.uuid or uuid7(),
        timestamp=item.timestamp or now,
        received_at=now,
        count=item.count,
        distinct_id=item.distinct_id,
        data=item.data,
        created_by_id=created_by.pk if created_by else None,
        api_key_id=api_key.pk if api_key else None,
    )


def _mark_duplicates(receipts: list[Receipt], inserted: dict[UUID, int]) -> None:
    """An item is accepted if its row was inserted now, by the first item carrying that
    uuid; later items with the same uuid, and uuids already stored, are duplicates."""
    claimed: set[UUID] = set()
    for receipt in receipts:
        if receipt.uuid in inserted and receipt.uuid not in claimed:
            receipt.log_id = inserted[receipt.uuid]
            claimed.add(receipt.uuid)
        else:
            receipt.status, receipt.row = "duplicate", None
