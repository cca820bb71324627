"""Per-user activity periods: event counts per tenant, `distinct_id` and fixed UTC period,
derived from EventLog into UserActivityPeriod by `manage.py compute_user_activity`.

A period is a window of settings.USER_ACTIVITY_PERIOD_HOURS hours aligned on UTC
midnight, half-open `[start, end)`. Only complete periods are computed: the current one
waits for a run after its end. The job's JobState keeps a watermark (every period that
ends at or before it is computed) and a received mark. Each run:

1. recomputes the periods before the watermark that changed since the previous run:
   those holding the event time of a log received since the mark (late events), and
   those matched by a deletion receipt that deleted logs since the job last read it
   (API deletions, erasures, retention purges), for the tenants concerned;
2. catches up every complete period from the watermark on, one UTC day per
   transaction that also advances the watermark, so an interrupted run resumes there.

Recomputing a period replaces its rows from EventLog (rows without events left are
deleted, the others upserted), so running twice gives the same rows. Anonymous logs
(empty distinct_id) are not counted: they belong to no user.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, Min, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractHour, TruncDate
from django.db.models.lookups import LessThan
from django.utils.dateparse import parse_datetime

from accounts.models import Tenant
from accounts.tenancy import scope_to_outer_tenant, scope_to_tenants
from events.models import DeletionReceipt, EventLog
from stats.models import JobState, UserActivityPeriod

JOB = "compute_user_activity"
# Ingestion stamps received_at before its transaction commits, on the web node's clock:
# a log may become visible a little after a run that started later than its received_at.
# The next run looks back this much further, so such a log still reopens its period.
# Deletions need no margin: a receipt's count commits with its rows, and the job follows
# the count (DeletionReceipt.activity_seen), however long the deletion took to commit.
LATE_MARGIN = dt.timedelta(minutes=5)
UPSERT_BATCH = 2000
UTC = ZoneInfo("UTC")

Periods = dict[dt.datetime, set[int]]  # period start -> ids of the tenants to recompute
Unseen = tuple[int, int, int, dict[str, Any]]  # receipt id, tenant id, events_deleted, filter


@dataclass(frozen=True)
class ActivityRun:
    """What one run did: periods caught up and reopened, rows upserted, where it stopped."""

    caught_up: int
    reopened: int
    rows: int
    watermark: dt.datetime


def period_length() -> dt.timedelta:
    return dt.timedelta(hours=settings.USER_ACTIVITY_PERIOD_HOURS)


def period_floor(instant: dt.datetime, length: dt.timedelta) -> dt.datetime:
    """Start (UTC) of the period of `length` that holds the aware `instant`."""
    utc = instant.astimezone(dt.UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (utc - midnight) // length * length


def user_activity_compute(*, now: dt.datetime) -> ActivityRun:
    """Bring UserActivityPeriod up to date with EventLog for every complete period before
    `now` (see the module docstring). Run one at a time (run_jobs does)."""
    length = period_length()
    state, _ = JobState.objects.get_or_create(name=JOB)
    if _length_changed(state, length):
        state = _restart()
    if state.received_mark is None:
        # From the very first run on, logs received meanwhile are checked by the next one,
        # even if this run stops half-way.
        JobState.objects.filter(name=JOB).update(received_mark=now - LATE_MARGIN)
    tenant_ids = list(Tenant.objects.order_by("id").values_list("id", flat=True))
    receipts = _unseen_receipts(tenant_ids)
    reopened = _reopened_periods(state, tenant_ids=tenant_ids, length=length, receipts=receipts)
    rows = 0
    for start, tenants in sorted(reopened.items()):
        with transaction.atomic():
            rows += _recompute(
                tenant_ids=tenants, start=start, end=start + length, length=length, now=now
            )
    caught_up, caught_up_rows, watermark = _catch_up(
        state, tenant_ids=tenant_ids, length=length, now=now
    )
    JobState.objects.filter(name=JOB).update(received_mark=now - LATE_MARGIN)
    _mark_seen(receipts)
    return ActivityRun(
        caught_up=caught_up, reopened=len(reopened), rows=rows + caught_up_rows, watermark=watermark
    )


def _length_changed(state: JobState, length: dt.timedelta) -> bool:
    """True if the rows or the watermark were computed with another period length."""
    if state.watermark is not None and period_floor(state.watermark, length) != state.watermark:
        return True
    latest = UserActivityPeriod.objects.order_by("-pk").only("period_start", "period_end").first()
    return latest is not None and latest.period_end - latest.period_start != length


@transaction.atomic
def _restart() -> JobState:
    """Forget every period (computed with another length): the run starts from scratch."""
    UserActivityPeriod.objects.all().delete()
    JobState.objects.filter(name=JOB).update(watermark=None, received_mark=None)
    return JobState.objects.get(name=JOB)


def _catch_up(
    state: JobState, *, tenant_ids: list[int], length: dt.timedelta, now: dt.datetime
) -> tuple[int, int, dt.datetime]:
    """Compute every complete period from the watermark (or the first event) until `now`,
    a UTC day per transaction; a day without a user's log passes at once to the next
    day with one (a log of 1970 would otherwise cost a transaction for every day since).
    Returns (periods, rows, the new watermark)."""
    target = period_floor(now, length)
    first = _first_period(tenant_ids=tenant_ids, length=length) if state.watermark is None else None
    # Logs up to MAX_FUTURE_SKEW_SECONDS ahead are accepted: never start past `target`.
    start = state.watermark or min(first or target, target)
    periods = rows = 0
    while start < target:
        end = min(start.replace(hour=0) + dt.timedelta(days=1), target)
        with transaction.atomic():
            written = _recompute(
                tenant_ids=tenant_ids, start=start, end=end, length=length, now=now
            )
            # Days to go without a user's log in this one: up to the next log's day, none
            # has one either. (A run that is up to date has at most a day to go: no probe.)
            if not written and target - end > dt.timedelta(days=1):
                end = _next_active_day(tenant_ids=tenant_ids, after=end, target=target)
                _rows_without_logs(tenant_ids=tenant_ids, start=start, end=end).delete()
            JobState.objects.filter(name=JOB).update(watermark=end)
        rows += written
        periods += (end - start) // length
        start = end
    if state.watermark is None:
        JobState.objects.filter(name=JOB).update(watermark=start)
    return periods, rows, start


def _first_period(*, tenant_ids: list[int], length: dt.timedelta) -> dt.datetime | None:
    """Start of the period of the earliest log of any tenant, or None without logs."""
    first = _earliest(
        tenant_ids, lambda tenant_id: scope_to_tenants(EventLog.objects.all(), [tenant_id])
    )
    return None if first is None else period_floor(first, length)


def _next_active_day(*, tenant_ids: list[int], after: dt.datetime, target: dt.datetime):
    """The UTC midnight of the first day at or after `after` with a user's log, or
    `target` when none comes before it (never before `after`)."""
    first = _earliest(
        tenant_ids, lambda tenant_id: _user_logs([tenant_id]).filter(timestamp__gte=after)
    )
    if first is None or first >= target:
        return target
    midnight = first.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(midnight, after)


def _earliest(tenant_ids: list[int], logs_of) -> dt.datetime | None:
    """The earliest timestamp of the logs `logs_of(tenant_id)` gives for any tenant, or None.

    One index probe per tenant on (tenant, timestamp), instead of a scan of every log;
    a query per tenant, so that a database sharded by tenant answers each in one shard."""
    firsts = (
        logs_of(tenant_id).aggregate(first=Min("timestamp"))["first"] for tenant_id in tenant_ids
    )
    return min((first for first in firsts if first is not None), default=None)


def _reopened_periods(
    state: JobState, *, tenant_ids: list[int], length: dt.timedelta, receipts: list[Unseen]
) -> Periods:
    """The computed periods that logs received since the previous run's mark, or the
    deletions of `receipts`, may have changed, with the tenants concerned."""
    if state.watermark is None or state.received_mark is None:
        return {}
    periods: Periods = defaultdict(set)
    late = (
        _user_logs(tenant_ids)
        .filter(received_at__gte=state.received_mark, timestamp__lt=state.watermark)
        .annotate(**_period_of_log(length))
        .values_list("tenant_id", "day", "slot")
        .distinct()
    )
    for tenant_id, day, slot in late:
        periods[_period_start(day, slot)].add(tenant_id)
    for tenant_id, start in _periods_of_deletions(receipts):
        periods[start].add(tenant_id)
    return periods


def _unseen_receipts(tenant_ids: list[int]) -> list[Unseen]:
    """The receipts that deleted logs since the job last read them. Their count commits
    with their rows, so every log they count is gone by the time this is read: a purge
    in chunks is read again after each chunk, an atomic erasure once, when it commits."""
    unseen = DeletionReceipt.objects.filter(events_deleted__gt=F("activity_seen"))
    fields = ("id", "tenant_id", "events_deleted", "filter")
    return list(scope_to_tenants(unseen, tenant_ids).order_by("id").values_list(*fields))


def _mark_seen(receipts: list[Unseen]) -> None:
    """Record the counts read, once the periods of those deletions are recomputed: a
    receipt that deleted more meanwhile stays unseen for the next run."""
    for receipt_id, tenant_id, events_deleted, _ in receipts:
        row = scope_to_tenants(DeletionReceipt.objects.filter(pk=receipt_id), [tenant_id])
        row.update(activity_seen=events_deleted)


def _periods_of_deletions(receipts: list[Unseen]) -> Iterator[tuple[int, dt.datetime]]:
    """(tenant id, period start) of every stored period the deletions of `receipts` may
    have touched: the receipt's distinct_id and time range, if it had any."""
    for _, tenant_id, _, matched in receipts:
        rows = scope_to_tenants(
            UserActivityPeriod.objects.filter(_rows_matching(matched)), [tenant_id]
        )
        yield from rows.order_by().values_list("tenant_id", "period_start").distinct()


