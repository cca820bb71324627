"""Property: every answer of the query API equals a brute-force recount in Python over
the raw rows — any metrics, breakdowns, filters, limit and range, in zones with DST and
:30/:45 offsets, with late events and deletions (an erasure deletes a user's logs)."""

import datetime as dt
import json
import math
from collections import defaultdict
from zoneinfo import ZoneInfo

from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.models import Tenant
from events.models import EventLog
from events.rollups import hour_split
from events.services import event_logs_delete, event_logs_ingest
from events.tests.property import examples, fresh_tenant
from events.validation import EventInput
from insights.engine import OTHER, resolve_window, run_query
from insights.spec import COMPARISONS, COUNT_METRICS, PRESENCE, PROPERTY_METRICS, parse_query

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",  # DST from 2024-03-31
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +10:30 until 2024-04-07, then +09:30
]
START = dt.datetime(2024, 3, 27, tzinfo=dt.UTC)
MINUTES = 14 * 24 * 60
NOW = START + dt.timedelta(days=60)
MISSING = object()
METRICS = (*COUNT_METRICS, *(f"{kind}:data.amount" for kind in PROPERTY_METRICS))

values = st.sampled_from(["pro", "free", "Pro", "", None, 1, 0, 2.5, True, False, -3])
amounts = st.one_of(st.integers(-5, 50), st.sampled_from([2.5, 0.25, "12", True, None]))
data_strategy = st.fixed_dictionaries(
    {},
    optional={"plan": values, "amount": amounts, "n": st.fixed_dictionaries({"k": values})},
)
logs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["", "u1", "u2", "u3", "u4"]),
        st.integers(0, MINUTES - 1),
        st.integers(1, 3),
        data_strategy,
    ),
    max_size=30,
)
fields = st.sampled_from(["event", "distinct_id", "data.plan", "data.amount", "data.n.k"])


@st.composite
def conditions(draw, depth: int = 0):
    if depth < 2 and draw(st.integers(0, 4)) == 0:
        op = draw(st.sampled_from(["and", "or", "not"]))
        size = 1 if op == "not" else draw(st.integers(1, 3))
        return [op, *[draw(conditions(depth + 1)) for _ in range(size)]]
    field = draw(fields)
    strings_only = not field.startswith("data.")
    scalar = st.sampled_from(["a", "b", "u1", "u2", ""]) if strings_only else values
    op = draw(st.sampled_from(COMPARISONS + PRESENCE))
    if op in ("is_set", "is_not_set"):
        return [op, field]
    if op in ("in", "not_in"):
        return [op, field, draw(st.lists(scalar, min_size=1, max_size=3))]
    if op in ("contains", "not_contains"):
        return [op, field, draw(st.sampled_from(["r", "o", "u", "1"]))]
    if op in ("gt", "gte", "lt", "lte"):
        ordered = st.sampled_from(["b", "u2"]) if strings_only else st.sampled_from([0, 2.5, "m"])
        return [op, field, draw(ordered)]
    value = draw(scalar)
    return [op, field, value]


