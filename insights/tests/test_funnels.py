"""/api/funnels: steps in order within a window, strict and any order, times to convert,
the users who dropped off, breakdowns, formats, errors; and a brute-force recount."""

import csv
import datetime as dt
import io
import itertools
import json
import statistics
from urllib.parse import urlsplit

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
from insights.funnels import parse_funnel, run_funnel

UTC = dt.UTC
RANGE = {"start": "2024-01-01", "end": "2024-01-31"}


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(tenant):
    events = {name: EventFactory(tenant=tenant, name=name) for name in ("view", "cart", "buy")}
    journeys = {
        "u1": [("view", at(2, 10)), ("cart", at(2, 11)), ("buy", at(2, 13))],  # all three
        "u2": [("view", at(3, 10)), ("buy", at(3, 11)), ("cart", at(3, 12))],  # buy first
        "u3": [("view", at(4, 10)), ("cart", at(20, 10)), ("buy", at(20, 11))],  # too late
        "u4": [("cart", at(5, 9)), ("view", at(5, 10))],  # cart before view
        "u5": [("view", at(6, 10)), ("view", at(6, 11)), ("cart", at(6, 12))],
    }
    for user, steps in journeys.items():
        for name, when in steps:
            EventLogFactory(
                event=events[name], distinct_id=user, timestamp=when, data={"plan": user[-1]}
            )
    return events


def funnel(client, body: dict, suffix: str = ""):
    return client.post(f"/api/funnels{suffix}", body, format="json")


BODY = {"steps": ["view", "cart", "buy"], "window": "7d", "date_range": RANGE, "tz": "UTC"}


