"""Hourly buckets where a zone's offset changes by part of an hour (Nepal's +05:30 to
+05:45, Lord Howe's 30-minute daylight time, Chatham's +12:45/+13:45): one key per local
wall-clock hour, empty hours keyed exactly like hours with data, each instant in one."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from events.tests.factories import EventFactory, EventLogFactory
from stats.buckets import bucket_keys, key_of

TREND = "/api/stats/event_trend"
FAR_FUTURE = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
ZONES = ["Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/New_York"]


def transition_days(zone: str) -> list[dt.date]:
    """The local days of 1980-2030 on which `zone`'s offset changes."""
    tz, days = ZoneInfo(zone), []
    day = dt.date(1980, 1, 1)
    while day < dt.date(2031, 1, 1):
        start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        if start.utcoffset() != end.utcoffset():
            days.append(day)
        day += dt.timedelta(days=1)
    return days


@pytest.mark.parametrize("zone", ZONES)
def test_empty_hours_are_keyed_like_hours_with_data(zone):
    """On every day the zone's offset changes, the filled keys are exactly the keys of
    the instants of the day (every 5 minutes: offsets change on a quarter hour), in
    order, each once."""
    tz = ZoneInfo(zone)
    days = transition_days(zone)
    assert days
    for day in days:
        lower = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        upper = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        instant, expected = lower.astimezone(dt.UTC), []
        while instant < upper:
            key = key_of(instant, "hour", tz)
            if key not in expected:
                expected.append(key)
            instant += dt.timedelta(minutes=5)

        keys = bucket_keys(lower, upper, "hour", tz, [], now=FAR_FUTURE)

        assert keys == expected, (zone, day)
        assert 23 <= len(keys) <= 25, (zone, day)


@pytest.fixture
def lh(tenant):
    return EventFactory(tenant=tenant, name="lh")


def test_nepals_move_to_0545_keeps_local_hours(api_client, lh):
    # 02:40 UTC on 1986-01-01 is 08:25 in Kathmandu, which moved from +05:30 to +05:45
    # at that day's midnight.
    EventLogFactory(event=lh, timestamp=dt.datetime(1986, 1, 1, 2, 40, tzinfo=dt.UTC))

    body = api_client.get(
        TREND,
        {
            "start_date": "1986-01-01",
            "end_date": "1986-01-01",
            "tz": "Asia/Kathmandu",
            "interval": "hour",
            "event_name": "lh",
        },
    ).json()

    assert len(body) == 24
    assert list(body)[:3] == [
        "1986-01-01T00:00:00+05:30",
        "1986-01-01T01:00:00+05:45",
        "1986-01-01T02:00:00+05:45",
    ]
    assert body["1986-01-01T08:00:00+05:45"] == {"lh": 1}
    assert sum(row["lh"] for row in body.values()) == 1


def test_lord_howes_half_hour_fall_back_has_no_phantom_hour(api_client, lh):
    # 2024-04-07 02:00 (+11:00) went back to 01:30 (+10:30): 15:00 UTC.
    for second, count in ((dt.time(14, 59, 59), 1), (dt.time(15), 2), (dt.time(15, 29, 59), 4)):
        EventLogFactory(
            event=lh,
            count=count,
            timestamp=dt.datetime.combine(dt.date(2024, 4, 6), second, tzinfo=dt.UTC),
        )
    EventLogFactory(event=lh, count=8, timestamp=dt.datetime(2024, 4, 6, 15, 30, tzinfo=dt.UTC))

    body = api_client.get(
        TREND,
        {
            "start_date": "2024-04-07",
            "end_date": "2024-04-07",
            "tz": "Australia/Lord_Howe",
            "interval": "hour",
        },
    ).json()

    assert len(body) == 24
    assert "2024-04-07T01:30:00+10:30" not in body
    assert body["2024-04-07T01:00:00+11:00"] == {"lh": 7}
    assert body["2024-04-07T02:00:00+10:30"] == {"lh": 8}
    assert body["2024-04-07T03:00:00+10:30"] == {}
