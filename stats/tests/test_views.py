"""The stats routes end to end: seed 001 shapes, parameter errors, auth, tenancy,
time zones and pinned query counts."""

import datetime as dt
from urllib.parse import urlencode

import pytest

from events.tests.factories import EventFactory, EventLogFactory

TREND = "/api/stats/event_trend"
FREQUENCY = "/api/stats/event_frequency"
ROUTES = [TREND, FREQUENCY]
BOTH_SLASHES = [TREND, f"{TREND}/", FREQUENCY, f"{FREQUENCY}/"]

# Independent of how many events and logs there are (a per-event or per-day query
# would break it): the token lookup (with user and tenant), then from the daily rollup
# the bounds of the data (an open range), the whole days, the hours before the range's
# edges and the hours they cut (zones with :30 offsets), and the events' names.
STATS_QUERIES = 6


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0):
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def log_counts(event, counts_by_day: dict[dt.date, int]) -> None:
    """One log of count 1 per occurrence, so totals are row counts and sums alike."""
    for day, count in counts_by_day.items():
        for _ in range(count):
            EventLogFactory(event=event, timestamp=at(day.year, day.month, day.day))


def assert_json(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")


@pytest.fixture
def seed_trend(tenant):
    """The example from seed 001 section 7."""
    event1 = EventFactory(tenant=tenant, name="event1")
    event2 = EventFactory(tenant=tenant, name="event2")
    log_counts(event1, {dt.date(2023, 1, 1): 1, dt.date(2023, 1, 2): 1})
    log_counts(event2, {dt.date(2023, 1, 1): 1})


@pytest.fixture
def seed_frequency(tenant):
    """The example from seed 001 section 8: submit 5, click 3, purchase 2."""
    for name, total in {"click": 3, "purchase": 2, "submit": 5}.items():
        event = EventFactory(tenant=tenant, name=name)
        log_counts(event, {dt.date(2023, 6, 1): total})


# --- shapes ------------------------------------------------------------------


@pytest.mark.parametrize("url", [TREND, f"{TREND}/"])
@pytest.mark.usefixtures("seed_trend")
def test_trend_returns_the_seed_shape(api_client, url):
    response = api_client.get(url)

    assert_json(response, 200)
    assert response.json() == {
        "2023-01-01": {"event1": 1, "event2": 1},
        "2023-01-02": {"event1": 1},
    }


@pytest.mark.parametrize("url", [FREQUENCY, f"{FREQUENCY}/"])
@pytest.mark.usefixtures("seed_frequency")
def test_frequency_returns_the_seed_list(api_client, url):
    response = api_client.get(url)

    assert_json(response, 200)
    assert response.json() == [
        {"event_name": "submit", "total": 5},
        {"event_name": "click", "total": 3},
        {"event_name": "purchase", "total": 2},
    ]


@pytest.mark.parametrize("url", [FREQUENCY, f"{FREQUENCY}/"])
@pytest.mark.usefixtures("seed_frequency")
def test_frequency_with_event_name_returns_one_object(api_client, url):
    params = {"event_name": "submit", "start_date": "2021-01-01", "end_date": "2024-01-01"}

    response = api_client.get(url, params)

    assert_json(response, 200)
    assert response.json() == {"event_name": "submit", "total": 5}


def test_frequency_of_an_event_without_logs_is_zero(api_client, tenant):
    EventFactory(tenant=tenant, name="quiet")

    response = api_client.get(FREQUENCY, {"event_name": "quiet"})

    assert_json(response, 200)
    assert response.json() == {"event_name": "quiet", "total": 0}


def test_frequency_sums_counts(api_client, tenant):
    event = EventFactory(tenant=tenant, name="batch")
    counts = [4, 6]
    for count in counts:
        EventLogFactory(event=event, timestamp=at(2024, 1, 15), count=count)

    response = api_client.get(FREQUENCY)

    assert response.json() == [{"event_name": "batch", "total": sum(counts)}]


@pytest.mark.parametrize("url", [FREQUENCY, f"{FREQUENCY}/"])
@pytest.mark.usefixtures("seed_frequency")
def test_frequency_unknown_event_name_is_404(api_client, url):
    response = api_client.get(url, {"event_name": "nope"})

    assert_json(response, 404)
    assert "detail" in response.json()


def test_trend_of_an_unknown_event_is_404(api_client):
    response = api_client.get(TREND, {"event_name": "nope", "start_date": "2024-01-15"})

    assert_json(response, 404)
    assert response.json() == {"detail": "No event named 'nope'."}


@pytest.mark.usefixtures("seed_trend")
def test_trend_event_name_narrows_to_one_event(api_client):
    response = api_client.get(TREND, {"event_name": "event1"})

    assert_json(response, 200)
    assert response.json() == {"2023-01-01": {"event1": 1}, "2023-01-02": {"event1": 1}}


@pytest.mark.usefixtures("seed_trend")
def test_trend_date_range_includes_both_days(api_client, tenant):
    event1 = tenant.events.get(name="event1")
    log_counts(event1, {dt.date(2022, 12, 31): 4, dt.date(2023, 1, 3): 4})

    response = api_client.get(TREND, {"start_date": "2023-01-01", "end_date": "2023-01-02"})

    assert_json(response, 200)
    assert response.json() == {
        "2023-01-01": {"event1": 1, "event2": 1},
        "2023-01-02": {"event1": 1},
    }


def test_frequency_date_range_includes_boundary_instants_only(api_client, tenant):
    event = EventFactory(tenant=tenant, name="edge")
    inside = [at(2024, 1, 10, 0, 0, 0), at(2024, 1, 12, 23, 59, 59)]
    outside = [at(2024, 1, 9, 23, 59, 59), at(2024, 1, 13, 0, 0, 0)]
    for instant in inside + outside:
        EventLogFactory(event=event, timestamp=instant)

    response = api_client.get(FREQUENCY, {"start_date": "2024-01-10", "end_date": "2024-01-12"})

    assert response.json() == [{"event_name": "edge", "total": len(inside)}]


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize("params", [{"end_date": "9999-12-31"}, {"start_date": "0001-01-01"}])
def test_ranges_reaching_the_ends_of_the_calendar_answer(api_client, tenant, url, params):
    # Regression: these overflowed datetime and answered 500.
    tenant.timezone = "Asia/Kolkata"
    tenant.save()
    EventLogFactory(event=EventFactory(tenant=tenant, name="old"), timestamp=at(2024, 1, 15))

    response = api_client.get(url, params)

    assert_json(response, 200)
    assert response.json() in ({"2024-01-15": {"old": 1}}, [{"event_name": "old", "total": 1}])


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        # 10 000 days, both included, and one more.
        ({"start_date": "2000-01-01", "end_date": "2027-05-18"}, 200, None),
        ({"start_date": "2000-01-01", "end_date": "2027-05-19"}, 400, "end_date"),
        ({"start_date": "1970-01-01", "end_date": "2026-11-28", "interval": "month"}, 200, None),
        ({"start_date": "1970-01-01", "end_date": "2026-11-28", "interval": "week"}, 200, None),
        (
            {"start_date": "2025-01-01", "end_date": "2026-11-28", "interval": "hour"},
            400,
            "interval",
        ),
    ],
)
def test_a_range_may_hold_at_most_max_buckets_of_its_interval(api_client, params, status, field):
    response = api_client.get(TREND, params)

    assert_json(response, status)
    if field:
        assert "at most 10000" in response.json()[field][0]