@pytest.mark.django_db
class TestFunnelApi:
    def test_ordered_steps_within_the_window(self, api_client, shop):
        response = funnel(api_client, BODY)

        assert response.status_code == 200, response.json()
        steps = response.json()["steps"]
        assert [step["users"] for step in steps] == [5, 3, 1]  # u1, u2, u5 reach cart
        assert steps[1]["conversion_from_first"] == 0.6
        assert steps[2]["conversion_from_previous"] == round(1 / 3, 4)
        assert [step["dropped"] for step in steps] == [0, 2, 2]
        # view → cart: u1 1 h, u2 2 h, u5 2 h (its first view: the earliest attempt of
        # those that go as far); cart → buy: u1 2 h.
        assert steps[1]["median_seconds"] == 7200
        assert steps[1]["p90_seconds"] == 7200
        assert steps[2]["median_seconds"] == 7200
        assert steps[0]["median_seconds"] is None

    def test_a_longer_window_lets_late_steps_count(self, api_client, shop):
        steps = funnel(api_client, {**BODY, "window": "30d"}).json()["steps"]

        assert [step["users"] for step in steps] == [5, 4, 2]

    def test_strict_order_allows_nothing_between(self, api_client, shop):
        steps = funnel(api_client, {**BODY, "order": "strict"}).json()["steps"]

        # u5's second view is right before its cart: that attempt counts.
        assert [step["users"] for step in steps] == [5, 2, 1]

    def test_any_order(self, api_client, shop):
        steps = funnel(api_client, {**BODY, "order": "any"}).json()["steps"]

        # u2 has all three in any order, u4's cart then view counts as two, and u3 enters
        # with its cart on the 20th (any step's event is an entry), then buys.
        assert [step["users"] for step in steps] == [5, 5, 2]
        assert steps[2]["event"] == "3 of 3"

    def test_any_order_counts_the_most_steps_the_events_can_cover(self, api_client, tenant):
        # The first event matches both steps, the second only the first: together they
        # cover both, the first event counting for the second step.
        event = EventFactory(tenant=tenant, name="click")
        EventLogFactory(event=event, distinct_id="u", timestamp=at(2, 10), data={"x": 1})
        EventLogFactory(event=event, distinct_id="u", timestamp=at(2, 11), data={"x": 0})
        body = {
            **BODY,
            "steps": ["click", {"event": "click", "filters": [["eq", "data.x", 1]]}],
            "order": "any",
        }

        steps = funnel(api_client, body).json()["steps"]

        assert [step["users"] for step in steps] == [1, 1]
        assert steps[1]["median_seconds"] == 3600

    def test_step_filters_and_breakdown(self, api_client, shop):
        body = {
            **BODY,
            "steps": [{"event": "view", "filters": [["neq", "data.plan", "4"]]}, "cart"],
            "breakdown": "data.plan",
        }

        answer = funnel(api_client, body).json()

        assert [step["users"] for step in answer["steps"]] == [4, 3]
        values = {row["value"]: [s["users"] for s in row["steps"]] for row in answer["breakdown"]}
        assert values == {"1": [1, 1], "2": [1, 1], "3": [1, 0], "5": [1, 1]}

    def test_dropped_users_link_lists_them(self, api_client, shop):
        steps = funnel(api_client, BODY).json()["steps"]

        link = urlsplit(steps[1]["dropped_users"])
        assert link.path == "/api/funnels/users"
        dropped = api_client.get(f"{link.path}?{link.query}")
        assert dropped.status_code == 200
        assert dropped.json() == [{"distinct_id": "u3"}, {"distinct_id": "u4"}]
        converted = api_client.get(f"{link.path}?{link.query}&status=converted&limit=2")
        assert converted.json() == [{"distinct_id": "u1"}, {"distinct_id": "u2"}]
        assert converted["X-Total-Count"] == "3"

    def test_each_breakdown_value_links_its_own_dropped_users(self, api_client, tenant):
        view, buy = (EventFactory(tenant=tenant, name=name) for name in ("view", "buy"))
        plans = {"a": 1, "b": 1, "c": True, "d": "1", "e": 1.5, "f": 1.5}
        for user, plan in plans.items():
            EventLogFactory(event=view, distinct_id=user, timestamp=at(2), data={"plan": plan})
        EventLogFactory(event=buy, distinct_id="b", timestamp=at(2, 13))
        body = {**BODY, "steps": ["view", "buy"], "breakdown": "data.plan", "limit": 3}

        rows = funnel(api_client, body).json()["breakdown"]

        def listed(row) -> list[str]:
            link = urlsplit(row["steps"][1]["dropped_users"])
            return [
                user["distinct_id"] for user in api_client.get(f"{link.path}?{link.query}").json()
            ]

        by_value = {json.dumps(row["value"]): row for row in rows}
        assert list(by_value) == ["1", "1.5", '"1"', '"(other)"']  # 2, 2, then ties by text
        assert listed(by_value["1"]) == ["a"]  # b converted; c's `true` is not 1
        assert listed(by_value["1.5"]) == ["e", "f"]
        assert listed(by_value['"1"']) == ["d"]
        assert "dropped_users" not in by_value['"(other)"']["steps"][1]  # several values

    def test_a_value_too_long_for_a_link_has_none(self, api_client, tenant):
        view = EventFactory(tenant=tenant, name="view")
        EventFactory(tenant=tenant, name="buy")
        for user, plan in (("a", "x" * 198), ("b", "y" * 300)):  # 200 and 302 as JSON
            EventLogFactory(event=view, distinct_id=user, timestamp=at(2), data={"plan": plan})
        body = {**BODY, "steps": ["view", "buy"], "breakdown": "data.plan"}

        rows = funnel(api_client, body).json()["breakdown"]

        linked = {row["value"][0]: "dropped_users" in row["steps"][1] for row in rows}
        assert linked == {"x": True, "y": False}

    def test_csv_png_and_get(self, api_client, shop):
        lines = list(
            csv.reader(
                io.StringIO(
                    b"".join(funnel(api_client, BODY, "?format=csv").streaming_content).decode()
                )
            )
        )
        assert lines[0][:3] == ["step", "event", "users"]
        assert [line[2] for line in lines[1:]] == ["5", "3", "1"]
        png = funnel(api_client, BODY, ".png")
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")
        got = api_client.get("/api/funnels", {"q": json.dumps(BODY)})
        assert [s["users"] for s in got.json()["steps"]] == [5, 3, 1]

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"steps": ["view"]}, "steps"),
            ({"steps": ["a"] * 21}, "steps"),
            ({"steps": ["view", 3]}, "steps[1]"),
            ({"steps": ["view", {"event": ""}]}, "steps[1].event"),
            ({"steps": ["view", {"event": "a", "when": 1}]}, "steps[1].when"),
            (
                {"steps": ["view", {"event": "a", "filters": [["eq", "x", 1]]}]},
                "steps[1].filters[0][1]",
            ),
            ({"steps": ["view", "cart"], "window": "0m"}, "window"),
            ({"steps": ["view", "cart"], "window": "91d"}, "window"),
            ({"steps": ["view", "cart"], "window": "2w"}, "window"),
            ({"steps": ["view", "cart"], "order": "loose"}, "order"),
            ({"steps": ["view", "cart"], "breakdown": "plan"}, "breakdown"),
            ({"steps": ["view", "cart"], "date_range": "forever"}, "date_range"),
            ({"steps": ["view", "cart"], "colour": "red"}, "colour"),
        ],
    )
    def test_bad_funnels_name_their_part(self, api_client, body, path):
        response = funnel(api_client, body)

        assert response.status_code == 400
        assert list(response.json()) == [path]

    def test_bad_user_lists(self, api_client):
        q = json.dumps(BODY)
        assert list(api_client.get("/api/funnels/users", {"q": q, "step": 4}).json()) == ["step"]
        assert list(api_client.get("/api/funnels/users", {"q": q, "step": 1}).json()) == ["step"]
        assert list(api_client.get("/api/funnels/users", {"step": 2}).json()) == ["q"]
        no_breakdown = {"q": q, "step": 2, "value": "1"}
        assert list(api_client.get("/api/funnels/users", no_breakdown).json()) == ["value"]
        for value in ("{", "[" * 5000):
            bad = {"q": json.dumps({**BODY, "breakdown": "data.plan"}), "step": 2, "value": value}
            response = api_client.get("/api/funnels/users", bad)
            assert response.status_code == 400
            assert list(response.json()) == ["value"]

    @pytest.mark.parametrize(
        "date_range",
        [
            {"start": "9999-12-01", "end": "9999-12-30"},
            {"start": "9999-12-31T00:00:00+00:00", "end": "9999-12-31T23:59:59+00:00"},
        ],
    )
    def test_a_window_past_the_calendars_end_is_a_400(self, api_client, date_range):
        # The steps after an entry are read up to `window` past the range's end.
        body = {"steps": ["view", "buy"], "date_range": date_range, "tz": "UTC"}

        answers = [
            funnel(api_client, body),
            api_client.get("/api/funnels/users", {"q": json.dumps(body), "step": 2}),
        ]

        for response in answers:
            assert response.status_code == 400, response.content
            assert "out of the calendar's range" in response.json()["date_range.end"][0]

    def test_a_window_that_fits_before_the_calendars_end_answers(self, api_client, shop):
        body = {**BODY, "window": "1d", "date_range": {"start": "9999-12-01", "end": "9999-12-29"}}

        assert [step["users"] for step in funnel(api_client, body).json()["steps"]] == [0, 0, 0]

    @pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
    def test_a_breakdown_value_is_a_finite_json_value(self, api_client, shop, value):
        q = json.dumps({**BODY, "breakdown": "data.plan"})

        response = api_client.get("/api/funnels/users", {"q": q, "step": 2, "value": value})

        assert response.status_code == 400
        assert list(response.json()) == ["value"]

    def test_another_tenants_users_are_never_seen(self, other_client, shop):
        assert [s["users"] for s in funnel(other_client, BODY).json()["steps"]] == [0, 0, 0]
        q = json.dumps(BODY)
        response = other_client.get("/api/funnels/users", {"q": q, "step": 2})
        assert response.json() == []


