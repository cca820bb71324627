"""Retention: of the users who did event A in a period (a cohort), how many did event B
in each of the periods after it — the classic triangle.

    {"cohort": {"event": "signup", "type": "first"},
     "return": {"event": "purchase"},
     "period": "week", "periods": 8, "date_range": "30d", "tz": "Europe/Berlin"}

- `cohort.type`: `first` (default) puts a user in the period of their first A ever
  (a first A before the range keeps them out); `any` in every period of the range in
  which they did A.
- `return.event` null (or `return` left out): any event counts as a return.
- Period 0 is the cohort's own period, where every member counts (they did A); a cell
  k counts the members who did B in the k-th period after. Periods still to come are
  left out, so the table is a triangle.

Cohorts are the periods that begin in `date_range`; returns are read up to `periods`
periods after its end. Periods are local days, weeks (from Monday) or months in `tz`.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Min, Q, QuerySet

from core.jsonbody import is_integer
from core.ranges import half_open
from core.rounding import round_half_up
from events.models import EVENT_NAME_MAX_LENGTH, EventLog
from insights.conditions import filters_q
from insights.engine import Window, resolve_window
from insights.spec import (
    NO_FILTERS,
    DateRange,
    Group,
    QueryError,
    ValueBudget,
    check_object,
    parse_date_range,
    parse_filters,
    parse_zone,
)
from stats.buckets import BUCKET_REACH, Interval, TooManyBuckets, bucket_keys
from stats.selectors import time_bucket

PERIODS = ("day", "week", "month")
MAX_PERIODS = 52
RETENTION_KEYS = ("cohort", "return", "period", "periods", "date_range", "tz")
DEFAULT_PERIODS = 8


@dataclass(frozen=True)
class Activity:
    event: str | None  # None: any event
    filters: Group = NO_FILTERS

    def q(self) -> Q:
        condition = filters_q(self.filters)
        return condition if self.event is None else Q(event__name=self.event) & condition


@dataclass(frozen=True)
class Retention:
    cohort: Activity
    first: bool
    returning: Activity
    period: Interval = "week"
    periods: int = DEFAULT_PERIODS
    date_range: DateRange = field(default_factory=lambda: DateRange(preset="30d"))
    tz: ZoneInfo | None = None
    echo: dict = field(default_factory=dict)


def parse_retention(raw: Any) -> Retention:
    """The retention query `raw` (decoded JSON) describes, or QueryError naming the part."""
    check_object(raw, "retention", RETENTION_KEYS)
    cohort = raw.get("cohort")
    if not isinstance(cohort, dict | str):
        raise QueryError("cohort", 'The cohort\'s event: {"event": name, "type": "first"}.')
    cohort = {"event": cohort} if isinstance(cohort, str) else cohort
    kind = cohort.get("type", "first")
    if kind not in ("first", "any"):
        raise QueryError("cohort.type", 'Either "first" or "any".')
    returning = raw.get("return", {"event": None})
    returning = (
        {"event": returning} if isinstance(returning, str) or returning is None else returning
    )
    if not isinstance(returning, dict):
        raise QueryError("return", 'The returning event: {"event": name or null}.')
    period = raw.get("period", "week")
    if period not in PERIODS:
        raise QueryError("period", f"One of {', '.join(PERIODS)}.")
    periods = raw.get("periods", DEFAULT_PERIODS)
    if not is_integer(periods) or not 1 <= periods <= MAX_PERIODS:
        raise QueryError("periods", f"A whole number from 1 to {MAX_PERIODS}.")
    values = ValueBudget()  # shared by the cohort and the return
    return Retention(
        cohort=_activity(cohort, "cohort", {"event", "filters", "type"}, values, required=True),
        first=kind == "first",
        returning=_activity(returning, "return", {"event", "filters"}, values, required=False),
        period=period,
        periods=periods,
        date_range=parse_date_range(raw.get("date_range", "30d")),
        tz=parse_zone(raw.get("tz")),
        echo=raw,
    )


def _activity(
    value: dict, path: str, keys: set[str], values: ValueBudget, *, required: bool
) -> Activity:
    if unknown := sorted(set(value) - keys):
        raise QueryError(f"{path}.{unknown[0]}", f"Unknown key; use {', '.join(sorted(keys))}.")
    event = value.get("event")
    if event is None and required:
        raise QueryError(f"{path}.event", "An event name.")
    if event is not None and (
        not isinstance(event, str) or not 0 < len(event) <= EVENT_NAME_MAX_LENGTH
    ):
        raise QueryError(f"{path}.event", "An event name" + ("." if required else ", or null."))
    return Activity(event, parse_filters(value.get("filters", []), f"{path}.filters", values))


def run_retention(
    retention: Retention, *, logs: QuerySet[EventLog], tz: ZoneInfo, now: dt.datetime
) -> dict[str, Any]:
    # The first cohort begins on the Monday or the 1st of the range's first local day.
    # Cohorts to come are never listed, so returns are read at most `periods` periods
    # past now: nothing past the range's end.
    reach = BUCKET_REACH[retention.period]
    window = resolve_window(retention.date_range, tz, now, before=reach)
    users = logs.exclude(distinct_id="").order_by()
    cohorts = _cohorts(retention, users, window, tz, now)
    last_cohort = max(cohorts, default=None)
    returns_until = None
    if last_cohort is not None:
        returns_until = _period_start(
            _shift(last_cohort, retention.period, retention.periods + 1), tz
        )
    returns: dict[str, set[dt.date]] = defaultdict(set)
    if cohorts:
        first = _period_start(min(cohorts), tz)
        rows = (
            users.filter(retention.returning.q())
            .filter(half_open("timestamp", first, returns_until))
            .annotate(period=time_bucket("timestamp", retention.period, tz))
            .values_list("distinct_id", "period")
            .distinct()
        )
        for user, period in rows:
            returns[user].add(period)
    today = _bucket(now.astimezone(tz).date(), retention.period)
    table = []
    for start in sorted(cohorts):
        members = cohorts[start]
        values = [len(members)]
        for offset in range(1, retention.periods + 1):
            period = _shift(start, retention.period, offset)
            if period > today:
                break
            values.append(sum(1 for user in members if period in returns[user]))
        table.append(
            {
                "cohort": start.isoformat(),
                "users": len(members),
                "values": values,
                "shares": [_share(value, len(members)) for value in values],
            }
        )
    return {
        "query": retention.echo,
        "tz": tz.key,
        "date_range": window.as_json(tz),
        "period": retention.period,
        "cohorts": table,
        "average": _average(table, retention.periods),
    }


def _cohorts(
    retention: Retention, users: QuerySet, window: Window, tz: ZoneInfo, now: dt.datetime
) -> dict[dt.date, set[str]]:
    """{the first day of a period of the range: its members}, every period of the range
    listed (an empty cohort is a row of zeros)."""
    did = users.filter(retention.cohort.q())
    cohorts: dict[dt.date, set[str]] = defaultdict(set)
    if retention.first:
        # The first A ever: a user whose first A came before the range is no new member.
        firsts = did.values("distinct_id").annotate(first=Min("timestamp"))
        for row in firsts.filter(half_open("first", window.lower, window.upper)):
            cohorts[_bucket(row["first"].astimezone(tz).date(), retention.period)].add(
                row["distinct_id"]
            )
    else:
        rows = (
            did.filter(half_open("timestamp", window.lower, window.upper))
            .annotate(period=time_bucket("timestamp", retention.period, tz))
            .values_list("distinct_id", "period")
            .distinct()
        )
        for user, period in rows:
            cohorts[period].add(user)
    found = [day.isoformat() for day in cohorts]
    try:
        keys = bucket_keys(window.lower, window.upper, retention.period, tz, found, now=now)
    except TooManyBuckets as exc:
        raise QueryError("date_range", str(exc)) from None
    return {
        dt.date.fromisoformat(key): cohorts.get(dt.date.fromisoformat(key), set()) for key in keys
    }


def _average(table: list[dict], periods: int) -> dict[str, list]:
    """Per offset, the members of the cohorts that reached it who returned, and their
    share: a weighted mean of the rows."""
    values, shares = [], []
    for offset in range(periods + 1):
        reached = [row for row in table if len(row["values"]) > offset]
        if not reached:
            break
        returned = sum(row["values"][offset] for row in reached)
        members = sum(row["users"] for row in reached)
        values.append(returned)
        shares.append(_share(returned, members))
    return {"values": values, "shares": shares}


def _share(part: int, whole: int) -> float | None:
    return round_half_up(part, whole, 4) if whole else None


def _bucket(day: dt.date, period: Interval) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _shift(start: dt.date, period: Interval, offset: int) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=offset)
    if period == "week":
        return start + dt.timedelta(weeks=offset)
    months = start.year * 12 + start.month - 1 + offset
    return dt.date(months // 12, months % 12 + 1, 1)


def _period_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)
