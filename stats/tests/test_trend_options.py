"""event_trend's `interval` and `tz`, filled buckets, DST days, and which source answers."""

import datetime as dt

import pytest

from events.tests.factories import EventFactory, EventLogFactory
from stats.buckets import MAX_BUCKETS

TREND = "/api/stats/event_trend"
FREQUENCY = "/api/stats/event_frequency"


@pytest.fixture
def click(tenant):
    return EventFactory(tenant=tenant, name="click")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_hour_interval_keys_are_local_iso_datetimes(api_client, click):
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 30), count=2)

    response = api_client.get(
        TREND,
        {
            "interval": "hour",
            "start_date": "2024-01-15",
            "end_date": "2024-01-15",
            "tz": "America/New_York",
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert len(body) == 24
    assert next(iter(body)) == "2024-01-15T00:00:00-05:00"
    assert body["2024-01-15T09:00:00-05:00"] == {"click": 2}
    assert sum(sum(row.values()) for row in body.values()) == 2


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2024-03-10", 23), ("2024-11-03", 25), ("2024-07-01", 24)],
)
def test_dst_days_have_23_or_25_hour_buckets(api_client, click, day, hours):
    response = api_client.get(
        TREND, {"interval": "hour", "start_date": day, "end_date": day, "tz": "America/New_York"}
    )

    assert len(response.json()) == hours


def test_fall_back_keeps_the_repeated_hour_apart(api_client, click):
    # 05:30 and 06:30 UTC on 2024-11-03 are both 01:30 local in New York (EDT, then EST).
    EventLogFactory(event=click, timestamp=utc(2024, 11, 3, 5, 30), count=1)
    EventLogFactory(event=click, timestamp=utc(2024, 11, 3, 6, 30), count=10)

    body = api_client.get(
        TREND,
        {
            "interval": "hour",
            "start_date": "2024-11-03",
            "end_date": "2024-11-03",
            "tz": "America/New_York",
        },
    ).json()

    assert body["2024-11-03T01:00:00-04:00"] == {"click": 1}
    assert body["2024-11-03T01:00:00-05:00"] == {"click": 10}


@pytest.mark.parametrize(
    ("zone", "day", "first", "second", "keys"),
    [
        # 2026-11-01 in Newfoundland (-02:30, then -03:30): 01:00 to 02:00 twice.
        (
            "America/St_Johns",
            "2026-11-01",
            utc(2026, 11, 1, 3, 40),
            utc(2026, 11, 1, 4, 40),
            ("2026-11-01T01:00:00-02:30", "2026-11-01T01:00:00-03:30"),
        ),
        # 2026-04-05 on the Chatham Islands (+13:45, then +12:45): 02:45 to 03:45 twice.
        (
            "Pacific/Chatham",
            "2026-04-05",
            utc(2026, 4, 4, 13, 20),
            utc(2026, 4, 4, 14, 20),
            ("2026-04-05T03:00:00+13:45", "2026-04-05T03:00:00+12:45"),
        ),
    ],
)
def test_fall_back_keeps_the_repeated_hour_apart_off_the_whole_hour(
    api_client, click, zone, day, first, second, keys
):
    """The trend (from the hourly rollup) and the query API (from the rows) alike."""
    EventLogFactory(event=click, timestamp=first, count=1)
    EventLogFactory(event=click, timestamp=second, count=10)

    trend = api_client.get(
        TREND, {"interval": "hour", "start_date": day, "end_date": day, "tz": zone}
    ).json()
    rows = api_client.post(
        "/api/query",
        {"breakdown": "time:hour", "date_range": {"start": day, "end": day}, "tz": zone},
        format="json",
    ).json()["rows"]

    assert len(trend) == len(rows) == 25
    assert (trend[keys[0]], trend[keys[1]]) == ({"click": 1}, {"click": 10})
    by_hour = {row["time:hour"]: row["events"] for row in rows}
    assert (by_hour[keys[0]], by_hour[keys[1]]) == (1, 10)


def test_dst_day_sums_its_23_hours(api_client, click):
    # Local midnight-to-midnight on 2024-03-10 in New York is 05:00 UTC to 04:00 UTC next day.
    EventLogFactory(event=click, timestamp=utc(2024, 3, 10, 5, 0), count=1)
    EventLogFactory(event=click, timestamp=utc(2024, 3, 11, 3, 59), count=2)
    EventLogFactory(event=click, timestamp=utc(2024, 3, 11, 4, 0), count=100)

    body = api_client.get(
        TREND, {"start_date": "2024-03-10", "end_date": "2024-03-10", "tz": "America/New_York"}
    ).json()

    assert body == {"2024-03-10": {"click": 3}}


def test_week_and_month_buckets_start_on_monday_and_the_first(api_client, click):
    EventLogFactory(event=click, timestamp=utc(2024, 1, 3, 12), count=1)  # Wednesday
    EventLogFactory(event=click, timestamp=utc(2024, 1, 8, 12), count=2)  # Monday
    EventLogFactory(event=click, timestamp=utc(2024, 2, 29, 12), count=4)

    weeks = api_client.get(
        TREND, {"interval": "week", "start_date": "2024-01-01", "end_date": "2024-01-14"}
    )
    months = api_client.get(
        TREND, {"interval": "month", "start_date": "2024-01-01", "end_date": "2024-03-31"}
    )

    assert weeks.json() == {"2024-01-01": {"click": 1}, "2024-01-08": {"click": 2}}
    assert months.json() == {
        "2024-01-01": {"click": 3},
        "2024-02-01": {"click": 4},
        "2024-03-01": {},
    }


def test_empty_buckets_name_the_requested_event(api_client, click):
    EventLogFactory(event=click, timestamp=utc(2024, 1, 2, 12), count=5)

    body = api_client.get(
        TREND, {"event_name": "click", "start_date": "2024-01-01", "end_date": "2024-01-03"}
    ).json()

    assert body == {
        "2024-01-01": {"click": 0},
        "2024-01-02": {"click": 5},
        "2024-01-03": {"click": 0},
    }


def test_tz_defaults_to_the_tenant_zone(api_client, tenant, click):
    tenant.timezone = "Asia/Tokyo"
    tenant.save()
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 20), count=1)  # 05:00 on the 16th

    response = api_client.get(TREND)

    assert response["X-Timezone"] == "Asia/Tokyo"
    assert response.json() == {"2024-01-16": {"click": 1}}
    assert api_client.get(TREND, {"tz": "UTC"}).json() == {"2024-01-15": {"click": 1}}


