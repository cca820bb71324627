"""/api/query through HTTP: metrics, breakdowns, filters, ranges, formats, errors."""

import csv
import datetime as dt
import io
import json

import pytest

from events.tests.factories import EventFactory, EventLogFactory
from insights.spec import QueryError, parse_query

UTC = dt.UTC
RANGE = {"start": "2024-01-01", "end": "2024-01-31"}


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(tenant):
    """purchases and views of three users on two plans, in January 2024."""
    purchase = EventFactory(tenant=tenant, name="purchase")
    view = EventFactory(tenant=tenant, name="view")
    rows = [
        (purchase, "u1", at(2), {"plan": "pro", "amount": 30}, 1),
        (purchase, "u1", at(3), {"plan": "pro", "amount": 10}, 2),
        (purchase, "u2", at(3), {"plan": "free", "amount": 5.5}, 1),
        (purchase, "u3", at(4), {"plan": "free", "amount": "n/a"}, 1),
        (view, "u1", at(2), {"plan": "pro", "page": {"path": "/a"}}, 3),
        (view, "u2", at(2), {"plan": "free"}, 1),
        (view, "", at(5), {}, 4),
        (view, "u4", at(20), {"plan": None}, 1),
    ]
    for event, user, when, data, count in rows:
        EventLogFactory(event=event, distinct_id=user, timestamp=when, data=data, count=count)
    return {"purchase": purchase, "view": view}


def query(client, body: dict, **params):
    return client.post("/api/query" + _params(params), body, format="json")


def _params(params: dict) -> str:
    return "?" + "&".join(f"{name}={value}" for name, value in params.items()) if params else ""


@pytest.mark.django_db
class TestMetrics:
    def test_events_and_uniques_over_the_range(self, api_client, shop):
        response = query(
            api_client, {"metrics": ["events", "uniques", "events_per_user"], "date_range": RANGE}
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        # 1+2+1+1 purchases, 3+1+4+1 views; u1..u4 (the log without a user has none).
        assert body["total"] == {"events": 14, "uniques": 4, "events_per_user": 10 / 4}
        assert body["rows"] == [body["total"]]
        assert body["columns"] == ["events", "uniques", "events_per_user"]
        assert body["date_range"] == {
            "start": "2024-01-01T00:00:00+00:00",
            "end": "2024-02-01T00:00:00+00:00",
        }

    def test_numeric_property_metrics_weigh_counts_and_skip_non_numbers(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": [
                    "sum:data.amount",
                    "avg:data.amount",
                    "min:data.amount",
                    "max:data.amount",
                ],
                "filters": [["eq", "event", "purchase"]],
                "date_range": RANGE,
            },
        )

        assert response.json()["total"] == {
            "sum:data.amount": 30 + 2 * 10 + 5.5,
            "avg:data.amount": (30 + 2 * 10 + 5.5) / 4,
            "min:data.amount": 5.5,
            "max:data.amount": 30,
        }

    def test_metrics_of_nothing(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": ["events", "uniques", "avg:data.amount", "events_per_user"],
                "date_range": {"start": "2023-01-01", "end": "2023-01-02"},
            },
        )

        assert response.json()["total"] == {
            "events": 0,
            "uniques": 0,
            "avg:data.amount": None,
            "events_per_user": None,
        }


@pytest.mark.django_db
def test_numbers_are_integers_within_64_bits_and_floats_beyond(api_client, tenant):
    EventLogFactory(event=EventFactory(tenant=tenant, name="low"), data={"a": -(2**63)})
    huge = EventFactory(tenant=tenant, name="huge")
    EventLogFactory(event=huge, data={"a": 1e300})
    EventLogFactory(event=huge, data={"a": 3e300})
    metrics = ["sum:data.a", "avg:data.a", "min:data.a", "max:data.a"]

    def total(event: str) -> dict:
        body = {"metrics": metrics, "filters": [["eq", "event", event]], "date_range": "all"}
        response = query(api_client, body)
        assert response.status_code == 200, response.json()
        return response.json()["total"]

    low = total("low")
    assert low == dict.fromkeys(metrics, -(2**63))
    assert all(type(value) is int for value in low.values())
    assert total("huge") == {
        "sum:data.a": 4e300,
        "avg:data.a": 2e300,
        "min:data.a": 1e300,
        "max:data.a": 3e300,
    }
    assert all(type(value) is float for value in total("huge").values())


