"""/api/retention: cohorts by first or any occurrence, returns per period, the triangle,
formats, errors; and a recount in Python over the raw rows."""

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from events.models import EventLog
from events.services import event_logs_delete, event_logs_ingest
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.property import examples, fresh_tenant
from events.validation import EventInput
from insights.engine import resolve_window
from insights.retention import parse_retention, run_retention

UTC = dt.UTC


def at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=UTC)


@pytest.fixture
def app(tenant):
    signup = EventFactory(tenant=tenant, name="signup")
    use = EventFactory(tenant=tenant, name="use")
    rows = [
        ("a", signup, at(1, 1)),  # week of Jan 1 (a Monday)
        ("a", use, at(1, 9)),  # +1 week
        ("a", use, at(1, 22)),  # +3 weeks
        ("b", signup, at(1, 3)),
        ("b", use, at(1, 4)),  # same week: period 0
        ("b", use, at(1, 10)),  # +1
        ("c", signup, at(1, 8)),  # week of Jan 8
        ("c", use, at(1, 16)),  # +1
        ("d", signup, at(1, 10)),
        ("d", signup, at(1, 1, 1)),  # d's first signup: week of Jan 1
    ]
    for user, event, when in rows:
        EventLogFactory(event=event, distinct_id=user, timestamp=when)


BODY = {
    "cohort": {"event": "signup"},
    "return": {"event": "use"},
    "period": "week",
    "periods": 3,
    "date_range": {"start": "2024-01-01", "end": "2024-01-14"},
    "tz": "UTC",
}


def retention(client, body: dict, suffix: str = ""):
    return client.post(f"/api/retention{suffix}", body, format="json")


@pytest.mark.django_db
class TestRetentionApi:
    def test_first_occurrence_cohorts_by_week(self, api_client, app):
        response = retention(api_client, BODY)

        assert response.status_code == 200, response.json()
        cohorts = response.json()["cohorts"]
        assert [(row["cohort"], row["users"], row["values"]) for row in cohorts] == [
            ("2024-01-01", 3, [3, 2, 0, 1]),  # a, b, d; a and b in +1; a in +3
            ("2024-01-08", 1, [1, 1, 0, 0]),  # c (d's first signup was the week before)
        ]
        assert cohorts[0]["shares"] == [1.0, round(2 / 3, 4), 0.0, round(1 / 3, 4)]
        assert response.json()["average"]["values"] == [4, 3, 0, 1]

    def test_any_occurrence_and_any_return(self, api_client, app):
        body = {**BODY, "cohort": {"event": "signup", "type": "any"}, "return": None}

        cohorts = retention(api_client, body).json()["cohorts"]

        # d signed up in both weeks; a return is any event, the signups included.
        assert [(row["cohort"], row["values"]) for row in cohorts] == [
            ("2024-01-01", [3, 3, 0, 1]),  # a, b and d (its signup of the 10th) in +1
            ("2024-01-08", [2, 1, 0, 0]),  # c and d; c in +1
        ]

    def test_periods_to_come_are_left_out(self, api_client, tenant):
        today = dt.datetime.now(UTC)
        EventLogFactory(
            event=EventFactory(tenant=tenant, name="signup"), distinct_id="x", timestamp=today
        )
        body = {**BODY, "period": "day", "date_range": "today"}

        cohorts = retention(api_client, body).json()["cohorts"]

        assert [row["values"] for row in cohorts] == [[1]]

    def test_csv_png_get(self, api_client, app):
        text = b"".join(retention(api_client, BODY, "?format=csv").streaming_content).decode()
        assert list(csv.reader(io.StringIO(text))) == [
            ["cohort", "users", "period_0", "period_1", "period_2", "period_3"],
            ["2024-01-01", "3", "3", "2", "0", "1"],
            ["2024-01-08", "1", "1", "1", "0", "0"],
        ]
        png = retention(api_client, BODY, ".png")
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")
        got = api_client.get("/api/retention", {"q": json.dumps(BODY)})
        assert got.json()["cohorts"][0]["values"] == [3, 2, 0, 1]

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({}, "cohort"),
            ({"cohort": {}}, "cohort.event"),
            ({"cohort": {"event": "a", "type": "last"}}, "cohort.type"),
            ({"cohort": "a", "return": {"event": 3}}, "return.event"),
            ({"cohort": "a", "return": {"event": "b", "when": 1}}, "return.when"),
            ({"cohort": "a", "return": 5}, "return"),
            ({"cohort": "a", "period": "year"}, "period"),
            ({"cohort": "a", "periods": 53}, "periods"),
            ({"cohort": "a", "periods": 0}, "periods"),
            ({"cohort": {"event": "a", "filters": [["eq", "data.x"]]}}, "cohort.filters[0]"),
            ({"cohort": "a", "tz": "Atlantis"}, "tz"),
            (
                {
                    "cohort": "a",
                    "date_range": {"start": "1970-01-01", "end": "2099-01-01"},
                    "period": "day",
                },
                "date_range",
            ),
            ({"cohort": "a", "extra": 1}, "extra"),
        ],
    )
    def test_bad_queries_name_their_part(self, api_client, body, path):
        response = retention(api_client, body)

        assert response.status_code == 400
        assert list(response.json()) == [path]

    @pytest.mark.parametrize(
        ("date_range", "period", "side"),
        [
            # The week of the 2nd began on Monday the 1st, before the year 1 in UTC+14.
            ({"start": "0001-01-02", "end": "0001-01-03"}, "week", "start"),
            ({"start": "0001-01-01T00:00:00+00:00", "end": "0001-01-02T00:00:00Z"}, "day", "start"),
            ({"start": "0001-01-20", "end": "0001-02-03"}, "month", "start"),
        ],
    )
    def test_periods_beyond_the_calendar_are_a_400(self, api_client, date_range, period, side):
        # (Cohorts to come are never listed: returns are read at most `periods` past now.)
        body = {"cohort": "signup", "date_range": date_range, "period": period, "tz": "Etc/GMT-14"}

        response = retention(api_client, body)

        assert response.status_code == 400, response.content
        assert "out of the calendar's range" in response.json()[f"date_range.{side}"][0]

    def test_another_tenants_users_are_never_counted(self, other_client, app):
        cohorts = retention(other_client, BODY).json()["cohorts"]

        assert [row["users"] for row in cohorts] == [0, 0]