def test_open_and_explicit_ranges_meet_one_cap(api_client, tenant):
    """1970 to 2026 by month is fine either way; a frequency (one answer for the range)
    has no cap."""
    event = EventFactory(tenant=tenant, name="old")
    EventLogFactory(event=event, timestamp=dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    EventLogFactory(event=event, timestamp=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    explicit = {"start_date": "1970-01-01", "end_date": "2026-11-28"}

    open_trend = api_client.get(TREND, {"interval": "month"})
    explicit_trend = api_client.get(TREND, {**explicit, "interval": "month"})
    frequency = api_client.get(FREQUENCY, explicit)

    assert_json(open_trend, 200)
    assert open_trend.json() == explicit_trend.json()
    assert len(open_trend.json()) == 683
    assert frequency.json() == [{"event_name": "old", "total": 2}]


# --- bad parameters ----------------------------------------------------------


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start_date", "2024-13-01"),
        ("end_date", "yesterday"),
        ("start_date", "2024-01-01T00:00"),
        ("end_date", "2024-02-30"),
        ("start_date", "2024-01-01\x00"),
        ("end_date", "2024-01-01\x00"),
        # Only the documented YYYY-MM-DD: zero-padded, ASCII digits (strptime reads both).
        ("start_date", "2024-5-1"),
        ("end_date", "2024-05-1"),
        ("start_date", "\u0662\u0660\u0662\u0664-01-01"),
        ("end_date", " 2024-01-01"),
    ],
)
def test_bad_date_is_400_naming_the_parameter(api_client, url, name, value):
    response = api_client.get(url, {name: value})

    assert_json(response, 400)
    assert list(response.json()) == [name]