@pytest.mark.django_db
class TestBreakdown:
    def test_by_event_and_property_largest_first(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": ["events", "uniques"],
                "breakdown": ["event", "data.plan"],
                "date_range": RANGE,
            },
        )

        assert response.json()["rows"] == [
            {"event": "view", "data.plan": None, "events": 5, "uniques": 1},
            {"event": "purchase", "data.plan": "pro", "events": 3, "uniques": 1},
            {"event": "view", "data.plan": "pro", "events": 3, "uniques": 1},
            {"event": "purchase", "data.plan": "free", "events": 2, "uniques": 2},
            {"event": "view", "data.plan": "free", "events": 1, "uniques": 1},
        ]
        assert response.json()["series"] == {"count": 5, "shown": 5, "other": 0}

    def test_nested_property(self, api_client, shop):
        response = query(
            api_client,
            {"breakdown": "data.page.path", "date_range": RANGE, "order_by": "data.page.path"},
        )

        assert response.json()["rows"] == [
            {"data.page.path": "/a", "events": 3},
            {"data.page.path": None, "events": 11},
        ]

    def test_limit_sums_the_rest_as_other_with_exact_uniques(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": ["uniques", "events"],
                "breakdown": ["distinct_id"],
                "limit": 2,
                "date_range": RANGE,
            },
        )

        body = response.json()
        # One user per series (none for ""), ties by value; the rest: u3, u4 and "".
        assert body["rows"] == [
            {"distinct_id": "u1", "uniques": 1, "events": 6},
            {"distinct_id": "u2", "uniques": 1, "events": 2},
            {"distinct_id": "(other)", "uniques": 2, "events": 6},
        ]
        assert body["series"] == {"count": 5, "shown": 2, "other": 3}
        assert body["total"] == {"uniques": 4, "events": 14}

    def test_time_breakdown_fills_every_bucket(self, api_client, shop):
        response = query(
            api_client,
            {
                "breakdown": ["event", "time:day"],
                "date_range": {"start": "2024-01-02", "end": "2024-01-04"},
            },
        )

        assert response.json()["rows"] == [
            {"event": "purchase", "time:day": "2024-01-02", "events": 1},
            {"event": "purchase", "time:day": "2024-01-03", "events": 3},
            {"event": "purchase", "time:day": "2024-01-04", "events": 1},
            {"event": "view", "time:day": "2024-01-02", "events": 4},
            {"event": "view", "time:day": "2024-01-03", "events": 0},
            {"event": "view", "time:day": "2024-01-04", "events": 0},
        ]

    def test_time_breakdown_with_other_series(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": "uniques",
                "breakdown": ["distinct_id", "time:week"],
                "limit": 1,
                "date_range": {"start": "2024-01-01", "end": "2024-01-14"},
            },
        )

        assert response.json()["rows"] == [
            {"distinct_id": "u1", "time:week": "2024-01-01", "uniques": 1},
            {"distinct_id": "u1", "time:week": "2024-01-08", "uniques": 0},
            {"distinct_id": "(other)", "time:week": "2024-01-01", "uniques": 2},
            {"distinct_id": "(other)", "time:week": "2024-01-08", "uniques": 0},
        ]

    def test_uniques_by_series_and_time_over_a_range_without_logs(self, api_client, shop):
        response = query(
            api_client,
            {
                "metrics": ["uniques", "events_per_user"],
                "breakdown": ["event", "time:day"],
                "date_range": {"start": "2023-06-01", "end": "2023-06-02"},
                "compare": "previous_period",
            },
        )

        assert response.status_code == 200
        assert response.json()["rows"] == []
        assert response.json()["total"] == {"uniques": 0, "events_per_user": None}

    def test_hours_of_a_half_hour_zone(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="e")
        EventLogFactory(event=event, timestamp=at(1, 4, 29))  # 09:59 in Kolkata
        EventLogFactory(event=event, timestamp=at(1, 4, 30))  # 10:00

        response = query(
            api_client,
            {
                "breakdown": "time:hour",
                "tz": "Asia/Kolkata",
                "date_range": {"start": "2024-01-01T09:00", "end": "2024-01-01T11:00"},
            },
        )

        assert response.json()["rows"] == [
            {"time:hour": "2024-01-01T09:00:00+05:30", "events": 1},
            {"time:hour": "2024-01-01T10:00:00+05:30", "events": 1},
        ]