# -- the property: the answer equals a brute-force search over each user's events -------

START = dt.datetime(2024, 3, 30, tzinfo=UTC)
NOW = START + dt.timedelta(days=30)


def brute_journey(stream, steps, order, window, lower, upper):
    """(depth, instants) of the furthest attempt, the earliest start among equals, found
    by trying every sequence of events."""
    best = (0, [])
    for start, first in enumerate(stream):
        if not (lower <= first[0] < upper) or not (
            any(first[1]) if order == "any" else first[1][0]
        ):
            continue
        if order == "any":
            instants = _any_instants(stream[start:], steps, window)
        else:
            instants = [first[0]]
            for depth in range(2, steps + 1):
                found = _ordered_path(stream, start, depth, order, window)
                if found is None:
                    break
                instants = found
        if len(instants) > best[0]:
            best = (len(instants), instants)
    return best


def _any_instants(stream, steps, window):
    """When the events since the entry first cover 1, 2, … distinct steps."""
    events = [event for event in stream if event[0] - stream[0][0] <= window]
    instants = []
    for size in range(1, len(events) + 1):
        if _matching(events[:size], steps) > len(instants):
            instants.append(events[size - 1][0])
    return instants


def _ordered_path(stream, start, depth, order, window):
    """The step instants of the sequence reaching `depth` steps that completes earliest
    at every step (lexicographically smallest positions), or None."""
    candidates = range(start + 1, len(stream))
    for positions in itertools.combinations(candidates, depth - 1):
        chain = [start, *positions]
        if order == "strict" and chain != list(range(start, start + depth)):
            continue
        if all(stream[p][1][step] for step, p in enumerate(chain)) and (
            stream[chain[-1]][0] - stream[start][0] <= window
        ):
            return [stream[p][0] for p in chain]
    return None


