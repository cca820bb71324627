"""Seed 002's per-day stats: event_amount, event_avg_per_user, store_events_amount and
unique_users, on hand-built data with empty days, as JSON and as PNG charts."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from matplotlib.image import imread

from events.models import EventLog, HourlyCountTotal
from events.tests.factories import EventFactory, EventLogFactory
from stats import selectors
from stats.charts import render

AMOUNT = "/api/stats/event_amount"
AVG = "/api/stats/event_avg_per_user"
STORE = "/api/stats/store_events_amount"
USERS = "/api/stats/unique_users"
ROUTES = [AMOUNT, AVG, STORE, USERS]
MAY = {"start_date": "2024-05-01", "end_date": "2024-05-04"}


def buys(route: str) -> dict[str, str]:
    """The `event_name` parameter for one type; store_events_amount takes none."""
    return {} if route == STORE else {"event_name": "buy"}


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def store(tenant, other_tenant):
    """May 2024 in `tenant` (UTC):
    - 1st: buy by ann (count 2) and ann (1), buy by bob (1); view by ann; an anonymous buy (5)
    - 2nd: nothing
    - 3rd: view by cid at 23:30 (the 4th in Europe/Warsaw); buy by bob (3)
    - 4th: nothing
    `other_tenant` has lots of buys on the 2nd, which must never show."""
    buy, view = EventFactory(tenant=tenant, name="buy"), EventFactory(tenant=tenant, name="view")
    EventLogFactory(event=buy, distinct_id="ann", timestamp=utc(2024, 5, 1, 9), count=2)
    EventLogFactory(event=buy, distinct_id="ann", timestamp=utc(2024, 5, 1, 18))
    EventLogFactory(event=buy, distinct_id="bob", timestamp=utc(2024, 5, 1, 12))
    EventLogFactory(event=view, distinct_id="ann", timestamp=utc(2024, 5, 1, 10))
    EventLogFactory(event=buy, distinct_id="", timestamp=utc(2024, 5, 1, 11), count=5)
    EventLogFactory(event=view, distinct_id="cid", timestamp=utc(2024, 5, 3, 23, 30))
    EventLogFactory(event=buy, distinct_id="bob", timestamp=utc(2024, 5, 3, 8), count=3)
    theirs = EventFactory(tenant=other_tenant, name="buy")
    EventLogFactory(event=theirs, distinct_id="zed", timestamp=utc(2024, 5, 2, 8), count=50)
    return tenant


def _series(client, route: str, **params) -> list[tuple[str, float]]:
    response = client.get(route, params)
    assert response.status_code == 200, response.content
    rows = response.json()
    assert all(len(row) == 2 and "date" in row for row in rows)
    return [(row["date"], next(v for k, v in row.items() if k != "date")) for row in rows]


def test_event_amount_per_day_with_empty_days(api_client, store):
    response = api_client.get(AMOUNT, {**MAY, "event_name": "buy"})

    assert response.json() == [
        {"date": "2024-05-01", "event_amount": 9},
        {"date": "2024-05-02", "event_amount": 0},
        {"date": "2024-05-03", "event_amount": 3},
        {"date": "2024-05-04", "event_amount": 0},
    ]
    assert response["X-Stats-Source"] == "rollup"


def test_store_events_amount_sums_every_event(api_client, store):
    assert _series(api_client, STORE, **MAY) == [
        ("2024-05-01", 10),
        ("2024-05-02", 0),
        ("2024-05-03", 4),
        ("2024-05-04", 0),
    ]


def test_average_per_user_leaves_anonymous_events_out(api_client, store):
    response = api_client.get(AVG, {**MAY, "event_name": "buy"})

    # 1st: ann 3 + bob 1 over 2 users; 3rd: bob 3 over 1 user; no events: 0.0.
    assert response.json() == [
        {"date": "2024-05-01", "event_avg_per_user": 2.0},
        {"date": "2024-05-02", "event_avg_per_user": 0.0},
        {"date": "2024-05-03", "event_avg_per_user": 3.0},
        {"date": "2024-05-04", "event_avg_per_user": 0.0},
    ]
    assert response["X-Stats-Source"] == "raw"


def test_average_is_rounded_to_two_decimals(api_client, tenant):
    buy = EventFactory(tenant=tenant, name="buy")
    for user, count in (("a", 1), ("b", 1), ("c", 2)):
        EventLogFactory(event=buy, distinct_id=user, timestamp=utc(2024, 5, 1, 9), count=count)

    rows = _series(api_client, AVG, event_name="buy")

    assert rows == [("2024-05-01", 1.33)]


def test_unique_users_of_any_event_or_of_one(api_client, store):
    assert _series(api_client, USERS, **MAY) == [
        ("2024-05-01", 2),
        ("2024-05-02", 0),
        ("2024-05-03", 2),
        ("2024-05-04", 0),
    ]
    assert _series(api_client, USERS, **MAY, event_name="view") == [
        ("2024-05-01", 1),
        ("2024-05-02", 0),
        ("2024-05-03", 1),
        ("2024-05-04", 0),
    ]


def test_days_follow_the_requested_zone(api_client, store):
    warsaw = {**MAY, "tz": "Europe/Warsaw"}

    users = _series(api_client, USERS, **warsaw, event_name="view")
    amounts = _series(api_client, STORE, **warsaw)

    assert users == [("2024-05-01", 1), ("2024-05-02", 0), ("2024-05-03", 0), ("2024-05-04", 1)]
    assert amounts == [("2024-05-01", 10), ("2024-05-02", 0), ("2024-05-03", 3), ("2024-05-04", 1)]


def test_an_open_range_spans_the_data_and_no_data_is_an_empty_list(api_client, store, tenant):
    EventFactory(tenant=tenant, name="never")

    assert [day for day, _ in _series(api_client, STORE)] == [
        "2024-05-01",
        "2024-05-02",
        "2024-05-03",
    ]
    assert _series(api_client, AMOUNT, event_name="never") == []
    assert _series(api_client, USERS, event_name="never") == []


@pytest.mark.parametrize("route", [AMOUNT, AVG])
def test_event_name_is_required_for_one_type(api_client, store, route):
    response = api_client.get(route, MAY)

    assert response.status_code == 400
    assert "event_name" in response.json()


@pytest.mark.parametrize("route", [AMOUNT, AVG, USERS])
def test_unknown_or_other_tenants_event_is_404(api_client, other_client, store, route):
    EventFactory(tenant=store, name="ours-only")

    assert api_client.get(route, {"event_name": "nope"}).status_code == 404
    assert other_client.get(route, {"event_name": "ours-only"}).status_code == 404


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (AMOUNT, [0, 50, 0, 0]),
        (STORE, [0, 50, 0, 0]),
        (AVG, [0.0, 50.0, 0.0, 0.0]),
        (USERS, [0, 1, 0, 0]),
    ],
)
def test_another_tenant_sees_only_its_own_days(other_client, store, route, expected):
    rows = _series(other_client, route, **MAY, **buys(route))

    assert [value for _, value in rows] == expected


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2024-13-01"}, "start_date"),
        ({"start_date": "2024-05-04", "end_date": "2024-05-01"}, "end_date"),
        ({"tz": "Mars/Olympus"}, "tz"),
        # Over MAX_BUCKETS days.
        ({"start_date": "1990-01-01", "end_date": "2024-01-01"}, "end_date"),
    ],
)
def test_bad_parameters_are_400(api_client, store, route, params, field):
    response = api_client.get(route, {**params, **buys(route)})

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("route", ROUTES)
def test_query_count_is_pinned(api_client, store, route, django_assert_max_num_queries):
    # The token lookup, and for the rollup's routes the days, the hours at the edges and
    # the events' names (see stats/tests/test_views.py); raw routes read one aggregate.
    with django_assert_max_num_queries(5):
        response = api_client.get(route, {**MAY, **buys(route)})

    assert response.status_code == 200


def test_an_event_name_where_the_route_takes_none_is_400(api_client, store):
    # The store's total of every event: a filter it would ignore is refused, not dropped.
    response = api_client.get(STORE, {**MAY, "event_name": "buy"})

    assert response.status_code == 400
    assert response.json() == {"event_name": ["Unknown parameter."]}


def test_keys_need_the_read_role(key_client, store):
    assert key_client("read").get(STORE).status_code == 200
    assert key_client("ingest").get(STORE).status_code == 403


@pytest.mark.parametrize("zone", ["UTC", "Europe/Warsaw", "America/New_York"])
def test_event_amount_is_the_same_from_rollup_and_raw_rows(store, zone):
    answers = [
        selectors.event_amount(
            logs=EventLog.objects.filter(tenant=store),
            rollup=HourlyCountTotal.objects.filter(tenant=store),
            start=dt.date(2024, 4, 30),
            end=dt.date(2024, 5, 5),
            tz=ZoneInfo(zone),
            source=source,
        )
        for source in ("rollup", "raw")
    ]

    assert answers[0] == answers[1]
    assert sum(row["event_amount"] for row in answers[0]) == 14


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_draws_a_png_of_the_same_days(api_client, store, route):
    render.clear_cache()

    response = api_client.get(f"{route}.png", {**MAY, **buys(route), "width": 640})
    empty = api_client.get(route, {"format": "png", **buys(route), "end_date": "2020-01-01"})

    for answer, width in ((response, 640), (empty, 800)):
        assert answer.status_code == 200
        assert answer["Content-Type"] == "image/png"
        assert imread(io.BytesIO(answer.content)).shape[:2] == (400, width)
        assert answer["ETag"]
    errors = api_client.get(f"{route}.png", {**buys(route), "tz": "Mars/Olympus"})
    assert errors.status_code == 400
    assert errors["Content-Type"].startswith("application/json")


def test_schema_documents_the_daily_routes(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    for route in ROUTES:
        assert f"{route}/" in paths or route in paths, route


def test_schema_lists_event_name_only_where_the_route_takes_it(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    def query_parameters(route: str) -> dict[str, bool]:
        parameters = paths[f"{route}/"]["get"]["parameters"]
        return {p["name"]: p.get("required", False) for p in parameters if p["in"] == "query"}

    # store_events_amount answers 400 "Unknown parameter." for it (it counts every event).
    assert "event_name" not in query_parameters(STORE)
    assert {"start_date", "end_date", "tz"} <= set(query_parameters(STORE))
    assert query_parameters(AMOUNT)["event_name"] is True
    assert query_parameters(AVG)["event_name"] is True
    assert query_parameters(USERS)["event_name"] is False


def test_average_per_user_rounds_half_up(api_client, tenant):
    """9 events of 8 users is 1.125: 1.13 (half up), as every 2-decimal stat rounds."""
    event = EventFactory(tenant=tenant, name="half")
    for user in range(8):
        EventLogFactory(
            event=event,
            distinct_id=f"u-{user}",
            count=2 if user == 0 else 1,
            timestamp=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
        )

    rows = api_client.get(
        "/api/stats/event_avg_per_user",
        {"event_name": "half", "start_date": "2024-05-01", "end_date": "2024-05-01"},
    ).json()

    assert rows == [{"date": "2024-05-01", "event_avg_per_user": 1.13}]