@pytest.mark.django_db
class TestFilters:
    @pytest.mark.parametrize(
        ("filters", "events"),
        [
            ([["eq", "data.plan", "pro"]], 6),
            ([["neq", "data.plan", "pro"]], 8),  # missing and null included
            ([["in", "data.plan", ["pro", "free"]]], 9),
            ([["not_in", "data.plan", ["pro", "free"]]], 5),
            ([["eq", "data.plan", None]], 5),  # missing or null
            ([["is_set", "data.plan"]], 9),
            ([["is_not_set", "data.plan"]], 5),
            ([["gt", "data.amount", 5.5]], 3),
            ([["gte", "data.amount", 5.5]], 4),
            ([["lt", "data.amount", 30]], 3),
            ([["lte", "data.amount", "n"]], 0),  # strings compare with strings only
            ([["gt", "data.amount", "m"]], 1),
            ([["contains", "data.plan", "r"]], 9),
            ([["not_contains", "data.plan", "r"]], 5),
            ([["contains", "data.plan", "R"]], 0),  # case-sensitive
            ([["eq", "event", "purchase"], ["eq", "distinct_id", "u1"]], 3),
            ([["or", ["eq", "event", "purchase"], ["eq", "distinct_id", "u1"]]], 8),
            ([["not", ["eq", "event", "purchase"]]], 9),
            (["eq", "event", "view"], 9),  # one filter, not in a list
            ([["is_set", "distinct_id"]], 10),
            ([["is_set", "event"]], 14),
            ([["is_not_set", "event"]], 0),  # every log has an event
            ([["not", ["contains", "event", "i"]]], 5),  # the purchases
            ([["eq", "data.amount", 10]], 2),
            ([["eq", "data.amount", "10"]], 0),
            ([["eq", "data.page", None]], 11),
        ],
    )
    def test_conditions(self, api_client, shop, filters, events):
        response = query(api_client, {"filters": filters, "date_range": RANGE})

        assert response.status_code == 200, response.json()
        assert response.json()["total"]["events"] == events

    def test_true_is_not_one(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="e")
        EventLogFactory(event=event, data={"flag": True})
        EventLogFactory(event=event, data={"flag": 1})

        for value, expected in ((True, 1), (1, 1), (False, 0)):
            response = query(
                api_client, {"filters": [["eq", "data.flag", value]], "date_range": "all"}
            )
            assert response.json()["total"]["events"] == expected, value

    def test_keys_that_look_like_numbers_are_keys(self, api_client, tenant):
        """`data.0` is the member "0" of an object on both databases, never an array's
        first element (SQLite's JSON path took "0" for one, and "-1" for an error)."""
        event = EventFactory(tenant=tenant, name="e")
        EventLogFactory(event=event, count=2, data={"0": "zero", "-1": 7, "10": {"1": "x"}})
        EventLogFactory(event=event, data={"list": ["zero"], "-1": "seven"})

        def answer(body: dict) -> dict:
            response = query(api_client, {"date_range": "all", **body})
            assert response.status_code == 200, response.json()
            return response.json()

        assert answer({"filters": [["eq", "data.0", "zero"]]})["total"]["events"] == 2
        assert answer({"filters": [["eq", "data.10.1", "x"]]})["total"]["events"] == 2
        assert answer({"filters": [["is_set", "data.list.0"]]})["total"]["events"] == 0
        assert answer({"metrics": ["sum:data.-1"]})["total"] == {"sum:data.-1": 14}
        assert answer({"breakdown": "data.-1", "order_by": "data.-1"})["rows"] == [
            {"data.-1": 7, "events": 2},
            {"data.-1": "seven", "events": 1},
        ]