def _matching(events, steps) -> int:
    """The most distinct steps the events can cover, one step per event: every set of
    steps tried against every ordered choice of as many events."""
    for size in range(steps, 0, -1):
        for chosen in itertools.combinations(range(steps), size):
            for picked in itertools.permutations(events, size):
                if all(event[1][step] for event, step in zip(picked, chosen, strict=True)):
                    return size
    return 0


class FunnelEqualsBruteForceTests(TestCase):
    @examples(100)
    @given(
        logs=st.lists(
            st.tuples(
                st.sampled_from(["u1", "u2", "u3"]),
                st.sampled_from(["a", "b", "c"]),
                st.integers(0, 3 * 24 * 60),  # minutes
                st.integers(0, 1),  # data.x
            ),
            max_size=18,
        ),
        # Few names: steps of the same event (with and without a filter) are frequent,
        # so one event often matches several steps.
        steps=st.lists(
            st.tuples(st.sampled_from(["a", "b"]), st.none() | st.integers(0, 1)),
            min_size=2,
            max_size=3,
        ),
        order=st.sampled_from(["ordered", "strict", "any"]),
        window_minutes=st.sampled_from([30, 600, 2000, 5000]),
        first_day=st.integers(0, 2),
        erase=st.booleans(),
    )
    def test_steps_equal_a_brute_force_search(
        self, logs, steps, order, window_minutes, first_day, erase
    ):
        note(repr((logs, steps, order, window_minutes, first_day, erase)))
        tenant = fresh_tenant()
        items = [
            EventInput(
                name, distinct_id=user, timestamp=START + dt.timedelta(minutes=m), data={"x": x}
            )
            for user, name, m, x in logs
        ]
        event_logs_ingest(tenant=tenant, items=items, created_by=None, now=NOW)
        if erase:
            event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id="u3"))
        first = (START + dt.timedelta(days=first_day)).date()
        raw = {
            "steps": [
                {"event": name, "filters": [] if x is None else [["eq", "data.x", x]]}
                for name, x in steps
            ],
            "order": order,
            "window": f"{window_minutes}m",
            "date_range": {"start": str(first), "end": str(first + dt.timedelta(days=1))},
            "tz": "Asia/Kolkata",
        }
        parsed = parse_funnel(raw)
        tz = parsed.tz
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)

        answer = run_funnel(parsed, logs=logs_of_tenant, tz=tz, now=NOW)

        window = resolve_window(parsed.date_range, tz, NOW)
        streams: dict[str, list] = {}
        for log in logs_of_tenant.select_related("event").order_by("timestamp", "id"):
            matches = tuple(
                log.event.name == name and (x is None or log.data.get("x") == x)
                for name, x in steps
            )
            if order != "strict" and not any(log.event.name == name for name, _ in steps):
                continue
            streams.setdefault(log.distinct_id, []).append((log.timestamp, matches))
        journeys = [
            brute_journey(
                stream,
                len(steps),
                order,
                dt.timedelta(minutes=window_minutes),
                window.lower,
                window.upper,
            )
            for stream in streams.values()
        ]
        for index, step in enumerate(answer["steps"]):
            reached = [instants for depth, instants in journeys if depth > index]
            assert step["users"] == len(reached), (index, journeys)
            if index and reached:
                seconds = [(i[index] - i[index - 1]).total_seconds() for i in reached]
                assert step["median_seconds"] == statistics.median(seconds)