@pytest.mark.parametrize("url", [*ROUTES, "/api/stats/web", "/api/stats/ingestion"])
def test_an_unknown_parameter_is_400_naming_it(api_client, url):
    # Another product's query (seed 003's day/month/year) must not answer every day.
    response = api_client.get(url, {"day": "13", "month": "3", "start_date": "2024-01-01"})

    assert_json(response, 400)
    assert response.json() == {"day": ["Unknown parameter."], "month": ["Unknown parameter."]}


@pytest.mark.parametrize("url", [*ROUTES, "/api/stats/web"])
def test_a_parameter_given_twice_is_400_naming_it(api_client, url):
    response = api_client.get(f"{url}?start_date=2024-01-01&start_date=2024-02-01")

    assert_json(response, 400)
    assert response.json() == {"start_date": ["Given more than once."]}


@pytest.mark.parametrize("url", ROUTES)
def test_reversed_range_is_400_on_end_date(api_client, url):
    response = api_client.get(url, {"start_date": "2024-01-02", "end_date": "2024-01-01"})

    assert_json(response, 400)
    assert list(response.json()) == ["end_date"]


@pytest.mark.parametrize("url", ROUTES)
def test_too_long_event_name_is_400(api_client, url):
    response = api_client.get(url, {"event_name": "x" * 201})

    assert_json(response, 400)
    assert list(response.json()) == ["event_name"]


# --- time zone ---------------------------------------------------------------


@pytest.mark.parametrize("url", ROUTES)
def test_responses_name_the_time_zone_used(api_client, tenant, url):
    assert api_client.get(url)["X-Timezone"] == "UTC"

    tenant.timezone = "Asia/Kolkata"
    tenant.save()

    assert api_client.get(url)["X-Timezone"] == "Asia/Kolkata"


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize("zone", ["localtime", "Factory", "Mars/Olympus"])
def test_a_name_that_is_no_iana_zone_is_400(api_client, url, zone):
    response = api_client.get(url, {"tz": zone})

    assert_json(response, 400)
    assert list(response.json()) == ["tz"]


@pytest.mark.parametrize(
    ("zone", "local_day"), [("America/New_York", "2024-01-15"), ("Asia/Kolkata", "2024-01-16")]
)
def test_days_are_the_tenants_local_days(api_client, tenant, zone, local_day):
    tenant.timezone = zone
    tenant.save()
    event = EventFactory(tenant=tenant, name="late")
    EventLogFactory(event=event, timestamp=at(2024, 1, 16, 2), count=3)

    trend = api_client.get(TREND).json()
    on_that_day = api_client.get(
        FREQUENCY, {"event_name": "late", "start_date": local_day, "end_date": local_day}
    ).json()

    assert trend == {local_day: {"late": 3}}
    assert on_that_day == {"event_name": "late", "total": 3}


# --- authentication ----------------------------------------------------------