@pytest.mark.django_db
class TestRanges:
    def test_presets_count_whole_local_days_up_to_today(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="e")
        now = dt.datetime.now(UTC)
        EventLogFactory(event=event, timestamp=now - dt.timedelta(minutes=1))
        EventLogFactory(event=event, timestamp=now - dt.timedelta(days=40))

        totals = {
            preset: query(api_client, {"date_range": preset, "tz": "UTC"}).json()["total"]["events"]
            for preset in ("today", "7d", "30d", "year", "all")
        }

        assert totals["today"] in (0, 1)  # 0 only in the first minute of a UTC day
        assert totals["7d"] == totals["30d"] == 1 or totals["today"] == 0
        assert totals["all"] == 2

    def test_compare_with_the_previous_period(self, api_client, shop):
        response = query(
            api_client,
            {
                "breakdown": "time:day",
                "date_range": {"start": "2024-01-04", "end": "2024-01-05"},
                "compare": "previous_period",
            },
        )

        previous = response.json()["previous"]
        assert previous["date_range"] == {
            "start": "2024-01-02T00:00:00+00:00",
            "end": "2024-01-04T00:00:00+00:00",
        }
        assert previous["rows"] == [
            {"time:day": "2024-01-02", "events": 5},
            {"time:day": "2024-01-03", "events": 3},
        ]
        assert response.json()["rows"] == [
            {"time:day": "2024-01-04", "events": 1},
            {"time:day": "2024-01-05", "events": 4},
        ]

    @pytest.mark.parametrize("uniques", [False, True])  # uniques: the user sets' path too
    def test_the_previous_period_shows_the_current_periods_series(self, api_client, shop, uniques):
        body = {
            "metrics": ["events", "uniques"] if uniques else ["events"],
            "breakdown": ["data.plan", "time:day"],
            "date_range": {"start": "2024-01-04", "end": "2024-01-05"},
            "compare": "previous_period",
            "limit": 1,
        }

        answer = query(api_client, body).json()

        # Jan 4-5: no plan 4 events, free 1: "no plan" shown, free the other. Jan 2-3
        # had only pro and free: ranked alone, pro would have been shown.
        current, previous = answer["rows"], answer["previous"]["rows"]
        assert [(row["data.plan"], row["time:day"]) for row in current] == [
            (None, "2024-01-04"),
            (None, "2024-01-05"),
            ("(other)", "2024-01-04"),
            ("(other)", "2024-01-05"),
        ]
        expected = [
            {"data.plan": None, "time:day": "2024-01-02", "events": 0, "uniques": 0},
            {"data.plan": None, "time:day": "2024-01-03", "events": 0, "uniques": 0},
            {"data.plan": "(other)", "time:day": "2024-01-02", "events": 5, "uniques": 2},
            {"data.plan": "(other)", "time:day": "2024-01-03", "events": 3, "uniques": 2},
        ]
        if not uniques:
            expected = [{k: v for k, v in row.items() if k != "uniques"} for row in expected]
        assert previous == expected
        assert answer["previous"]["series"] == {"count": 2, "shown": 1, "other": 2}

    @pytest.mark.parametrize("metric", ["events", "uniques"])
    def test_an_empty_previous_period_lists_the_series_with_zeros(self, api_client, shop, metric):
        body = {
            "metrics": [metric],
            "breakdown": ["event"],
            "date_range": {"start": "2024-01-02", "end": "2024-01-03"},
            "compare": "previous_period",
        }

        answer = query(api_client, body).json()

        assert [row["event"] for row in answer["rows"]] == ["purchase", "view"]
        assert answer["previous"]["rows"] == [
            {"event": "purchase", metric: 0},
            {"event": "view", metric: 0},
        ]
        assert answer["previous"]["series"] == {"count": 0, "shown": 2, "other": 0}

    @pytest.mark.parametrize(
        ("date_range", "tz", "path"),
        [
            # The local day of a bound lies before the year 1 or after 9999.
            ({"start": "0001-01-01T00:00:00+00:00"}, "Etc/GMT+12", "date_range.start"),
            ({"end": "9999-12-31T23:59:59+00:00"}, "Etc/GMT-14", "date_range.end"),
            ({"end": "9999-12-31T23:00:00+00:00"}, "Asia/Kolkata", "date_range.end"),
        ],
    )
    def test_bounds_whose_local_day_leaves_the_calendar_are_400s(
        self, api_client, date_range, tz, path
    ):
        for breakdown in ([], ["time:hour"], ["time:week"], ["time:month"]):
            body = {"date_range": date_range, "tz": tz, "breakdown": breakdown}

            response = query(api_client, body)

            assert response.status_code == 400, (breakdown, response.content)
            assert "out of the calendar's range" in response.json()[path][0]

    @pytest.mark.parametrize(
        ("date_range", "breakdown", "path"),
        [
            # The bucket after the last one begins in the year 10000.
            ({"start": "9999-12-01", "end": "9999-12-30"}, "time:week", "date_range.end"),
            ({"start": "9999-10-01", "end": "9999-12-30"}, "time:month", "date_range.end"),
            # The week of the 2nd began on the 1st, before the year 1 in UTC+14.
            ({"start": "0001-01-02", "end": "0001-01-20"}, "time:week", "date_range.start"),
        ],
    )
    def test_time_buckets_beyond_the_calendar_are_400s(
        self, api_client, shop, date_range, breakdown, path
    ):
        for metrics in (["events"], ["uniques"]):  # the user sets' path on PostgreSQL too
            body = {"date_range": date_range, "tz": "Etc/GMT-14", "breakdown": breakdown}

            response = query(api_client, {**body, "metrics": metrics})

            assert response.status_code == 400, response.content
            assert list(response.json()) == [path]

    @pytest.mark.parametrize(
        "date_range",
        [
            {"start": "0001-01-01", "end": "0001-01-03"},  # the first day: an open start
            {"start": "0001-01-02", "end": "0001-01-03"},
            {"start": "9999-12-29", "end": "9999-12-31"},  # the last day: an open end
            {"start": "0001-01-01T00:00:00+00:00", "end": "0001-01-02T00:00:00+00:00"},
        ],
    )
    def test_a_previous_period_before_the_calendar_is_a_400(self, api_client, date_range):
        body = {"date_range": date_range, "tz": "UTC", "compare": "previous_period"}

        response = query(api_client, body)

        assert response.status_code == 400, response.content
        assert list(response.json()) == ["compare"]

    def test_ranges_near_the_ends_of_the_calendar_still_answer(self, api_client, shop):
        for date_range, tz in (
            ({"start": "0001-01-02", "end": "0001-01-03"}, "Etc/GMT-14"),
            ({"start": "9999-12-01", "end": "9999-12-30"}, "Etc/GMT+12"),
            ({"start": "9999-12-31T00:00:00+00:00", "end": "9999-12-31T23:59:59+00:00"}, "UTC"),
        ):
            response = query(api_client, {"date_range": date_range, "tz": tz})

            assert response.status_code == 200, response.content
            assert response.json()["total"] == {"events": 0}


