"""Funnels: how many users go through 2-20 steps, in order, within a conversion window.

    {"steps": [{"event": "signup"},
               {"event": "purchase", "filters": [["gt", "data.amount", 10]]}],
     "window": "14d", "order": "ordered", "date_range": "30d", "tz": "Europe/Berlin",
     "breakdown": "data.plan"}

A user enters with a first-step event inside the date range; later steps may come up to
`window` after that event (so past the range's end). Per user, every entry is tried
and the one that goes furthest counts (the earliest of those for the times):

- `ordered` (default): each step is the user's first event of that step after the
  previous step's event;
- `strict`: each step is the user's very next event (any other event in between ends
  the attempt);
- `any`: the steps may come in any order; a user is at step k once their events since
  the entry (any step's event) and within the window cover k different steps, each
  event one step.

Step k counts the users who reached it; its times are from step k-1 to step k of each
such user. The answer is computed in Python from the users' events, read in one query.
"""

import bisect
import datetime as dt
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When

from core.collector import collection_paused
from core.ranges import half_open
from events.models import EVENT_NAME_MAX_LENGTH, EventLog
from insights.conditions import filters_q
from insights.engine import OTHER, Window, resolve_window
from insights.expressions import EpochMicroseconds, JsonRepr, micros_of
from insights.spec import (
    DEFAULT_LIMIT,
    NO_FILTERS,
    DateRange,
    Field,
    Group,
    QueryError,
    check_object,
    parse_date_range,
    parse_field,
    parse_filters,
    parse_limit,
    parse_zone,
)

MIN_STEPS, MAX_STEPS = 2, 20
ORDERS = ("ordered", "strict", "any")
DEFAULT_WINDOW = "14d"
MIN_WINDOW, MAX_WINDOW = dt.timedelta(minutes=1), dt.timedelta(days=90)
WINDOW_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
FUNNEL_KEYS = ("steps", "window", "order", "date_range", "tz", "breakdown", "limit")
_WINDOW = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
# An event of a user's stream: (distinct_id, instant in microseconds, id, whether it
# matches step 0, step 1, …[, the breakdown value]).
_AT, _STEP = 1, 3


@dataclass(frozen=True)
class Step:
    event: str
    filters: Group = NO_FILTERS


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Step, ...]
    window: dt.timedelta = dt.timedelta(days=14)
    order: str = "ordered"
    date_range: DateRange = field(default_factory=lambda: DateRange(preset="30d"))
    tz: ZoneInfo | None = None
    breakdown: Field | None = None
    limit: int = DEFAULT_LIMIT
    echo: dict = field(default_factory=dict)


def parse_funnel(raw: Any) -> Funnel:
    """The funnel `raw` (decoded JSON) describes, or QueryError naming the bad part."""
    check_object(raw, "funnel", FUNNEL_KEYS)
    steps = raw.get("steps")
    if not isinstance(steps, list) or not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise QueryError("steps", f"A list of {MIN_STEPS} to {MAX_STEPS} steps.")
    order = raw.get("order", "ordered")
    if order not in ORDERS:
        raise QueryError("order", f"One of {', '.join(ORDERS)}.")
    breakdown = raw.get("breakdown")
    if breakdown is not None:
        breakdown = parse_field(breakdown, "breakdown")
    return Funnel(
        steps=tuple(_step(step, f"steps[{index}]") for index, step in enumerate(steps)),
        window=_window(raw.get("window", DEFAULT_WINDOW)),
        order=order,
        date_range=parse_date_range(raw.get("date_range", "30d")),
        tz=parse_zone(raw.get("tz")),
        breakdown=breakdown,
        limit=parse_limit(raw.get("limit", DEFAULT_LIMIT)),
        echo=raw,
    )


def _step(value: Any, path: str) -> Step:
    if isinstance(value, str):
        value = {"event": value}
    if not isinstance(value, dict):
        raise QueryError(path, 'A step: {"event": name, "filters": [...]} or an event name.')
    if unknown := sorted(set(value) - {"event", "filters"}):
        raise QueryError(f"{path}.{unknown[0]}", "Unknown key; a step has event and filters.")
    event = value.get("event")
    if not isinstance(event, str) or not 0 < len(event) <= EVENT_NAME_MAX_LENGTH:
        raise QueryError(f"{path}.event", "An event name.")
    return Step(event, parse_filters(value.get("filters", []), f"{path}.filters"))


def _window(value: Any) -> dt.timedelta:
    match = _WINDOW.match(value) if isinstance(value, str) else None
    if match:
        window = dt.timedelta(**{WINDOW_UNITS[match.group(2)]: int(match.group(1))})
        if MIN_WINDOW <= window <= MAX_WINDOW:
            return window
    raise QueryError(
        "window", 'From "1m" to "90d": a number of minutes (m), hours (h) or days (d).'
    )


