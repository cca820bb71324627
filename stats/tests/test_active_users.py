"""/api/stats/active_users: rolling DAU / WAU / MAU and stickiness, exact."""

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from events.models import EventLog
from events.services import event_logs_delete
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.property import examples, fresh_tenant
from events.usersets import build_user_sets, tenant_sets
from stats.active_users import active_users
from stats.tests.recount import (
    START,
    assert_rows_equal_a_recount,
    built_then_changed,
    ingest_at_minutes,
    user_minutes,
)

UTC = dt.UTC


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, tzinfo=UTC)


@pytest.mark.django_db
class TestActiveUsersApi:
    def test_rolling_windows_and_stickiness(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="open")
        for user, day in [("a", 1), ("a", 2), ("b", 1), ("a", 9), ("c", 9), ("", 9)]:
            EventLogFactory(event=event, distinct_id=user, timestamp=at(day))

        response = api_client.get(
            "/api/stats/active_users",
            {"start_date": "2024-01-01", "end_date": "2024-01-09", "window": 7, "tz": "UTC"},
        )

        assert response.status_code == 200, response.json()
        rows = {row["date"]: row for row in response.json()}
        assert list(rows) == [f"2024-01-0{day}" for day in range(1, 10)]
        assert rows["2024-01-01"] == {
            "date": "2024-01-01",
            "active_users": 2,
            "dau": 2,
            "wau": 2,
            "mau": 2,
            "stickiness": 1.0,
        }
        # On the 8th the 1st has left the 7 days: only a (the 2nd) is left.
        weekly = [rows[f"2024-01-0{d}"]["active_users"] for d in range(1, 10)]
        assert weekly == [2, 2, 2, 2, 2, 2, 2, 1, 2]
        assert rows["2024-01-09"]["dau"] == 2
        assert rows["2024-01-09"]["mau"] == 3
        assert rows["2024-01-09"]["stickiness"] == round(2 / 3, 4)
        assert rows["2024-01-05"]["dau"] == 0

    def test_days_stop_at_today(self, api_client, tenant):
        """Like the other per-day routes: the days to come are not listed as zeros, unless
        users were active on one (a future timestamp)."""
        event = EventFactory(tenant=tenant, name="open")
        now = dt.datetime.now(UTC)
        today = now.date()
        EventLogFactory(event=event, distinct_id="a", timestamp=now - dt.timedelta(days=1))
        asked = {"start_date": str(today - dt.timedelta(days=1)), "tz": "UTC", "window": 7}

        rows = api_client.get(
            "/api/stats/active_users", {**asked, "end_date": str(today + dt.timedelta(days=2))}
        ).json()
        EventLogFactory(event=event, distinct_id="b", timestamp=now + dt.timedelta(days=2))
        later = api_client.get(
            "/api/stats/active_users", {**asked, "end_date": str(today + dt.timedelta(days=5))}
        ).json()

        assert [row["date"] for row in rows] == [str(today - dt.timedelta(days=1)), str(today)]
        assert [row["wau"] for row in rows] == [1, 1]
        assert [row["date"] for row in later][-1] == str(today + dt.timedelta(days=2))
        assert len(later) == 4

    def test_days_begin_in_the_zone_asked(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="open")
        EventLogFactory(event=event, distinct_id="a", timestamp=at(1, 20))  # the 2nd in Kolkata

        rows = api_client.get(
            "/api/stats/active_users",
            {"start_date": "2024-01-01", "end_date": "2024-01-02", "tz": "Asia/Kolkata"},
        ).json()

        assert [row["dau"] for row in rows] == [0, 1]

    def test_event_name_open_range_png_and_errors(self, api_client, tenant):
        event = EventFactory(tenant=tenant, name="open")
        EventLogFactory(event=event, distinct_id="a", timestamp=at(3))
        EventLogFactory(event=EventFactory(tenant=tenant, name="other"), distinct_id="b")

        rows = api_client.get("/api/stats/active_users", {"event_name": "open"}).json()
        assert rows == [
            {
                "date": "2024-01-03",
                "active_users": 1,
                "dau": 1,
                "wau": 1,
                "mau": 1,
                "stickiness": 1.0,
            }
        ]
        png = api_client.get("/api/stats/active_users.png", {"start_date": "2024-01-01"})
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")
        missing = api_client.get("/api/stats/active_users", {"event_name": "nope"})
        assert missing.status_code == 404
        for bad in ({"window": 0}, {"window": 91}, {"interval": "week"}, {"tz": "Nowhere"}):
            response = api_client.get("/api/stats/active_users", bad)
            assert response.status_code == 400
            assert list(response.json()) == list(bad)

    @pytest.mark.parametrize("path", ["/api/stats/active_users", "/api/stats/active_users.png"])
    @pytest.mark.parametrize("tz", ["UTC", "Etc/GMT-14", "Etc/GMT+12"])
    @pytest.mark.parametrize(
        ("start", "end", "field"),
        [
            # The first day's monthly window reaches 29 days before it: before the year 1.
            ("0001-01-02", "0001-01-03", "start_date"),
            ("0001-01-01", "0001-01-01", "start_date"),
            # The day after the last one is read as well.
            ("9999-12-30", "9999-12-31", "end_date"),
        ],
    )
    def test_windows_beyond_the_calendar_are_a_400(
        self, api_client, tenant, path, tz, start, end, field
    ):
        response = api_client.get(path, {"start_date": start, "end_date": end, "tz": tz})

        assert response.status_code == 400, response.content
        assert "out of the calendar's range" in response.json()[field][0]

    def test_windows_that_fit_the_calendar_answer(self, api_client, tenant):
        query = {"start_date": "0001-01-31", "end_date": "0001-01-31", "window": 30, "tz": "UTC"}

        response = api_client.get("/api/stats/active_users", query)

        assert response.status_code == 200, response.content
        assert [row["mau"] for row in response.json()] == [0]

    def test_another_tenants_users_are_not_counted(self, api_client, other_client, tenant):
        EventLogFactory(event=EventFactory(tenant=tenant), distinct_id="a", timestamp=at(3))

        query = {"start_date": "2024-01-03", "end_date": "2024-01-03"}
        assert other_client.get("/api/stats/active_users", query).json()[0]["dau"] == 0
        assert api_client.get("/api/stats/active_users", query).json()[0]["dau"] == 1


