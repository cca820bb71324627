"""Property: every stats answer read from the HourlyCount rollup equals the answer
recounted from raw rows — across time zones (half-hour and 45-minute offsets, whose
hours the rollup splits; DST transitions), late events, duplicates and deletions."""

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.models import Tenant
from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
from events.rollups import fold_counters, hour_split
from events.services import event_logs_delete, event_logs_ingest
from events.validation import EventInput
from stats.buckets import INTERVALS
from stats.selectors import event_frequency, event_trend

ZONES = [
    "UTC",
    "America/New_York",  # DST: 2024-03-10 23 hours, 2024-11-03 25 hours
    "Europe/Berlin",  # DST: 2024-03-31, 2024-10-27
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +09:30 / +10:30 with DST
    "America/St_Johns",  # -03:30 / -02:30 with DST
]
WINDOWS = [dt.datetime(2024, 3, 8, tzinfo=dt.UTC), dt.datetime(2024, 10, 25, tzinfo=dt.UTC)]
WINDOW_HOURS = 24 * 12

events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=WINDOW_HOURS * 60 - 1),  # minute offset
        st.integers(min_value=1, max_value=5),  # count
    ),
    min_size=1,
    max_size=40,
)


def _ingest(tenant: Tenant, window: dt.datetime, rows, now: dt.datetime) -> None:
    items = [
        EventInput(name, timestamp=window + dt.timedelta(minutes=minute), count=count)
        for name, minute, count in rows
    ]
    event_logs_ingest(tenant=tenant, items=items, created_by=None, now=now)


def _every_source(tenant: Tenant, **query):
    """The answers read from the hourly rollup, from the daily one (with the hourly one
    at the edges), from raw rows, and as the routes choose."""
    logs = EventLog.objects.filter(tenant=tenant)
    rollup = HourlyCountTotal.objects.filter(tenant=tenant)
    daily = DailyCountTotal.objects.filter(tenant=tenant)
    events = Event.objects.filter(tenant=tenant)
    frequency = {k: v for k, v in query.items() if k in ("start", "end", "tz")}
    days = {"rollup": rollup, "daily": daily}
    return (
        (
            event_trend(logs=logs, rollup=rollup, **query, source="rollup"),
            event_frequency(events=events, **frequency, source="rollup"),
        ),
        (
            event_trend(logs=logs, **days, events=events, **query, source="rollup"),
            event_frequency(events=events, **days, **frequency, source="rollup"),
        ),
        (
            event_trend(logs=logs, rollup=rollup, **query, source="raw"),
            event_frequency(events=events, **frequency, source="raw"),
        ),
        event_trend(logs=logs, **days, events=events, **query, source="auto"),
    )


def _python_daily_recount(tenant: Tenant, tz: ZoneInfo, start, end) -> Counter:
    totals: Counter = Counter()
    for name, timestamp, count in EventLog.objects.filter(tenant=tenant).values_list(
        "event__name", "timestamp", "count"
    ):
        day = timestamp.astimezone(tz).date()
        if (start is None or day >= start) and (end is None or day <= end):
            totals[(day.isoformat(), name)] += count
    return totals


class RollupEqualsRawTests(TestCase):
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        first=events_strategy,
        late=events_strategy,
        zone=st.sampled_from(ZONES),
        window=st.sampled_from(WINDOWS),
        interval=st.sampled_from(INTERVALS),
        start_day=st.none() | st.integers(min_value=-1, max_value=12),
        span_days=st.none() | st.integers(min_value=0, max_value=12),
        delete_name=st.none() | st.sampled_from(["a", "b", "c"]),
        fold=st.booleans(),
    )
    def test_rollup_answers_equal_raw_answers(
        self, first, late, zone, window, interval, start_day, span_days, delete_name, fold
    ):
        tenant = Tenant.objects.create(name="t", slug=Tenant.unique_slug("t"))
        now = window + dt.timedelta(days=30)
        _ingest(tenant, window, first, now)
        if fold:  # part folded into HourlyCount and DailyCount, part still increments
            fold_counters()
        _ingest(tenant, window, late, now + dt.timedelta(hours=1))  # late arrivals
        _ingest(tenant, window, first[:3], now)  # retries with new uuids count again
        if delete_name is not None:
            event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, event__name=delete_name))
        tz = ZoneInfo(zone)
        start = None if start_day is None else (window + dt.timedelta(days=start_day)).date()
        end = None if span_days is None or start is None else start + dt.timedelta(days=span_days)

        hourly, daily, raw, auto = _every_source(
            tenant, start=start, end=end, tz=tz, interval=interval
        )

        if hour_split(tz, start=start, end=end) is not None:
            assert hourly == raw
            assert daily == raw
        assert auto == raw[0]
        if interval == "day":
            recount = _python_daily_recount(tenant, tz, start, end)
            flat = Counter({(day, n): v for day, row in raw[0].items() for n, v in row.items()})
            assert +flat == +recount