def _rows_matching(matched: dict[str, Any]) -> Q:
    """The activity rows a deletion filter (`DeletionReceipt.filter`) can reach. The event
    name is ignored: a superset of periods is recomputed, never a subset."""
    condition = Q()
    if "distinct_id" in matched:
        condition &= Q(distinct_id=matched["distinct_id"])
    if (start := _instant(matched.get("start"))) is not None:
        condition &= Q(period_end__gt=start)
    if (end := _instant(matched.get("end"))) is not None:
        condition &= Q(period_start__lt=end)
    return condition


def _instant(value: object) -> dt.datetime | None:
    """An ISO 8601 datetime of a receipt's filter (naive = UTC); None if absent or unreadable."""
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is not None:
        return parsed
    return parsed.replace(tzinfo=dt.UTC)


def _recompute(
    *,
    tenant_ids: Iterable[int],
    start: dt.datetime,
    end: dt.datetime,
    length: dt.timedelta,
    now: dt.datetime,
) -> int:
    """Replace the rows of the whole periods in `[start, end)` of `tenant_ids` with the sums
    read from EventLog; returns the number of rows upserted. Call inside a transaction."""
    tenant_ids = sorted(tenant_ids)
    _rows_without_logs(tenant_ids=tenant_ids, start=start, end=end).delete()
    sums = (
        _user_logs(tenant_ids)
        .between(start, end)
        .annotate(**_period_of_log(length))
        .values_list("tenant_id", "distinct_id", "day", "slot")
        .annotate(events=Sum("count"))
        .iterator(chunk_size=UPSERT_BATCH)
    )
    written = 0
    while batch := list(islice(sums, UPSERT_BATCH)):
        UserActivityPeriod.objects.bulk_create(
            [_row(*summed, length=length, now=now) for summed in batch],
            update_conflicts=True,
            unique_fields=["tenant", "distinct_id", "period_start"],
            update_fields=["period_end", "events", "computed_at"],
        )
        written += len(batch)
    return written


