"""Long ranges read from the daily rollup equal the raw rows' answers: a year of events
at random minutes, across DST changes, in zones whose days begin on the UTC hour, at :30
and at :45, folded or not, in buckets of days, weeks and months."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
from events.rollups import fold_counters
from events.services import event_logs_ingest
from events.validation import EventInput
from stats.selectors import event_frequency, event_trend

YEAR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
RECEIVED = YEAR + dt.timedelta(days=367)  # after every event time (ingestion checks it)
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",  # its days begin at 00:00 UTC in winter, 23:00 the day before in summer
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Pacific/Kiritimati",  # +14: its days begin at 10:00 UTC of the day before
]


@pytest.fixture
def year_of_events(tenant):
    rng = random.Random(2024)
    items = [
        EventInput(
            rng.choice(["view", "buy"]),
            timestamp=YEAR + dt.timedelta(minutes=rng.randrange(366 * 24 * 60)),
            count=rng.randint(1, 3),
        )
        for _ in range(600)
    ]
    event_logs_ingest(tenant=tenant, items=items[:400], created_by=None, now=RECEIVED)
    fold_counters()  # most of it folded into the daily rollup, the rest still increments
    event_logs_ingest(tenant=tenant, items=items[400:], created_by=None, now=RECEIVED)
    return tenant


def answers(tenant, *, zone: str, interval: str, source: str, **days):
    rows = {
        "logs": EventLog.objects.filter(tenant=tenant),
        "rollup": HourlyCountTotal.objects.filter(tenant=tenant),
    }
    events = Event.objects.filter(tenant=tenant)
    if source == "rollup":
        rows |= {"daily": DailyCountTotal.objects.filter(tenant=tenant), "events": events}
    tz = ZoneInfo(zone)
    trend = event_trend(**rows, tz=tz, interval=interval, source=source, **days)
    frequency = event_frequency(
        events=events,
        rollup=rows["rollup"],
        daily=rows.get("daily"),
        tz=tz,
        source=source,
        **days,
    )
    return trend, frequency


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_a_year_from_the_daily_rollup_equals_the_raw_rows(year_of_events, zone, interval):
    days = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31)}

    daily = answers(year_of_events, zone=zone, interval=interval, source="rollup", **days)
    raw = answers(year_of_events, zone=zone, interval=interval, source="raw", **days)

    assert daily == raw
    assert sum(row["total"] for row in daily[1]) > 0


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_open_ranges_equal_the_raw_rows(year_of_events, zone):
    start, end = dt.date(2024, 3, 5), dt.date(2024, 11, 20)
    for days in (
        {"start": None, "end": None},
        {"start": start, "end": None},
        {"start": None, "end": end},
    ):
        daily = answers(year_of_events, zone=zone, interval="day", source="rollup", **days)
        raw = answers(year_of_events, zone=zone, interval="day", source="raw", **days)

        assert daily == raw