START = dt.datetime(2024, 3, 18, tzinfo=UTC)  # a Monday; Europe's DST begins on the 31st
NOW = START + dt.timedelta(days=40)


class RetentionEqualsRecountTests(TestCase):
    @examples(60)
    @given(
        logs=st.lists(
            st.tuples(
                st.sampled_from(["u1", "u2", "u3", "u4", ""]),
                st.sampled_from(["a", "b"]),
                st.integers(0, 40 * 24 - 1),  # hours
            ),
            max_size=30,
        ),
        first=st.booleans(),
        any_return=st.booleans(),
        period=st.sampled_from(["day", "week", "month"]),
        zone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]),
        first_day=st.integers(0, 20),
        days=st.integers(0, 14),
        erase=st.booleans(),
    )
    def test_every_cell_equals_a_recount(
        self, logs, first, any_return, period, zone, first_day, days, erase
    ):
        note(repr((logs, first, any_return, period, zone, first_day, days, erase)))
        tenant = fresh_tenant()
        items = [
            EventInput(name, distinct_id=user, timestamp=START + dt.timedelta(hours=hours))
            for user, name, hours in logs
        ]
        event_logs_ingest(tenant=tenant, items=items, created_by=None, now=NOW)
        if erase:
            event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id="u1"))
        start = (START + dt.timedelta(days=first_day)).date()
        raw = {
            "cohort": {"event": "a", "type": "first" if first else "any"},
            "return": {"event": None if any_return else "b"},
            "period": period,
            "periods": 4,
            "date_range": {"start": str(start), "end": str(start + dt.timedelta(days=days))},
            "tz": zone,
        }
        parsed = parse_retention(raw)
        tz = ZoneInfo(zone)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)

        answer = run_retention(parsed, logs=logs_of_tenant, tz=tz, now=NOW)

        window = resolve_window(parsed.date_range, tz, NOW)
        rows = [
            (user, name, stamp)
            for user, name, stamp in logs_of_tenant.values_list(
                "distinct_id", "event__name", "timestamp"
            )
            if user
        ]
        recount = Recount(rows, period, tz)
        cohorts = recount.cohorts(first=first, lower=window.lower, upper=window.upper)
        returned = {
            (user, recount.index(stamp)) for user, name, stamp in rows if any_return or name == "b"
        }
        today = recount.index(NOW)
        got = {row["cohort"]: row for row in answer["cohorts"]}
        assert {key for key, row in got.items() if row["users"]} == {
            recount.day(start).isoformat() for start, members in cohorts.items() if members
        }
        for start, members in cohorts.items():
            row = got[recount.day(start).isoformat()]
            expected = [len(members)] + [
                sum(1 for user in members if (user, start + k) in returned)
                for k in range(1, 5)
                if start + k <= today
            ]
            assert row["values"] == expected, (start, row, expected)


class Recount:
    """Periods numbered in a zone, and the cohorts of the raw rows."""

    MONDAY = dt.date(2000, 1, 3)

    def __init__(self, rows: list, period: str, tz: ZoneInfo) -> None:
        self.rows, self.period, self.tz = rows, period, tz

    def index(self, stamp: dt.datetime) -> int:
        day = stamp.astimezone(self.tz).date()
        if self.period == "month":
            return day.year * 12 + day.month - 1
        return (day - self.MONDAY).days // (7 if self.period == "week" else 1)

    def day(self, index: int) -> dt.date:
        """The first day of the period numbered `index`."""
        if self.period == "month":
            return dt.date(index // 12, index % 12 + 1, 1)
        return self.MONDAY + dt.timedelta(days=index * (7 if self.period == "week" else 1))

    def cohorts(self, *, first: bool, lower, upper) -> dict[int, set[str]]:
        cohorts: dict[int, set[str]] = defaultdict(set)
        entries = [(user, stamp) for user, name, stamp in self.rows if name == "a"]
        if first:
            firsts: dict[str, dt.datetime] = {}
            for user, stamp in entries:
                firsts[user] = min(stamp, firsts.get(user, stamp))
            entries = list(firsts.items())
        for user, stamp in entries:
            if lower <= stamp < upper:
                cohorts[self.index(stamp)].add(user)
        return cohorts