@pytest.mark.parametrize("url", BOTH_SLASHES)
def test_anonymous_is_401_with_www_authenticate(anon_client, url):
    response = anon_client.get(url)

    assert_json(response, 401)
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.django_db
def test_invalid_token_is_401(anon_client, url):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anon_client.get(url)

    assert_json(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", ROUTES)
def test_blocked_tenant_is_403(api_client, tenant, url):
    tenant.is_active = False
    tenant.save()

    assert_json(api_client.get(url), 403)


# --- tenancy -----------------------------------------------------------------


@pytest.fixture
def two_tenants_logs(tenant, other_tenant):
    """Both tenants have a "click"; only the other tenant has "secret"."""
    log_counts(EventFactory(tenant=tenant, name="click"), {dt.date(2024, 1, 15): 2})
    foreign_click = EventFactory(tenant=other_tenant, name="click")
    log_counts(foreign_click, {dt.date(2024, 1, 15): 7, dt.date(2024, 1, 16): 1})
    log_counts(EventFactory(tenant=other_tenant, name="secret"), {dt.date(2024, 1, 15): 9})


@pytest.mark.usefixtures("two_tenants_logs")
def test_trend_never_shows_another_tenants_logs(api_client, other_client):
    assert api_client.get(TREND).json() == {"2024-01-15": {"click": 2}}
    assert other_client.get(TREND).json() == {
        "2024-01-15": {"click": 7, "secret": 9},
        "2024-01-16": {"click": 1},
    }


@pytest.mark.usefixtures("two_tenants_logs")
def test_frequency_never_shows_another_tenants_logs(api_client, other_client):
    assert api_client.get(FREQUENCY).json() == [{"event_name": "click", "total": 2}]
    assert api_client.get(FREQUENCY, {"event_name": "click"}).json() == {
        "event_name": "click",
        "total": 2,
    }
    assert other_client.get(FREQUENCY).json() == [
        {"event_name": "secret", "total": 9},
        {"event_name": "click", "total": 7 + 1},
    ]


@pytest.mark.usefixtures("two_tenants_logs")
def test_another_tenants_event_name_is_404_on_frequency(api_client, other_client):
    response = api_client.get(FREQUENCY, {"event_name": "secret"})

    assert_json(response, 404)
    assert other_client.get(FREQUENCY, {"event_name": "secret"}).status_code == 200


@pytest.mark.usefixtures("two_tenants_logs")
def test_another_tenants_event_name_is_404_on_trend(api_client, other_client):
    # As on every other stats route: zeros would read as "it never happened".
    response = api_client.get(TREND, {"event_name": "secret"})

    assert_json(response, 404)
    assert other_client.get(TREND, {"event_name": "secret"}).json() == {"2024-01-15": {"secret": 9}}


# --- query counts ------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 6])
@pytest.mark.parametrize(
    ("url", "params"),
    [
        (TREND, {}),
        (TREND, {"event_name": "e0"}),
        (FREQUENCY, {}),
        (FREQUENCY, {"event_name": "e0"}),
    ],
    ids=["trend", "trend-one-event", "frequency", "frequency-one-event"],
)
def test_query_count_does_not_grow_with_data(
    api_client, tenant, other_tenant, django_assert_max_num_queries, url, params, size
):
    # `size` events, each logged on `size` days, in both tenants.
    for owner in (tenant, other_tenant):
        for index in range(size):
            event = EventFactory(tenant=owner, name=f"e{index}")
            log_counts(event, {dt.date(2024, 1, day + 1): 1 for day in range(size)})

    with django_assert_max_num_queries(STATS_QUERIES):
        response = api_client.get(url, {**params, "start_date": "2024-01-01"})

    assert response.status_code == 200
    body = response.json()
    if url == TREND:
        assert len(body) == size  # days
        assert sum(len(per_event) for per_event in body.values()) == size * len(
            {"e0"} if params else range(size)
        )
    elif params:
        assert body == {"event_name": "e0", "total": size}
    else:
        assert [row["total"] for row in body] == [size] * size


@pytest.mark.parametrize(
    "url",
    [
        TREND,
        "/api/stats/store_events_amount",
        "/api/stats/unique_users",
        "/api/stats/active_users",
        "/api/stats/event_amount",
    ],
)
def test_an_open_range_too_long_answers_its_most_recent_buckets(api_client, tenant, url):
    """One event of 1970 does not make the bare routes a 400 for good: a range without
    start_date answers the 10 000 buckets that end with the last day with data."""
    event = EventFactory(tenant=tenant, name="old")
    EventLogFactory(
        event=event, distinct_id="a", timestamp=dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    )
    last = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    EventLogFactory(event=event, distinct_id="a", timestamp=last)

    params = {"tz": "UTC", **({"event_name": "old"} if url.endswith("/event_amount") else {})}
    response = api_client.get(url, params)

    assert_json(response, 200)
    body = response.json()
    days = list(body) if isinstance(body, dict) else [row["date"] for row in body]
    assert len(days) == 10_000
    assert days[0] == str(last.date() - dt.timedelta(days=9_999))
    assert days[-1] == str(last.date())
    # A larger interval, or a start, answers the whole range.
    assert api_client.get(TREND, {"interval": "month"}).status_code == 200
    assert api_client.get(TREND, {"start_date": "2024-01-01"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "formats"),
    [
        (f"{TREND}?format=xml", {"json", "png"}),
        ("/api/stats/store_events_amount?format=xml", {"json", "png"}),
        ("/api/stats/user_activity?format=png", {"json"}),
    ],
)
def test_an_unknown_format_is_a_400_naming_format_and_the_routes_formats(api_client, url, formats):
    # Regression: DRF's negotiation answered 404 {"detail": "Not found."}, as if the
    # route did not exist.
    response = api_client.get(url)

    assert_json(response, 400)
    [message] = response.json()["format"]
    listed = message.split("it answers ")[1].rstrip(".").split(", ")
    assert set(listed) == formats | {"api"}, message  # api: the browsable API


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("format=", "May not be blank"),  # DRF read it as no format: JSON, a 200
        ("format=json&format=png", "Given more than once"),  # DRF took the last
    ],
)
@pytest.mark.parametrize("route", [TREND, "/api/stats/user_activity", "/api/events/"])
def test_an_empty_or_repeated_format_is_a_400_naming_format(api_client, route, query, message):
    response = api_client.get(f"{route}?{query}")

    assert_json(response, 400)
    assert list(response.json()) == ["format"]
    assert response.json()["format"][0].startswith(message)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "name"),
    [
        (f"{TREND}", "tz"),
        (f"{TREND}", "interval"),
        (f"{TREND}", "start_date"),
        (FREQUENCY, "tz"),
        (FREQUENCY, "event_name"),
        ("/api/stats/hourly_distribution", "event_name"),
        ("/api/stats/hourly_distribution", "tz"),
        ("/api/stats/ingestion", "interval"),
        ("/api/stats/ingestion", "tz"),
        ("/api/stats/event_amount", "event_name"),
        ("/api/stats/unique_users", "end_date"),
        ("/api/stats/active_users", "window"),
        ("/api/stats/active_users", "approximate"),
    ],
)
def test_an_empty_parameter_is_a_400_naming_it_on_every_stats_route(api_client, url, name):
    # Regression: `tz=`, `interval=`, `event_name=` … read as absent (200, the default),
    # while `event_amount?event_name=` was a 400: the same empty value, two answers.
    response = api_client.get(f"{url}?{name}=")

    assert_json(response, 400)
    assert list(response.json()) == [name]
    assert "blank" in response.json()[name][0]