class ActiveUsersEqualRecountTests(TestCase):
    @examples(60)
    @given(
        logs=user_minutes(days=70, max_size=40),
        erase=st.none() | st.sampled_from(["u1", "u2"]),
        zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"]),
        window=st.integers(1, 40),
        first=st.integers(0, 60),
        days=st.integers(0, 20),
    )
    def test_every_window_equals_a_recount(self, logs, erase, zone, window, first, days):
        note(repr((logs, erase, zone, window, first, days)))
        tenant = fresh_tenant()
        ingest_at_minutes(tenant, logs)
        if erase is not None:
            event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id=erase))
        tz = ZoneInfo(zone)
        start = (START + dt.timedelta(days=first)).date()
        end = start + dt.timedelta(days=days)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)

        rows = active_users(logs=logs_of_tenant, start=start, end=end, tz=tz, window=window)

        assert_rows_equal_a_recount(
            rows, logs_of_tenant, tz=tz, start=start, days=days, window=window
        )


@pytest.mark.postgres
class ActiveUsersFromUserSetsEqualRecountTests(TestCase):
    """Exact answers from the hourly user sets (events.usersets) equal a recount,
    whatever was built, then changed late, folded or erased, in zones whose midnight
    cuts an hour too."""

    @examples(50)
    @given(
        logs=user_minutes(days=40, max_size=40, events=("e", "f")),
        late=user_minutes(days=40, users=("u5", "u1"), events=("e", "f")),
        fold_late=st.booleans(),
        erase=st.none() | st.sampled_from(["u1", "u2"]),
        zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]),
        window=st.integers(1, 40),
        first=st.integers(0, 35),
        days=st.integers(0, 10),
        event_name=st.none() | st.sampled_from(["e", "f", "x"]),
    )
    def test_every_window_equals_a_recount(
        self, logs, late, fold_late, erase, zone, window, first, days, event_name
    ):
        note(repr((logs, late, fold_late, erase, zone, window, first, days, event_name)))
        tenant = fresh_tenant()
        built_then_changed(
            tenant,
            logs,
            late,
            build=lambda: build_user_sets(now=START + dt.timedelta(days=400)),
            fold_late=fold_late,
            erase=erase,
        )
        tz = ZoneInfo(zone)
        start = (START + dt.timedelta(days=first)).date()
        end = start + dt.timedelta(days=days)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)
        sets = tenant_sets(lambda rows: rows.filter(tenant=tenant))

        with mock.patch("stats.active_users._from_rows") as from_rows:
            rows = active_users(
                logs=logs_of_tenant,
                start=start,
                end=end,
                tz=tz,
                window=window,
                event_name=event_name,
                sets=sets,
            )

        from_rows.assert_not_called()  # the sets answered (with the rows of the other hours)
        if event_name is not None:
            logs_of_tenant = logs_of_tenant.filter(event__name=event_name)
        assert_rows_equal_a_recount(
            rows, logs_of_tenant, tz=tz, start=start, days=days, window=window
        )