def _rows_without_logs(
    *, tenant_ids: list[int], start: dt.datetime, end: dt.datetime
) -> QuerySet[UserActivityPeriod]:
    """Stored rows in `[start, end)` whose user has no log left in their period."""
    logs = scope_to_outer_tenant(EventLog.objects.all()).filter(
        distinct_id=OuterRef("distinct_id"),
        timestamp__gte=OuterRef("period_start"),
        timestamp__lt=OuterRef("period_end"),
    )
    periods = UserActivityPeriod.objects.filter(period_start__gte=start, period_start__lt=end)
    return scope_to_tenants(periods, tenant_ids).exclude(Exists(logs))


def _user_logs(tenant_ids: list[int]) -> QuerySet[EventLog]:
    """Logs of these tenants that name a user. The explicit tenant list lets both databases
    walk the indexes that lead with tenant_id instead of scanning every log."""
    return scope_to_tenants(EventLog.objects.exclude(distinct_id=""), tenant_ids).order_by()


def _period_of_log(length: dt.timedelta) -> dict[str, Any]:
    """Annotations placing a log in its period: its UTC `day` and `slot`, the period's
    first hour of that day (0, h, 2h, …), as SQL portable to SQLite and PostgreSQL."""
    hours = length // dt.timedelta(hours=1)
    hour = ExtractHour("timestamp", tzinfo=UTC)
    slot = Case(
        *(
            When(LessThan(hour, first + hours), then=Value(first))
            for first in range(0, 24 - hours, hours)
        ),
        default=Value(24 - hours),
    )
    return {"day": TruncDate("timestamp", tzinfo=UTC), "slot": slot}


def _period_start(day: dt.date, slot: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(int(slot)), tzinfo=dt.UTC)


def _row(
    tenant_id: int,
    distinct_id: str,
    day: dt.date,
    slot: int,
    events: int,
    *,
    length: dt.timedelta,
    now: dt.datetime,
) -> UserActivityPeriod:
    start = _period_start(day, slot)
    return UserActivityPeriod(
        tenant_id=tenant_id,
        distinct_id=distinct_id,
        period_start=start,
        period_end=start + length,
        events=events,
        computed_at=now,
    )
