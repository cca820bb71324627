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
import functools
import json
import operator
import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, F, Q, QuerySet, Value, When

from core.collector import collection_paused
from core.ranges import MICROSECOND, half_open
from core.rounding import round_half_up
from core.storedjson import loads_stored
from events.models import EVENT_NAME_MAX_LENGTH, EventLog
from insights.conditions import filters_q
from insights.engine import OTHER, Window, resolve_window
from insights.expressions import EpochMicroseconds, JsonRepr, fetch_rows, micros_of
from insights.spec import (
    DEFAULT_LIMIT,
    NO_FILTERS,
    DateRange,
    Field,
    Group,
    QueryError,
    ValueBudget,
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
# An event of a user's stream: (instant in microseconds, id, the steps it matches as
# bits — step k is 1 << k —, distinct_id[, the breakdown value]). Sorted as they are,
# a user's events are in time order, ties by id; one integer of bits reads faster than
# a column per step.
_AT, _STEPS, _USER, _VALUE = 0, 2, 3, 4


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
    values = ValueBudget()  # shared by the steps
    return Funnel(
        steps=tuple(_step(step, f"steps[{index}]", values) for index, step in enumerate(steps)),
        window=_window(raw.get("window", DEFAULT_WINDOW)),
        order=order,
        date_range=parse_date_range(raw.get("date_range", "30d")),
        tz=parse_zone(raw.get("tz")),
        breakdown=breakdown,
        limit=parse_limit(raw.get("limit", DEFAULT_LIMIT)),
        echo=raw,
    )


def _step(value: Any, path: str, values: ValueBudget) -> Step:
    if isinstance(value, str):
        value = {"event": value}
    if not isinstance(value, dict):
        raise QueryError(path, 'A step: {"event": name, "filters": [...]} or an event name.')
    if unknown := sorted(set(value) - {"event", "filters"}):
        raise QueryError(f"{path}.{unknown[0]}", "Unknown key; a step has event and filters.")
    event = value.get("event")
    if not isinstance(event, str) or not 0 < len(event) <= EVENT_NAME_MAX_LENGTH:
        raise QueryError(f"{path}.event", "An event name.")
    return Step(event, parse_filters(value.get("filters", []), f"{path}.filters", values))


def _window(value: Any) -> dt.timedelta:
    match = _WINDOW.match(value) if isinstance(value, str) else None
    if match:
        window = dt.timedelta(**{WINDOW_UNITS[match.group(2)]: int(match.group(1))})
        if MIN_WINDOW <= window <= MAX_WINDOW:
            return window
    raise QueryError(
        "window", 'From "1m" to "90d": a number of minutes (m), hours (h) or days (d).'
    )


@dataclass(slots=True)
class Journey:
    """One user's furthest attempt: the instants of the steps reached (microseconds
    since the epoch), the entry's breakdown value."""

    instants: list[int]
    breakdown: Any = None


def run_funnel(
    funnel: Funnel, *, logs: QuerySet[EventLog], tz: ZoneInfo, now: dt.datetime
) -> dict[str, Any]:
    window = funnel_window(funnel, tz=tz, now=now)
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


def funnel_window(funnel: Funnel, *, tz: ZoneInfo, now: dt.datetime) -> Window:
    """The range users enter in. Their later steps are read up to the funnel's window
    past its end: QueryError when that leaves the calendar."""
    return resolve_window(funnel.date_range, tz, now, after=funnel.window)


def user_journeys(
    funnel: Funnel, *, logs: QuerySet[EventLog], window: Window
) -> dict[str, Journey]:
    """{distinct_id: journey} of every user who entered the funnel in `window` (from
    funnel_window)."""
    upper = None if window.upper is None else window.upper + funnel.window
    matched = functools.reduce(
        operator.add,
        (
            Case(
                When(Q(event__name=step.event) & filters_q(step.filters), then=Value(1 << index)),
                default=Value(0),
            )
            for index, step in enumerate(funnel.steps)
        ),
    )
    rows = (
        logs.exclude(distinct_id="")
        .filter(half_open("timestamp", window.lower, upper))
        .annotate(instant=EpochMicroseconds("timestamp"), matched=matched)
        .order_by()
    )
    if funnel.order != "strict":  # strict needs every event, to see what comes between
        any_step = Q()
        for step in funnel.steps:
            any_step |= Q(event__name=step.event)
        rows = rows.filter(any_step)
    columns = ["instant", "id", "matched", "distinct_id"]
    if funnel.breakdown is not None:
        rows = rows.annotate(breakdown_value=_breakdown_expression(funnel.breakdown))
        columns.append("breakdown_value")
    events: dict[str, list[tuple]] = defaultdict(list)
    rules = Rules.of(funnel, window)
    journeys = {}
    # Hundreds of thousands of tuples, lists and journeys, none of them cyclic: the
    # collector is held off from reading the rows to freeing them.
    with collection_paused():
        for event in fetch_rows(rows.values_list(*columns)):
            events[event[_USER]].append(event)
        for user, stream in events.items():
            stream.sort()  # by instant, then id
            journey = _furthest(stream, rules)
            if journey is not None:
                journeys[user] = journey
        # Freed while the collector is off: once on, it would traverse every object made
        # in the block that is still alive.
        events.clear()
    return journeys


# Instants beyond any a row holds: the ends of an open range.
_BEFORE_ALL, _AFTER_ALL = -(2**63), 2**63


@dataclass(frozen=True, slots=True)
class Rules:
    """What every user's attempts share: the number of steps, the conversion window and
    the half-open range of instants an entry must lie in (microseconds), the steps an
    entry may match (bits, as the rows hold them) and the order's attempt."""

    steps: int
    limit: int
    lower: int
    upper: int
    entering: int
    attempt: Callable[[list[tuple], int, "Rules", dict], tuple[list[int], bool]]

    @classmethod
    def of(cls, funnel: Funnel, window: Window) -> "Rules":
        steps = len(funnel.steps)
        return cls(
            steps=steps,
            limit=funnel.window // MICROSECOND,
            lower=_BEFORE_ALL if window.lower is None else micros_of(window.lower),
            upper=_AFTER_ALL if window.upper is None else micros_of(window.upper),
            entering=(1 << steps) - 1 if funnel.order == "any" else 1,
            attempt=_ORDERS[funnel.order],
        )


def _furthest(stream: list[tuple], rules: Rules) -> Journey | None:
    """The furthest attempt of one user, the earliest entry among those that go as far.
    An entry is a first-step event in the range (any step's, in any order); each order's
    attempt gives the step instants it reaches, and whether no later entry can reach
    more steps."""
    attempt, entering, lower, upper = rules.attempt, rules.entering, rules.lower, rules.upper
    best, scratch = None, {}
    for start, event in enumerate(stream):
        if not event[_STEPS] & entering or not lower <= event[_AT] < upper:
            continue
        instants, final = attempt(stream, start, rules, scratch)
        if best is None or len(instants) > len(best.instants):
            best = Journey(instants, _value(event))
        if final or len(instants) == rules.steps:
            break
    return best


def _ordered(
    stream: list[tuple], start: int, rules: Rules, positions: dict[int, list[int]]
) -> tuple[list[int], bool]:
    """Each step: the earliest matching event after the previous step's (which never hurts
    the steps after it), within the window of the entry. The stream is in time order, so
    the first match after the previous step is the only candidate, found by bisection in
    `positions`: where each step's events lie in the stream, found for a step when an
    attempt first reaches it (most users stop early). A later entry's steps are never
    earlier than this one's: when a step has no match left at all (not merely none in
    the window), no later entry gets past it either (final)."""
    instants, position = [stream[start][_AT]], start
    for step in range(1, rules.steps):
        matches = positions.get(step)
        if matches is None:
            bit = 1 << step
            matches = positions[step] = [
                at for at, event in enumerate(stream) if event[_STEPS] & bit
            ]
        found = bisect.bisect_right(matches, position)
        if found == len(matches):
            return instants, True
        position = matches[found]
        if stream[position][_AT] - instants[0] > rules.limit:
            break
        instants.append(stream[position][_AT])
    return instants, False


def _strict(stream: list[tuple], start: int, rules: Rules, _: dict) -> tuple[list[int], bool]:
    """Each step: the very next event, when it matches and is within the window."""
    instants = [stream[start][_AT]]
    for position in range(start + 1, min(start + rules.steps, len(stream))):
        later = stream[position]
        matches = later[_STEPS] & (1 << (position - start))
        if not matches or later[_AT] - instants[0] > rules.limit:
            break
        instants.append(later[_AT])
    return instants, False


def _any(
    stream: list[tuple], start: int, rules: Rules, masks: dict[int, list[int]]
) -> tuple[list[int], bool]:
    """One more step each time the events since the entry, within the window, can cover
    one more distinct step (an event counts for one step; one matching several may
    move). Of the events matching one set of steps, only the first as many as the set has
    steps can ever cover one: a later one could only take the place of one of them (one
    is free), so the attempt reads those alone, from `masks` (where the events of each
    set lie in the stream). A user's thousands of events of one step are a handful per
    entry, not thousands: every entry read them all, the square of their number."""
    if not masks:
        for position, event in enumerate(stream):
            masks.setdefault(event[_STEPS], []).append(position)
    latest = stream[start][_AT] + rules.limit
    candidates = []
    for bits, positions in masks.items():
        first = bisect.bisect_left(positions, start)
        for position in positions[first : first + bits.bit_count()]:
            if stream[position][_AT] > latest:
                break
            candidates.append(position)
    owner: dict[int, int] = {}  # step -> the position of the event that covers it
    instants = []
    for position in sorted(candidates):
        if _augment(position, stream, rules.steps, owner, set()):
            instants.append(stream[position][_AT])
            if len(instants) == rules.steps:
                break
    return instants, False


_ORDERS = {"ordered": _ordered, "strict": _strict, "any": _any}


def _augment(position: int, stream: list[tuple], steps: int, owner: dict, seen: set) -> bool:
    """Kuhn's augmenting path: can the event at `position` cover a step, moving others?"""
    for step in range(steps):
        if stream[position][_STEPS] & (1 << step) and step not in seen:
            seen.add(step)
            if step not in owner or _augment(owner[step], stream, steps, owner, seen):
                owner[step] = position
                return True
    return False


def _value(event: tuple) -> Any:
    return event[_VALUE] if len(event) > _VALUE else None


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
    # As the logs read it (core.storedjson): a float past 64 bits is a float.
    return loads_stored(value) if breakdown.is_data and value is not None else value


def value_key(value: Any) -> str:
    """A breakdown value as the answer shows it, as canonical JSON text: what a link
    carries, and what tells `1`, `1.0`, `true` and `"1"` apart (Python's `==` does not)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def journey_value_key(funnel: Funnel, journey: Journey) -> str:
    """The value_key of a journey's breakdown value."""
    assert funnel.breakdown is not None  # noqa: S101 - a funnel with a breakdown
    return value_key(_display(funnel.breakdown, journey.breakdown))


def _share(part: int, whole: int) -> float | None:
    return round_half_up(part, whole, 4) if whole else None


def _percentile(ordered: list[float], pct: int) -> float:
    """Nearest rank."""
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[rank - 1]