@dataclass
class Journey:
    """One user's furthest attempt: the instants of the steps reached (microseconds
    since the epoch), the entry's breakdown value."""

    instants: list[int]
    breakdown: Any = None


def run_funnel(
    funnel: Funnel, *, logs: QuerySet[EventLog], tz: ZoneInfo, now: dt.datetime
) -> dict[str, Any]:
    window = resolve_window(funnel.date_range, tz, now)
    journeys = user_journeys(funnel, logs=logs, window=window)
    answer = {
        "query": funnel.echo,
        "tz": tz.key,
        "date_range": window.as_json(tz),
        "steps": _steps(funnel, list(journeys.values())),
    }
    if funnel.breakdown is not None:
        answer["breakdown"] = _breakdown(funnel, journeys)
    return answer


def user_journeys(
    funnel: Funnel, *, logs: QuerySet[EventLog], window: Window
) -> dict[str, Journey]:
    """{distinct_id: journey} of every user who entered the funnel."""
    upper = None if window.upper is None else window.upper + funnel.window
    flags = {
        f"s{index}": Case(
            When(Q(event__name=step.event) & filters_q(step.filters), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        for index, step in enumerate(funnel.steps)
    }
    rows = (
        logs.exclude(distinct_id="")
        .filter(half_open("timestamp", window.lower, upper))
        .annotate(instant=EpochMicroseconds("timestamp"), **flags)
        .order_by()
    )
    if funnel.order != "strict":  # strict needs every event, to see what comes between
        any_step = Q()
        for step in funnel.steps:
            any_step |= Q(event__name=step.event)
        rows = rows.filter(any_step)
    columns = ["distinct_id", "instant", "id", *flags]
    if funnel.breakdown is not None:
        rows = rows.annotate(breakdown_value=_breakdown_expression(funnel.breakdown))
        columns.append("breakdown_value")
    # A user's events as the rows come (see _AT), read through the cursor: the ORM's
    # per-row conversions cost more than the funnel, and tuples of plain values are
    # left alone by the garbage collector where lists are not.
    sql, params = rows.values_list(*columns).query.sql_with_params()
    events: dict[str, list[tuple]] = defaultdict(list)
    entry = Entry(_micros(window.lower), _micros(window.upper))
    limit = funnel.window // dt.timedelta(microseconds=1)
    journeys = {}
    follow = {"ordered": _ordered, "strict": _strict, "any": _any}[funnel.order]
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        # Hundreds of thousands of tuples, lists and journeys, none of them cyclic; the
        # collector is held off only once the rows are here, not while the query runs.
        with collection_paused():
            for event in cursor.fetchall():
                events[event[0]].append(event)
            for user, stream in events.items():
                stream.sort()  # by (the user,) instant, then id
                journey = follow(stream, len(funnel.steps), limit, entry)
                if journey is not None:
                    journeys[user] = journey
    return journeys


@dataclass(frozen=True)
class Entry:
    """The half-open range of microseconds a first step must lie in; None is open."""

    lower: int | None
    upper: int | None

    def admits(self, instant: int) -> bool:
        return (self.lower is None or instant >= self.lower) and (
            self.upper is None or instant < self.upper
        )


def _micros(instant: dt.datetime | None) -> int | None:
    if instant is None:
        return None
    return micros_of(instant)


def _furthest(stream: list[tuple], steps: int, entry: Entry, *, any_step: bool, attempt):
    """The furthest attempt of one user: `attempt(start)` gives the step instants reached
    from the entry at `start` (a first-step event, or any step's with `any_step`, in the
    range), and whether no later entry can reach more steps; the earliest entry among
    those that go as far."""
    best = None
    for start, event in enumerate(stream):
        entered = any(event[_STEP : _STEP + steps]) if any_step else event[_STEP]
        if not entered or not entry.admits(event[_AT]):
            continue
        instants, final = attempt(start)
        if best is None or len(instants) > len(best.instants):
            best = Journey(instants, _value(event, steps))
        if final or len(instants) == steps:
            break
    return best


def _ordered(stream: list[tuple], steps: int, limit: int, entry: Entry):
    # Where each step's events lie in the stream, so that an attempt finds its next step
    # by bisection instead of walking the stream (a user's many entries each walked it);
    # found for a step when an attempt first reaches it (most users stop early).
    positions: dict[int, list[int]] = {}

    def matching(step: int) -> list[int]:
        if step not in positions:
            column = _STEP + step
            positions[step] = [at for at, event in enumerate(stream) if event[column]]
        return positions[step]

    def attempt(start: int) -> tuple[list[int], bool]:
        # Each step: the earliest matching event after the previous step's (which never
        # hurts the steps after it), within the window of the entry. The stream is in
        # time order, so the first match after the previous step is the only candidate.
        # A later entry's steps are never earlier than this one's: when a step has no
        # match left at all (not merely none in the window), no later entry gets past
        # it either, and the user's other entries need no attempt (final).
        instants, position = [stream[start][_AT]], start
        for step in range(1, steps):
            matches = matching(step)
            found = bisect.bisect_right(matches, position)
            if found == len(matches):
                return instants, True
            position = matches[found]
            if stream[position][_AT] - instants[0] > limit:
                break
            instants.append(stream[position][_AT])
        return instants, False

    return _furthest(stream, steps, entry, any_step=False, attempt=attempt)


def _strict(stream: list[tuple], steps: int, limit: int, entry: Entry):
    def attempt(start: int) -> tuple[list[int], bool]:
        instants = [stream[start][_AT]]
        for position in range(start + 1, min(start + steps, len(stream))):
            later = stream[position]
            if not later[_STEP + position - start] or later[_AT] - instants[0] > limit:
                break
            instants.append(later[_AT])
        return instants, False

    return _furthest(stream, steps, entry, any_step=False, attempt=attempt)


def _any(stream: list[tuple], steps: int, limit: int, entry: Entry):
    def attempt(start: int) -> tuple[list[int], bool]:
        owner: dict[int, int] = {}  # step -> the position of the event that covers it
        instants = []
        for position in range(start, len(stream)):
            if stream[position][_AT] - stream[start][_AT] > limit:
                break
            # One more step covered when the events so far can cover one more distinct
            # step (an event counts for one step; one matching several may move).
            if _augment(position, stream, steps, owner, set()):
                instants.append(stream[position][_AT])
                if len(instants) == steps:
                    break
        return instants, False

    return _furthest(stream, steps, entry, any_step=True, attempt=attempt)


def _augment(position: int, stream: list[tuple], steps: int, owner: dict, seen: set) -> bool:
    """Kuhn's augmenting path: can the event at `position` cover a step, moving others?"""
    for step in range(steps):
        if stream[position][_STEP + step] and step not in seen:
            seen.add(step)
            if step not in owner or _augment(owner[step], stream, steps, owner, seen):
                owner[step] = position
                return True
    return False


def _value(event: tuple, steps: int) -> Any:
    return event[_STEP + steps] if len(event) > _STEP + steps else None


def _breakdown_expression(breakdown: Field):
    if breakdown.is_data:
        return JsonRepr(breakdown.keys)
    return F("event__name") if breakdown.name == "event" else F("distinct_id")


def _steps(funnel: Funnel, journeys: list[Journey]) -> list[dict[str, Any]]:
    counts = [sum(1 for j in journeys if len(j.instants) > k) for k in range(len(funnel.steps))]
    rows = []
    for index, step in enumerate(funnel.steps):
        users = counts[index]
        seconds = [
            (j.instants[index] - j.instants[index - 1]) / 1_000_000
            for j in journeys
            if index and len(j.instants) > index
        ]
        rows.append(
            {
                "step": index + 1,
                "event": step.event
                if funnel.order != "any"
                else f"{index + 1} of {len(funnel.steps)}",
                "users": users,
                "conversion_from_first": _share(users, counts[0]),
                "conversion_from_previous": _share(users, counts[index - 1] if index else users),
                "dropped": counts[index - 1] - users if index else 0,
                "median_seconds": statistics.median(seconds) if seconds else None,
                "p90_seconds": _percentile(sorted(seconds), 90) if seconds else None,
            }
        )
    return rows


def _breakdown(funnel: Funnel, journeys: dict[str, Journey]) -> list[dict[str, Any]]:
    by_value: dict[Any, list[Journey]] = defaultdict(list)
    for journey in journeys.values():
        by_value[journey.breakdown].append(journey)
    ranked = sorted(by_value.items(), key=lambda item: (-len(item[1]), str(item[0])))
    shown, rest = ranked[: funnel.limit], ranked[funnel.limit :]
    rows = [
        {"value": _display(funnel.breakdown, value), "steps": _steps(funnel, group)}
        for value, group in shown
    ]
    if rest:
        others = [journey for _, group in rest for journey in group]
        rows.append({"value": OTHER, "steps": _steps(funnel, others)})
    return rows


def _display(breakdown: Field, value: Any) -> Any:
    return json.loads(value) if breakdown.is_data and value is not None else value


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentile(ordered: list[float], pct: int) -> float:
    """Nearest rank."""
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[rank - 1]