CALENDAR_ROUTES = [
    f"{TREND}?interval=day",
    f"{TREND}?interval=week",
    f"{TREND}?interval=month",
    f"{TREND}?interval=hour",
    FREQUENCY,
    "/api/stats/hourly_distribution",
    "/api/stats/store_events_amount",
    "/api/stats/event_amount?event_name=edge",
    "/api/stats/unique_users",
    "/api/stats/event_avg_per_user?event_name=edge",
    "/api/stats/ingestion?interval=week",
]
ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"]


def with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@pytest.mark.django_db
@pytest.mark.parametrize("url", CALENDAR_ROUTES)
@pytest.mark.parametrize("tz", ZONES)
def test_an_explicit_range_from_the_calendars_first_day_is_a_400_naming_start_date(
    api_client, tenant, url, tz
):
    # Regression: 0001-01-01 read as an open start, so `event_trend?start_date=0001-01-01
    # &end_date=0001-01-07&interval=week` answered {} and store_events_amount [], the
    # days asked for missing, while 0001-01-02 answered them.
    EventFactory(tenant=tenant, name="edge")

    response = api_client.get(
        with_query(url, start_date="0001-01-01", end_date="0001-01-07", tz=tz)
    )

    assert_json(response, 400)
    assert list(response.json()) == ["start_date"]
    assert "0001-01-02" in response.json()["start_date"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("url", CALENDAR_ROUTES)
@pytest.mark.parametrize("tz", ZONES)
def test_an_explicit_range_from_the_first_day_that_can_be_asked_answers(
    api_client, tenant, url, tz
):
    EventFactory(tenant=tenant, name="edge")

    response = api_client.get(
        with_query(url, start_date="0001-01-02", end_date="0001-01-03", tz=tz)
    )

    assert_json(response, 200)
    assert response.json() not in ({}, [])