@pytest.mark.parametrize(
    ("zone", "days", "source"),
    [
        ("UTC", {}, "rollup"),
        ("America/New_York", {}, "rollup"),
        ("Asia/Kolkata", {}, "rollup"),  # local hours begin at :30 of every UTC hour
        ("Asia/Kathmandu", {"start_date": "2024-01-01", "end_date": "2024-12-31"}, "rollup"),
        # Nepal moved from +05:30 to +05:45 in 1986; Lord Howe Island's DST is 30 minutes:
        # their hours do not begin at one minute of the UTC hour, raw rows answer.
        ("Asia/Kathmandu", {}, "raw"),
        ("Australia/Lord_Howe", {}, "raw"),
    ],
)
@pytest.mark.parametrize("url", [TREND, FREQUENCY])
def test_source_header_says_which_table_answered(api_client, click, url, zone, days, source):
    response = api_client.get(url, {"tz": zone, **days})

    assert response.status_code == 200
    assert response["X-Stats-Source"] == source
    assert response["X-Timezone"] == zone


@pytest.mark.parametrize("interval", ["day", "hour"])
def test_half_hour_zone_splits_rollup_hours_where_its_days_begin(api_client, click, interval):
    # 18:29 and 18:30 UTC fall on different days (and hours) in Kolkata (+05:30): the
    # rollup's 18:00 UTC hour holds both, split by its first_30 column.
    EventLogFactory(event=click, timestamp=utc(2024, 1, 16, 18, 29), count=1)
    EventLogFactory(event=click, timestamp=utc(2024, 1, 16, 18, 30), count=2)
    query = {"tz": "Asia/Kolkata", "interval": interval}
    query |= {"start_date": "2024-01-16", "end_date": "2024-01-17"}

    response = api_client.get(TREND, query)
    body = {key: row for key, row in response.json().items() if row}

    assert response["X-Stats-Source"] == "rollup"
    if interval == "day":
        assert body == {"2024-01-16": {"click": 1}, "2024-01-17": {"click": 2}}
    else:
        assert body == {
            "2024-01-16T23:00:00+05:30": {"click": 1},
            "2024-01-17T00:00:00+05:30": {"click": 2},
        }


def test_a_day_range_in_a_half_hour_zone_takes_only_its_part_of_the_edge_hours(api_client, click):
    # The 16th in Kolkata is 2024-01-15 18:30 to 2024-01-16 18:30 UTC.
    for minute, count in ((29, 1), (30, 10), (45, 100)):
        EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 18, minute), count=count)
        EventLogFactory(event=click, timestamp=utc(2024, 1, 16, 18, minute), count=1000 * count)
    query = {"tz": "Asia/Kolkata", "start_date": "2024-01-16", "end_date": "2024-01-16"}

    trend = api_client.get(TREND, query).json()
    frequency = api_client.get(FREQUENCY, {**query, "event_name": "click"}).json()

    assert trend == {"2024-01-16": {"click": 110 + 1000}}
    assert frequency == {"event_name": "click", "total": 110 + 1000}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "utc+1"}, "tz"),
        ({"interval": "fortnight"}, "interval"),
        # 579 days: 13,896 hourly buckets, over MAX_BUCKETS.
        ({"interval": "hour", "start_date": "2022-06-01", "end_date": "2024-01-01"}, "interval"),
        ({"start_date": "1990-01-01", "end_date": "2024-01-01"}, "end_date"),
    ],
)
def test_bad_trend_options_are_400_naming_the_parameter(api_client, params, field):
    response = api_client.get(TREND, params)

    assert response.status_code == 400
    assert field in response.json()


def test_bucket_cap_is_documented_in_the_error(api_client):
    response = api_client.get(
        TREND, {"interval": "hour", "start_date": "2022-06-01", "end_date": "2024-01-01"}
    )

    assert str(MAX_BUCKETS) in response.json()["interval"][0]


def test_frequency_accepts_tz(api_client, click):
    EventLogFactory(event=click, timestamp=utc(2024, 1, 16, 2), count=3)  # 21:00 on the 15th in NY

    in_ny = api_client.get(
        FREQUENCY, {"start_date": "2024-01-15", "end_date": "2024-01-15", "tz": "America/New_York"}
    )
    in_utc = api_client.get(FREQUENCY, {"start_date": "2024-01-15", "end_date": "2024-01-15"})

    assert in_ny.json() == [{"event_name": "click", "total": 3}]
    assert in_utc.json() == [{"event_name": "click", "total": 0}]