queries = st.fixed_dictionaries(
    {
        "metrics": st.lists(
            st.sampled_from(METRICS),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "breakdown": st.lists(
            st.sampled_from(["event", "distinct_id", "data.plan", "data.n.k"]),
            max_size=2,
            unique=True,
        ),
        "filters": st.lists(conditions(), max_size=2),
        "limit": st.integers(1, 4),
    },
    optional={"time": st.sampled_from(["hour", "day", "week", "month"])},
)


def value_at(row: dict, field: str):
    if field == "event":
        return row["event"]
    if field == "distinct_id":
        return row["distinct_id"]
    value = row["data"]
    for key in field.split(".")[1:]:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def json_type(value) -> str:
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def is_set(row: dict, field: str) -> bool:
    value = value_at(row, field)
    if field == "distinct_id":
        return value != ""
    return json_type(value) not in ("missing", "null")


def equals(row: dict, field: str, wanted) -> bool:
    if wanted is None:
        return not is_set(row, field)
    value = value_at(row, field)
    return json_type(value) == json_type(wanted) and value == wanted


def matches(row: dict, node: list) -> bool:
    op = node[0]
    if op in ("and", "or", "not"):
        results = [matches(row, child) for child in node[1:]]
        return {"and": all, "or": any}[op](results) if op != "not" else not results[0]
    field = node[1]
    if op in ("is_set", "is_not_set"):
        return is_set(row, field) == (op == "is_set")
    wanted = node[2]
    if op in ("eq", "neq"):
        return equals(row, field, wanted) == (op == "eq")
    if op in ("in", "not_in"):
        return any(equals(row, field, item) for item in wanted) == (op == "in")
    value = value_at(row, field)
    if op in ("contains", "not_contains"):
        found = json_type(value) == "string" and wanted in value
        return found == (op == "contains")
    if json_type(value) != json_type(wanted):
        return False
    return {
        "gt": value > wanted,
        "gte": value >= wanted,
        "lt": value < wanted,
        "lte": value <= wanted,
    }[op]


def time_key(instant: dt.datetime, interval: str, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    if interval == "hour":
        split = hour_split(tz)
        if split is not None:  # local hours begin at this minute of every UTC hour
            since = (instant - dt.timedelta(minutes=split)).replace(minute=0, second=0)
            hour = since.replace(microsecond=0) + dt.timedelta(minutes=split)
            return hour.astimezone(tz).isoformat()
        # Local wall-clock hours; a repeated hour counts once, at its first offset.
        return dt.datetime(local.year, local.month, local.day, local.hour, tzinfo=tz).isoformat()
    day = local.date()
    if interval == "week":
        day -= dt.timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return day.isoformat()


def number(value) -> bool:
    return json_type(value) == "number"


def recount(rows: list[dict], metrics: list[str]) -> dict:
    users = {row["distinct_id"] for row in rows if row["distinct_id"]}
    user_events = sum(row["count"] for row in rows if row["distinct_id"])
    amounts = [(row["data"]["amount"], row["count"]) for row in rows if number(amount(row))]
    total = sum(value * count for value, count in amounts)
    weight = sum(count for _, count in amounts)
    answers = {
        "events": sum(row["count"] for row in rows),
        "uniques": len(users),
        "events_per_user": user_events / len(users) if users else None,
        "sum:data.amount": total,
        "avg:data.amount": total / weight if weight else None,
        "min:data.amount": min((value for value, _ in amounts), default=None),
        "max:data.amount": max((value for value, _ in amounts), default=None),
    }
    return {name: answers[name] for name in metrics}


def amount(row: dict):
    return value_at(row, "data.amount")


def group_key(row: dict, dimension: str) -> str:
    """A breakdown value as the database groups it: by its JSON text (1 is not true)."""
    value = value_at(row, dimension)
    return json.dumps(None if value is MISSING else value)


def assert_metrics_equal(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if value is None or got[name] is None:
            assert got[name] == value, name
        else:
            assert math.isclose(got[name], value, rel_tol=1e-9, abs_tol=1e-9), (name, got, value)


def store(tenant: Tenant, logs, late, erase) -> None:
    """The logs, then late ones a day later, then an erasure of one user's logs."""
    for batch, now in ((logs, NOW), (late, NOW + dt.timedelta(days=1))):
        items = [
            EventInput(
                name,
                distinct_id=user,
                timestamp=START + dt.timedelta(minutes=minute),
                count=count,
                data=data,
            )
            for name, user, minute, count, data in batch
        ]
        event_logs_ingest(tenant=tenant, items=items, created_by=None, now=now)
    if erase is not None:
        event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id=erase))


def stored_rows(logs) -> list[dict]:
    return [
        {
            "event": log.event.name,
            "distinct_id": log.distinct_id,
            "timestamp": log.timestamp,
            "count": log.count,
            "data": log.data,
        }
        for log in logs.select_related("event")
    ]


class Recount:
    """The expected answer of one query, from the rows it reads."""

    def __init__(self, raw: dict, rows: list[dict], tz: ZoneInfo) -> None:
        self.metrics = raw["metrics"]
        self.tz = tz
        self.dimensions = [name for name in raw["breakdown"] if not name.startswith("time:")]
        times = [name for name in raw["breakdown"] if name.startswith("time:")]
        self.time = times[0] if times else None
        self.groups: dict[tuple, list[dict]] = defaultdict(list)
        for row in rows:
            self.groups[tuple(group_key(row, name) for name in self.dimensions)].append(row)

    def cell(self, members: list[dict], answer_row: dict) -> dict:
        """The metrics of `members` in the answer row's time bucket."""
        if self.time is not None:
            interval = self.time.removeprefix("time:")
            key = answer_row[self.time]
            members = [
                row for row in members if time_key(row["timestamp"], interval, self.tz) == key
            ]
        return recount(members, self.metrics)

    def check_rows(self, answer_rows: list[dict], limit: int) -> None:
        shown: set[tuple] = set()
        other_rows = []
        for row in answer_rows:
            if self.dimensions and row[self.dimensions[0]] == OTHER:
                other_rows.append(row)
                continue
            key = tuple(json.dumps(row[name]) for name in self.dimensions)
            shown.add(key)
            assert_metrics_equal(self.values(row), self.cell(self.groups.get(key, []), row))
        hidden = set(self.groups) - shown
        assert len(shown & set(self.groups)) == min(len(self.groups), limit)
        if not hidden:
            assert other_rows == []
            return
        # Every shown series ranks at least as high as every one folded into "(other)".
        assert min(map(self.ranking, shown)) >= max(map(self.ranking, hidden))
        rest = [row for key in hidden for row in self.groups[key]]
        for row in other_rows:
            assert_metrics_equal(self.values(row), self.cell(rest, row))

    def values(self, answer_row: dict) -> dict:
        return {name: answer_row[name] for name in self.metrics}

    def ranking(self, key: tuple) -> float:
        value = recount(self.groups[key], self.metrics[:1])[self.metrics[0]]
        return -math.inf if value is None else value


class QueryEqualsRecountTests(TestCase):
    @examples(80)
    @given(
        logs=logs_strategy,
        late=logs_strategy,
        erase=st.none() | st.sampled_from(["u1", "u2"]),
        raw=queries,
        zone=st.sampled_from(ZONES),
        first_day=st.integers(0, 13),
        days=st.integers(0, 13),
    )
    def test_answers_equal_a_recount(self, logs, late, erase, raw, zone, first_day, days):
        note(repr((logs, late, erase, raw, zone, first_day, days)))
        tenant = fresh_tenant()
        store(tenant, logs, late, erase)
        first = (START + dt.timedelta(days=first_day)).date()
        raw = dict(raw)
        if (interval := raw.pop("time", None)) is not None:
            raw["breakdown"] = [*raw["breakdown"], f"time:{interval}"]
        raw |= {
            "tz": zone,
            "date_range": {"start": first.isoformat(), "end": str(first + dt.timedelta(days))},
        }
        tz = ZoneInfo(zone)
        query = parse_query(raw)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)

        answer = run_query(query, logs=logs_of_tenant, tz=tz, now=NOW)

        assert_answer_is_a_recount(answer, raw, logs_of_tenant, tz)


def assert_answer_is_a_recount(answer: dict, raw: dict, logs, tz: ZoneInfo) -> None:
    """The answer to the query `raw` (with its `date_range`) equals a recount of `logs`."""
    window = resolve_window(parse_query(raw).date_range, tz, NOW)
    rows = [
        row
        for row in stored_rows(logs)
        if window.lower <= row["timestamp"] < window.upper
        and all(matches(row, node) for node in raw["filters"])
    ]
    assert_metrics_equal(answer["total"], recount(rows, raw["metrics"]))
    if not raw["breakdown"]:
        assert answer["rows"] == [answer["total"]]
        return
    expected = Recount(raw, rows, tz)
    if expected.dimensions:
        assert answer["series"]["count"] == len(expected.groups)
    expected.check_rows(answer["rows"], raw["limit"])
