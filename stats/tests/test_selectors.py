"""Selectors over hand-built logs: what is summed, which days a range covers, and
how the tenant's time zone decides the day of an instant."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from events.models import Event, EventLog, HourlyCountTotal
from events.tests.factories import EventFactory, EventLogFactory
from stats.selectors import event_frequency, event_trend

UTC = ZoneInfo("UTC")
JAN_10, JAN_12 = dt.date(2024, 1, 10), dt.date(2024, 1, 12)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, microsecond: int = 0):
    """An instant in January 2024, UTC."""
    return dt.datetime(2024, 1, day, hour, minute, second, microsecond, tzinfo=dt.UTC)


def trend(tenant, *, start=None, end=None, tz=UTC, event_name=None):
    logs = EventLog.objects.filter(tenant=tenant)
    rollup = HourlyCountTotal.objects.filter(tenant=tenant)
    return event_trend(logs=logs, rollup=rollup, start=start, end=end, tz=tz, event_name=event_name)


def frequency(tenant, *, start=None, end=None, tz=UTC):
    events = Event.objects.filter(tenant=tenant)
    return event_frequency(events=events, start=start, end=end, tz=tz)


@pytest.fixture
def click(tenant):
    return EventFactory(tenant=tenant, name="click")


@pytest.fixture
def submit(tenant):
    return EventFactory(tenant=tenant, name="submit")


# --- event_trend -------------------------------------------------------------


def test_trend_sums_counts_not_rows(tenant, click):
    counts_on_15th = [3, 4, 1]
    for count in counts_on_15th:
        EventLogFactory(event=click, timestamp=at(15), count=count)
    EventLogFactory(event=click, timestamp=at(16), count=5)

    result = trend(tenant)

    assert result == {"2024-01-15": {"click": sum(counts_on_15th)}, "2024-01-16": {"click": 5}}


def test_trend_groups_by_event_within_a_day(tenant, click, submit):
    EventLogFactory(event=click, timestamp=at(15, 1), count=2)
    EventLogFactory(event=submit, timestamp=at(15, 9), count=7)
    EventLogFactory(event=click, timestamp=at(15, 23), count=1)

    assert trend(tenant) == {"2024-01-15": {"click": 2 + 1, "submit": 7}}


def test_trend_range_includes_both_boundary_days(tenant, click):
    for day in (9, 10, 11, 12, 13):
        EventLogFactory(event=click, timestamp=at(day), count=day)

    result = trend(tenant, start=JAN_10, end=JAN_12)

    assert result == {f"2024-01-{day}": {"click": day} for day in (10, 11, 12)}


def test_trend_end_day_includes_its_last_second_and_excludes_next_midnight(tenant, click):
    EventLogFactory(event=click, timestamp=at(12, 23, 59, 59), count=1)
    EventLogFactory(event=click, timestamp=at(12, 23, 59, 59, 999_999), count=2)
    EventLogFactory(event=click, timestamp=at(13, 0, 0, 0), count=100)

    assert trend(tenant, start=JAN_10, end=JAN_12) == {
        "2024-01-10": {},
        "2024-01-11": {},
        "2024-01-12": {"click": 1 + 2},
    }


def test_trend_start_day_includes_midnight_and_excludes_last_second_before(tenant, click):
    EventLogFactory(event=click, timestamp=at(10, 0, 0, 0), count=1)
    EventLogFactory(event=click, timestamp=at(9, 23, 59, 59), count=100)

    assert trend(tenant, start=JAN_10, end=JAN_12) == {
        "2024-01-10": {"click": 1},
        "2024-01-11": {},
        "2024-01-12": {},
    }


def test_trend_single_day_range(tenant, click):
    EventLogFactory(event=click, timestamp=at(10, 0), count=1)
    EventLogFactory(event=click, timestamp=at(10, 23, 59, 59), count=2)
    EventLogFactory(event=click, timestamp=at(11, 0), count=100)

    assert trend(tenant, start=JAN_10, end=JAN_10) == {"2024-01-10": {"click": 1 + 2}}


def test_trend_open_ended_ranges(tenant, click):
    for day in (1, 15, 31):
        EventLogFactory(event=click, timestamp=at(day), count=day)

    # An open side of the range is filled up to the data's first or last day.
    from_15th = trend(tenant, start=dt.date(2024, 1, 15))
    until_15th = trend(tenant, end=dt.date(2024, 1, 15))

    assert list(from_15th) == [f"2024-01-{day:02d}" for day in range(15, 32)]
    assert {day: n for day, n in from_15th.items() if n} == {
        "2024-01-15": {"click": 15},
        "2024-01-31": {"click": 31},
    }
    assert list(until_15th) == [f"2024-01-{day:02d}" for day in range(1, 16)]
    assert {day: n for day, n in until_15th.items() if n} == {
        "2024-01-01": {"click": 1},
        "2024-01-15": {"click": 15},
    }


def test_trend_days_are_ascending(tenant, click):
    # Inserted newest first, so id order is the reverse of day order.
    days = [20, 3, 17, 11, 5]
    for day in days:
        EventLogFactory(event=click, timestamp=at(day))

    result = trend(tenant)

    assert list(result) == [f"2024-01-{day:02d}" for day in range(3, 21)]
    assert [day for day, n in result.items() if n] == [f"2024-01-{d:02d}" for d in sorted(days)]


def test_trend_event_name_narrows_to_one_event(tenant, click, submit):
    EventLogFactory(event=click, timestamp=at(15), count=2)
    EventLogFactory(event=submit, timestamp=at(15), count=3)
    EventLogFactory(event=submit, timestamp=at(16), count=4)

    assert trend(tenant, event_name="submit") == {
        "2024-01-15": {"submit": 3},
        "2024-01-16": {"submit": 4},
    }
    assert trend(tenant, event_name="click") == {"2024-01-15": {"click": 2}}
    assert trend(tenant, event_name="missing") == {}


def test_trend_without_logs_fills_the_range_with_empty_days(tenant, click):
    assert trend(tenant, start=JAN_10, end=JAN_12) == {
        "2024-01-10": {},
        "2024-01-11": {},
        "2024-01-12": {},
    }
    assert trend(tenant, start=JAN_10, end=JAN_10, event_name="click") == {
        "2024-01-10": {"click": 0}
    }
    assert trend(tenant) == {}


def test_trend_only_reads_the_queryset_it_is_given(tenant, other_tenant, click):
    foreign = EventFactory(tenant=other_tenant, name="click")
    EventLogFactory(event=click, timestamp=at(15), count=1)
    EventLogFactory(event=foreign, timestamp=at(15), count=50)

    assert trend(tenant) == {"2024-01-15": {"click": 1}}


@pytest.mark.parametrize(
    ("zone", "instant", "local_day"),
    [
        # 02:00 UTC is 21:00 the evening before in New York (EST, UTC-5) ...
        ("America/New_York", dt.datetime(2024, 1, 16, 2, tzinfo=dt.UTC), "2024-01-15"),
        # ... and 07:30 the same morning in Kolkata (IST, UTC+5:30).
        ("Asia/Kolkata", dt.datetime(2024, 1, 16, 2, tzinfo=dt.UTC), "2024-01-16"),
        # 18:29 UTC is 23:59 in Kolkata, 18:30 UTC is already the next day.
        ("Asia/Kolkata", dt.datetime(2024, 1, 16, 18, 29, tzinfo=dt.UTC), "2024-01-16"),
        ("Asia/Kolkata", dt.datetime(2024, 1, 16, 18, 30, tzinfo=dt.UTC), "2024-01-17"),
        # Daylight saving time: 04:30 UTC is 23:30 EST in winter, 00:30 EDT in summer.
        ("America/New_York", dt.datetime(2024, 1, 16, 4, 30, tzinfo=dt.UTC), "2024-01-15"),
        ("America/New_York", dt.datetime(2024, 7, 16, 4, 30, tzinfo=dt.UTC), "2024-07-16"),
        ("UTC", dt.datetime(2024, 1, 16, 2, tzinfo=dt.UTC), "2024-01-16"),
    ],
)
def test_trend_days_are_local_to_the_time_zone(tenant, click, zone, instant, local_day):
    EventLogFactory(event=click, timestamp=instant, count=3)

    assert trend(tenant, tz=ZoneInfo(zone)) == {local_day: {"click": 3}}


@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        # Jan 15 in New York is [05:00 UTC Jan 15, 05:00 UTC Jan 16).
        ("America/New_York", [at(15, 5), at(16, 2), at(16, 4, 59, 59)], [at(15, 2), at(16, 5)]),
        # Jan 15 in Kolkata is [18:30 UTC Jan 14, 18:30 UTC Jan 15).
        ("Asia/Kolkata", [at(14, 18, 30), at(15, 2), at(15, 18, 29, 59)], [at(14, 18), at(15, 19)]),
    ],
)
def test_trend_range_bounds_are_local_midnights(tenant, click, zone, inside, outside):
    for instant in inside:
        EventLogFactory(event=click, timestamp=instant, count=1)
    for instant in outside:
        EventLogFactory(event=click, timestamp=instant, count=100)
    jan_15 = dt.date(2024, 1, 15)

    result = trend(tenant, start=jan_15, end=jan_15, tz=ZoneInfo(zone))

    assert result == {"2024-01-15": {"click": len(inside)}}


# --- event_frequency ---------------------------------------------------------


def test_frequency_sums_counts_not_rows(tenant, click):
    counts = [3, 4, 1]
    for count in counts:
        EventLogFactory(event=click, timestamp=at(15), count=count)

    assert frequency(tenant) == [{"event_name": "click", "total": sum(counts)}]


def test_frequency_sorted_by_total_descending_then_name(tenant):
    totals = {"delta": 2, "bravo": 5, "alpha": 5, "charlie": 9}
    for name, total in totals.items():
        event = EventFactory(tenant=tenant, name=name)
        for _ in range(total):
            EventLogFactory(event=event, timestamp=at(15))

    result = frequency(tenant)

    assert result == [
        {"event_name": "charlie", "total": 9},
        {"event_name": "alpha", "total": 5},
        {"event_name": "bravo", "total": 5},
        {"event_name": "delta", "total": 2},
    ]
    assert result == [
        {"event_name": name, "total": total}
        for name, total in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


def test_frequency_lists_events_without_logs_in_range_as_zero(tenant, click, submit):
    EventFactory(tenant=tenant, name="never")
    EventLogFactory(event=click, timestamp=at(11), count=4)
    EventLogFactory(event=submit, timestamp=at(20), count=6)  # outside the range

    result = frequency(tenant, start=JAN_10, end=JAN_12)

    assert result == [
        {"event_name": "click", "total": 4},
        {"event_name": "never", "total": 0},
        {"event_name": "submit", "total": 0},
    ]


def test_frequency_range_includes_boundary_instants_only(tenant, click):
    inside = [at(10, 0), at(11), at(12, 23, 59, 59), at(12, 23, 59, 59, 999_999)]
    outside = [at(9, 23, 59, 59), at(13, 0)]
    for instant in inside:
        EventLogFactory(event=click, timestamp=instant, count=1)
    for instant in outside:
        EventLogFactory(event=click, timestamp=instant, count=100)

    result = frequency(tenant, start=JAN_10, end=JAN_12)

    assert result == [{"event_name": "click", "total": len(inside)}]


def test_frequency_without_range_counts_everything(tenant, click):
    for day in (1, 15, 31):
        EventLogFactory(event=click, timestamp=at(day), count=day)

    assert frequency(tenant) == [{"event_name": "click", "total": 1 + 15 + 31}]


def test_frequency_is_empty_without_events(tenant):
    assert frequency(tenant) == []


def test_frequency_only_reads_the_events_it_is_given(tenant, other_tenant, click):
    foreign = EventFactory(tenant=other_tenant, name="foreign")
    EventLogFactory(event=click, timestamp=at(15), count=1)
    EventLogFactory(event=foreign, timestamp=at(15), count=50)

    assert frequency(tenant) == [{"event_name": "click", "total": 1}]


@pytest.mark.parametrize(
    ("zone", "counted_on_the_16th"),
    [
        # 02:00 UTC on Jan 16 is Jan 15 in New York, Jan 16 in Kolkata.
        ("America/New_York", False),
        ("Asia/Kolkata", True),
        ("UTC", True),
    ],
)
def test_frequency_range_follows_the_time_zone(tenant, click, zone, counted_on_the_16th):
    EventLogFactory(event=click, timestamp=at(16, 2), count=3)
    jan_16 = dt.date(2024, 1, 16)

    result = frequency(tenant, start=jan_16, end=jan_16, tz=ZoneInfo(zone))

    assert result == [{"event_name": "click", "total": 3 if counted_on_the_16th else 0}]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_range_at_the_ends_of_the_calendar_is_open(tenant, click, zone):
    # Regression: end=date.max overflowed (end + 1 day), and start=date.min overflowed
    # when a zone east of UTC was converted to UTC — a 500 for a valid query.
    instant, tz, first, last = at(15), ZoneInfo(zone), dt.date.min, dt.date.max
    EventLogFactory(event=click, timestamp=instant, count=2)
    local_day = instant.astimezone(tz).date().isoformat()

    assert trend(tenant, start=first, end=last, tz=tz) == {local_day: {"click": 2}}
    assert frequency(tenant, start=first, end=last, tz=tz) == [{"event_name": "click", "total": 2}]
