"""hourly_distribution on hand-built logs: the hour of day on the zone's clock, rollup
and raw sources, percentages, the list form, and the route's errors, tenancy and
query count."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from events.models import Event, EventLog, HourlyCountTotal
from events.tests.factories import EventFactory, EventLogFactory
from stats.selectors import hourly_distribution

URL = "/api/stats/hourly_distribution"
# Token lookup (with user and tenant) + the tenant's events + one aggregate, however
# many events and logs there are.
HOURLY_QUERIES = 3
ZEROS = [0] * 24


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def distribution(tenant, *, tz="UTC", event_name=None, start=None, end=None, source="auto"):
    return hourly_distribution(
        logs=EventLog.objects.filter(tenant=tenant),
        rollup=HourlyCountTotal.objects.filter(tenant=tenant),
        events=Event.objects.filter(tenant=tenant),
        start=start,
        end=end,
        tz=ZoneInfo(tz),
        event_name=event_name,
        source=source,
    )


def hours(**counts: int) -> list[int]:
    """24 values from keyword arguments h0 … h23, the others 0."""
    return [counts.get(f"h{hour}", 0) for hour in range(24)]


@pytest.fixture
def click(tenant):
    return EventFactory(tenant=tenant, name="click")


# --- the selector ------------------------------------------------------------


def test_counts_are_summed_per_hour_of_day_across_days(tenant, click):
    for day, hour, count in [(15, 9, 2), (16, 9, 3), (17, 23, 1), (15, 0, 4)]:
        EventLogFactory(event=click, timestamp=utc(2024, 1, day, hour, 30), count=count)

    result = distribution(tenant, event_name="click")

    assert result == {
        "event": "click",
        "count": 10,
        "hour_count": hours(h0=4, h9=5, h23=1),
        "percent": [float(share) for share in hours(h0=40, h9=50, h23=10)],
    }


def test_hour_of_day_is_taken_on_the_zones_clock(tenant, click):
    # 14:30 UTC is 09:30 in New York (EST); 03:00 UTC is 22:00 the evening before.
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 30), count=2)
    EventLogFactory(event=click, timestamp=utc(2024, 1, 16, 3, 0), count=1)

    result = distribution(tenant, tz="America/New_York", event_name="click")

    assert result["hour_count"] == hours(h9=2, h22=1)


def test_daylight_saving_moves_the_local_hour(tenant, click):
    # 13:00 UTC is 08:00 in New York in winter (EST) and 09:00 in summer (EDT).
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 13), count=1)
    EventLogFactory(event=click, timestamp=utc(2024, 7, 15, 13), count=10)

    result = distribution(tenant, tz="America/New_York", event_name="click")

    assert result["hour_count"] == hours(h8=1, h9=10)


@pytest.mark.parametrize("source", ["rollup", "raw"])
def test_half_hour_zone_buckets_exactly_from_either_source(tenant, click, source):
    # Kolkata is +05:30: 14:29 UTC is 19:59 and 14:30 UTC is 20:00 there. Both lie in
    # the rollup's 14:00 UTC hour; its first_30 column tells the two local hours apart.
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 29), count=1)
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 30), count=5)

    result = distribution(tenant, tz="Asia/Kolkata", event_name="click", source=source)

    assert result["hour_count"] == hours(h19=1, h20=5)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"])
def test_rollup_and_raw_rows_agree_in_whole_hour_zones(tenant, click, zone):
    signup = EventFactory(tenant=tenant, name="signup")
    # Around Europe's and America's spring-forward days, at every minute offset.
    for index, instant in enumerate(
        utc(2024, 3, day, hour, minute)
        for day in (9, 10, 30, 31)
        for hour in range(0, 24, 5)
        for minute in (0, 59)
    ):
        EventLogFactory(event=click if index % 3 else signup, timestamp=instant, count=index + 1)
    days = {"start": dt.date(2024, 3, 10), "end": dt.date(2024, 3, 31)}

    rollup = distribution(tenant, tz=zone, source="rollup", **days)
    raw = distribution(tenant, tz=zone, source="raw", **days)

    assert rollup == raw
    assert sum(row["count"] for row in raw) > 0


def test_percent_rounds_to_two_decimals_and_sums_to_100(tenant, click):
    for hour, count in enumerate([1, 2, 3, 5, 7, 11, 13]):
        EventLogFactory(event=click, timestamp=utc(2024, 1, 15, hour), count=count)

    result = distribution(tenant, event_name="click")

    assert result["percent"][0] == round(100 / 42, 2)
    assert all(round(share, 2) == share for share in result["percent"])
    assert round(sum(result["percent"]), 2) == 100.0


def test_percent_sums_to_exactly_100_by_largest_remainder(tenant, click):
    # 23 hours of 3 and one of 91: 160 in all, each share of 3 is 1.875 %. Rounded one
    # by one they summed to 100.12; the largest remainders keep the sum at 100.00.
    for hour in range(24):
        EventLogFactory(event=click, timestamp=utc(2024, 1, 15, hour), count=91 if hour == 5 else 3)

    result = distribution(tenant, event_name="click")

    assert result["count"] == 160
    assert round(sum(result["percent"]), 2) == 100.0
    assert result["percent"][5] == 56.88  # 56.875
    assert sorted(set(result["percent"]) - {56.88}) == [1.87, 1.88]
    # Every share within a hundredth of its exact value.
    assert all(
        abs(p - 100 * n / 160) < 0.01
        for p, n in zip(result["percent"], result["hour_count"], strict=True)
    )


def test_event_without_logs_is_all_zeros(tenant, click):
    assert distribution(tenant, event_name="click") == {
        "event": "click",
        "count": 0,
        "hour_count": ZEROS,
        "percent": [0.0] * 24,
    }


def test_list_has_every_event_most_frequent_first_then_by_name(tenant):
    for name, count in [("beta", 3), ("alpha", 3), ("gamma", 7)]:
        EventLogFactory(event=EventFactory(tenant=tenant, name=name), count=count)
    EventFactory(tenant=tenant, name="quiet")

    result = distribution(tenant)

    assert [(row["event"], row["count"]) for row in result] == [
        ("gamma", 7),
        ("alpha", 3),
        ("beta", 3),
        ("quiet", 0),
    ]
    assert result[-1]["hour_count"] == ZEROS


def test_range_is_whole_local_days_both_included(tenant, click):
    # New York days: 2024-01-15 00:00 EST is 05:00 UTC.
    inside = [utc(2024, 1, 15, 5), utc(2024, 1, 17, 4, 59)]
    outside = [utc(2024, 1, 15, 4, 59), utc(2024, 1, 17, 5)]
    for instant in inside + outside:
        EventLogFactory(event=click, timestamp=instant)

    result = distribution(
        tenant,
        tz="America/New_York",
        event_name="click",
        start=dt.date(2024, 1, 15),
        end=dt.date(2024, 1, 16),
    )

    assert result["count"] == len(inside)
    assert result["hour_count"] == hours(h0=1, h23=1)


def test_unknown_event_name_raises_does_not_exist(tenant, other_tenant):
    EventFactory(tenant=other_tenant, name="secret")

    with pytest.raises(Event.DoesNotExist):
        distribution(tenant, event_name="secret")


def test_names_are_matched_exactly(tenant):
    EventLogFactory(event=EventFactory(tenant=tenant, name="login"), count=4)
    EventFactory(tenant=tenant, name="log_n")

    assert distribution(tenant, event_name="log_n")["count"] == 0
    with pytest.raises(Event.DoesNotExist):
        distribution(tenant, event_name="log%")


# --- the route ---------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, f"{URL}/"])
def test_route_answers_one_event(api_client, click, url):
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 30), count=3)

    response = api_client.get(url, {"event_name": "click", "tz": "America/New_York"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Timezone"] == "America/New_York"
    assert response["X-Stats-Source"] == "rollup"
    body = response.json()
    assert body["event"] == "click"
    assert body["count"] == 3
    assert body["hour_count"] == hours(h9=3)
    assert body["percent"][9] == 100.0


def test_route_answers_a_list_without_event_name(api_client, tenant, click):
    EventLogFactory(event=EventFactory(tenant=tenant, name="signup"), count=2)

    body = api_client.get(URL).json()

    assert [row["event"] for row in body] == ["signup", "click"]


def test_route_uses_the_tenants_zone_and_splits_rollup_hours_in_a_half_hour_zone(
    api_client, tenant, click
):
    tenant.timezone = "Asia/Kolkata"
    tenant.save()
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 29))
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 14, 30))

    response = api_client.get(URL, {"event_name": "click"})

    assert response["X-Timezone"] == "Asia/Kolkata"
    assert response["X-Stats-Source"] == "rollup"
    assert response.json()["hour_count"] == hours(h19=1, h20=1)


@pytest.mark.parametrize("name", ["nope", "secret"])
def test_unknown_or_another_tenants_event_is_404(api_client, other_tenant, name):
    EventFactory(tenant=other_tenant, name="secret")

    response = api_client.get(URL, {"event_name": name})

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_another_tenants_logs_and_events_are_never_counted(api_client, tenant, other_tenant):
    EventLogFactory(event=EventFactory(tenant=tenant, name="click"), count=2)
    EventLogFactory(event=EventFactory(tenant=other_tenant, name="click"), count=50)
    EventFactory(tenant=other_tenant, name="secret")

    mine = api_client.get(URL).json()
    one = api_client.get(URL, {"event_name": "click"}).json()

    assert [(row["event"], row["count"]) for row in mine] == [("click", 2)]
    assert one["count"] == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start_date", "2024-13-01"),
        ("end_date", "tomorrow"),
        ("tz", "Mars/Olympus"),
        ("event_name", "x" * 201),
        ("width", "5000"),
        ("height", "tall"),
    ],
)
def test_bad_parameter_is_400_naming_it(api_client, name, value):
    response = api_client.get(URL, {name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_reversed_range_is_400(api_client):
    response = api_client.get(URL, {"start_date": "2024-01-02", "end_date": "2024-01-01"})

    assert response.status_code == 400
    assert list(response.json()) == ["end_date"]


def test_anonymous_is_401(anon_client):
    assert anon_client.get(URL).status_code == 401


@pytest.mark.parametrize("size", [1, 6])
@pytest.mark.parametrize("params", [{}, {"event_name": "e0"}], ids=["list", "one-event"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"], ids=["rollup", "raw"])
def test_query_count_does_not_grow_with_data(
    api_client, tenant, other_tenant, django_assert_max_num_queries, size, params, zone
):
    for owner in (tenant, other_tenant):
        for index in range(size):
            event = EventFactory(tenant=owner, name=f"e{index}")
            for hour in range(size):
                EventLogFactory(event=event, timestamp=utc(2024, 1, 15, hour * 3))

    with django_assert_max_num_queries(HOURLY_QUERIES):
        response = api_client.get(URL, {**params, "tz": zone})

    assert response.status_code == 200
    rows = [response.json()] if params else response.json()
    assert [row["count"] for row in rows] == [size] * len(rows)
    assert len(rows) == (1 if params else size)