@pytest.mark.django_db
class TestFormats:
    def test_get_with_q_answers_the_same(self, api_client, shop):
        body = {"metrics": ["uniques"], "breakdown": ["event"], "date_range": RANGE}

        got = api_client.get("/api/query", {"q": json.dumps(body)})

        assert got.status_code == 200
        assert got.json()["rows"] == query(api_client, body).json()["rows"]
        assert got.json()["query"] == body

    def test_csv_is_streamed_with_a_header(self, api_client, shop):
        body = {"breakdown": ["data.page"], "date_range": RANGE, "compare": "previous_period"}

        response = query(api_client, body, format="csv")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert lines == [
            ["period", "data.page", "events"],
            ["current", "", "11"],
            ["current", '{"path":"/a"}', "3"],
            ["previous", "", "0"],
            ["previous", '{"path":"/a"}', "0"],
        ]  # December has no log: the current period's series, zeros

    def test_csv_says_its_charset(self, api_client, tenant):
        # text/csv without a charset means US-ASCII (RFC 2046): a client that follows the
        # header reads the UTF-8 bytes of a name like "café ✓" as mojibake.
        EventLogFactory(event=EventFactory(tenant=tenant, name="café ✓"), timestamp=at(2))

        for fmt in ("?format=csv", ".csv"):
            response = api_client.post(
                f"/api/query{fmt}", {"breakdown": ["event"], "date_range": RANGE}, format="json"
            )

            assert response.status_code == 200
            assert response["Content-Type"] == "text/csv; charset=utf-8"
            body = b"".join(response.streaming_content).decode("utf-8")
            assert body.splitlines() == ["event,events", "café ✓,1"]

    @pytest.mark.parametrize("breakdown", [["event", "time:day"], ["event"], []])
    def test_png(self, api_client, shop, breakdown):
        body = {"breakdown": breakdown, "date_range": RANGE}

        response = api_client.post("/api/query.png", body, format="json")

        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
        again = api_client.post(
            "/api/query?format=png", body, format="json", HTTP_IF_NONE_MATCH=response["ETag"]
        )
        assert again.status_code == 304


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ([], "query"),
            ({"metric": "events"}, "metric"),
            ({"metrics": ["count"]}, "metrics[0]"),
            ({"metrics": ["sum:event"]}, "metrics[0]"),
            ({"metrics": []}, "metrics"),
            ({"metrics": ["events", "events"]}, "metrics[1]"),
            ({"breakdown": ["time:year"]}, "breakdown[0]"),
            ({"breakdown": ["time:day", "time:hour"]}, "breakdown"),
            ({"breakdown": ["data."]}, "breakdown[0]"),
            ({"breakdown": ["data.a..b"]}, "breakdown[0]"),
            (
                {"filters": [["eq", "event", "x"], ["eq", "data.a", 1], ["eq", "plan", 1]]},
                "filters[2][1]",
            ),
            ({"filters": [["between", "event", "x"]]}, "filters[0][0]"),
            ({"filters": [["eq", "event"]]}, "filters[0]"),
            ({"filters": [["eq", "event", 1]]}, "filters[0][2]"),
            ({"filters": [["gt", "data.a", True]]}, "filters[0][2]"),
            ({"filters": [["gt", "data.a", None]]}, "filters[0][2]"),
            ({"filters": [["in", "data.a", []]]}, "filters[0][2]"),
            ({"filters": [["in", "data.a", [1, {"a": 1}]]]}, "filters[0][2][1]"),
            ({"filters": [["or", ["eq", "event", "x"], ["not"]]]}, "filters[0][2]"),
            (
                {
                    "filters": [
                        ["not"] * 1
                        + [
                            [
                                "not",
                                [
                                    "not",
                                    [
                                        "not",
                                        ["not", ["not", ["not", ["not", ["eq", "event", "x"]]]]],
                                    ],
                                ],
                            ]
                        ]
                    ]
                },
                "filters[0][1][1][1][1][1][1][1][1]",
            ),
            ({"date_range": "week"}, "date_range"),
            ({"date_range": "0d"}, "date_range"),
            ({"date_range": {"start": "2024-02-30"}}, "date_range.start"),
            ({"date_range": {"start": "2024-02-03", "end": "2024-02-01"}}, "date_range.end"),
            ({"date_range": {"from": "2024-02-03"}}, "date_range.from"),
            ({"date_range": {"start": "0001-01-01T00:00:00+05:00"}}, "date_range.start"),
            ({"date_range": "all", "compare": "previous_period"}, "compare"),
            ({"compare": "last_year"}, "compare"),
            ({"tz": "Mars/Olympus"}, "tz"),
            ({"tz": "localtime"}, "tz"),
            ({"tz": "Factory"}, "tz"),
            ({"order_by": ["-amount"]}, "order_by[0]"),
            ({"limit": 0}, "limit"),
            ({"limit": True}, "limit"),
            ({"breakdown": "time:hour", "date_range": "all"}, None),  # fine: no data
            ({"breakdown": "time:hour", "date_range": "3000d"}, "breakdown[0]"),
        ],
    )
    def test_bad_queries_name_their_part(self, api_client, shop, body, path):
        response = query(api_client, body)

        if path is None:
            assert response.status_code == 200
            return
        assert response.status_code == 400, response.json()
        assert list(response.json()) == [path]

    @pytest.mark.parametrize(
        "value", ["a\x00b", 2**70, float("inf")], ids=["nul", "huge", "infinite"]
    )
    def test_values_no_body_can_carry_are_refused_by_the_language_too(self, value):
        with pytest.raises(QueryError) as error:
            parse_query({"filters": [["eq", "data.a", value]]})

        assert error.value.path == "filters[0][2]"

    def test_malformed_q(self, api_client):
        assert list(api_client.get("/api/query", {"q": "{"}).json()) == ["q"]
        assert list(api_client.get("/api/query").json()) == ["q"]

    def test_malformed_body(self, api_client):
        response = api_client.post("/api/query", b"{", content_type="application/json")

        assert response.status_code == 400

    def test_errors_asked_as_csv_or_png_are_json(self, api_client):
        for fmt in ("csv", "png"):
            response = query(api_client, {"metrics": "nope"}, format=fmt)
            assert response.status_code == 400
            assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
class TestTenancy:
    def test_another_tenants_logs_are_never_counted(self, api_client, other_client, shop):
        body = {"metrics": ["events", "uniques"], "breakdown": ["event"], "date_range": "all"}

        assert other_client.post("/api/query", body, format="json").json()["rows"] == []
        assert query(api_client, body).json()["total"] == {"events": 14, "uniques": 4}

    def test_keys_and_roles(self, key_client, anon_client):
        assert anon_client.post("/api/query", {}, format="json").status_code == 401
        for role in ("read", "admin"):
            assert key_client(role).post("/api/query", {}, format="json").status_code == 200
        assert key_client("ingest").post("/api/query", {}, format="json").status_code == 403


THOUSAND = [f"v{n}" for n in range(997)]


@pytest.mark.django_db
class TestLongLists:
    """`in` and `not_in` take up to 1000 values: one IN (…) per JSON type, never an OR
    1000 deep (SQLite refused it: "Expression tree is too large")."""

    @pytest.mark.parametrize(
        ("filters", "events"),
        [
            ([["in", "data.plan", [*THOUSAND, "pro", None, 30]]], 11),
            ([["not_in", "data.plan", [*THOUSAND, "pro", None, 30]]], 3),
            ([["in", "data.amount", [*range(996), 5.5, True, "n/a", 30]]], 5),
            ([["in", "event", [*THOUSAND, "purchase", "nope", "view"]]], 14),
            ([["not_in", "event", [*THOUSAND, "purchase", "nope", "x"]]], 9),
            ([["in", "distinct_id", [*THOUSAND, "u1", "", "u9"]]], 10),
        ],
    )
    def test_a_thousand_values(self, api_client, shop, filters, events):
        for metrics in (["events"], ["uniques", "events"]):  # uniques: the user sets' path
            body = {"filters": filters, "date_range": RANGE, "metrics": metrics}

            response = query(api_client, body)

            assert response.status_code == 200, response.json()
            assert response.json()["total"]["events"] == events

    def test_funnel_and_retention_filters_too(self, api_client, shop):
        step = {"event": "purchase", "filters": [["in", "data.plan", [*THOUSAND, "pro"]]]}
        funnel = {"steps": [step, step], "window": "30d", "date_range": RANGE}
        cohort = {"event": "view", "filters": [["not_in", "distinct_id", THOUSAND]]}
        retention = {"cohort": cohort, "period": "day", "periods": 1, "date_range": RANGE}

        funnels = api_client.post("/api/funnels", funnel, format="json")
        returns = api_client.post("/api/retention", retention, format="json")

        assert funnels.status_code == 200, funnels.json()
        assert [step["users"] for step in funnels.json()["steps"]] == [1, 1]
        assert returns.status_code == 200, returns.json()

    def test_at_most_5000_values_in_all_lists(self, api_client, shop):
        full = [*THOUSAND, "a", "b", "c"]
        lists = [["not_in", "data.plan", full] for _ in range(5)]
        step = {"event": "purchase", "filters": [["not_in", "data.plan", full]]}
        cohort = {"event": "view", "filters": lists}

        fine = query(api_client, {"filters": lists, "date_range": RANGE})
        over = query(api_client, {"filters": [*lists, ["in", "event", ["view"]]]})
        funnel = api_client.post("/api/funnels", {"steps": [step] * 6}, format="json")
        retention = api_client.post(
            "/api/retention", {"cohort": cohort, "return": cohort}, format="json"
        )

        assert fine.status_code == 200, fine.json()
        message = ["At most 5000 values in the in/not_in lists of all filters."]
        assert over.status_code == 400
        assert over.json() == {"filters[5][2]": message}
        assert funnel.json() == {"steps[5].filters[0][2]": message}
        assert retention.json() == {"return.filters[0][2]": message}
