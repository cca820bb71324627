"""The query language of `/api/query`: a JSON object read into a `Query`, or a
`QueryError` naming the path of the first bad part (`filters[2][1]`).

    {"metrics": ["events", "uniques", "sum:data.amount"],
     "breakdown": ["event", "data.plan", "time:day"],
     "filters": [["eq", "event", "purchase"],
                 ["or", ["gt", "data.amount", 10], ["is_set", "data.coupon"]]],
     "date_range": "30d", "tz": "Asia/Kolkata", "compare": "previous_period",
     "order_by": ["-uniques"], "limit": 25}

Everything is optional but the object itself: the defaults are `events` over the last
7 days in the tenant's zone, with no breakdown.
"""

import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Literal

from core.jsonbody import INT64_MAX, INT64_MIN, is_integer
from core.zones import is_zone_name
from stats.buckets import INTERVALS, Interval

MAX_METRICS = 10
MAX_BREAKDOWNS = 3
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000
# The rows of one period's answer with series and a time breakdown: the series shown
# (and `(other)`) times the buckets, each a row listed, zeros included. 1000 series of
# 10,000 hours would be ten million rows, gigabytes and minutes to build.
MAX_ROWS = 100_000
MAX_FILTER_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
# The values of every `in`/`not_in` list of an insight together (all a funnel's steps):
# each is a parameter of every statement the insight runs.
MAX_TOTAL_VALUES = 5000
MAX_KEYS, MAX_KEY_LENGTH = 10, 100
MAX_STRING = 1000
MAX_RANGE_DAYS = 3660  # the longest "Nd" preset: ten years
DEFAULT_RANGE = "7d"

COUNT_METRICS = ("events", "uniques", "events_per_user")
PROPERTY_METRICS = ("sum", "avg", "min", "max")
COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "not_contains", "in", "not_in")
PRESENCE = ("is_set", "is_not_set")
GROUPS = ("and", "or")
PRESETS = ("today", "yesterday", "month", "year", "all")
QUERY_KEYS = (
    "metrics",
    "breakdown",
    "filters",
    "date_range",
    "tz",
    "compare",
    "order_by",
    "limit",
)
# A key of `data`: no dot (the path separator), quote, backslash or control character.
_KEY = re.compile(rf'^[^."\\\x00-\x1f\x7f]{{1,{MAX_KEY_LENGTH}}}$')
_DAYS = re.compile(r"^([1-9][0-9]{0,3})d$")

Scalar = str | int | float | bool | None


class QueryError(ValueError):
    """A bad part of a query: `path` names it (`filters[2][1]`, `date_range.start`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Field:
    """`event`, `distinct_id` or a `data` property (`keys`: its path)."""

    name: str  # as written: "event", "distinct_id", "data.a.b"
    keys: tuple[str, ...] = ()

    @property
    def is_data(self) -> bool:
        return bool(self.keys)


@dataclass(frozen=True)
class Metric:
    name: str  # as written, the column of the answer: "events", "sum:data.amount"
    kind: str  # events | uniques | events_per_user | sum | avg | min | max
    field: Field | None = None


@dataclass(frozen=True)
class Dimension:
    name: str  # the column: "event", "data.plan", "time:day"
    field: Field | None = None  # None for time
    interval: Interval | None = None  # for time


@dataclass(frozen=True)
class Condition:
    op: str
    field: Field
    value: Any = None


@dataclass(frozen=True)
class Group:
    op: Literal["and", "or", "not"]
    children: tuple["Condition | Group", ...]


NO_FILTERS = Group("and", ())


@dataclass
class ValueBudget:
    """The list values an insight's filters may still give (MAX_TOTAL_VALUES in all);
    one per insight, shared by all its filters."""

    left: int = MAX_TOTAL_VALUES

    def spend(self, count: int, path: str) -> None:
        self.left -= count
        if self.left < 0:
            raise QueryError(
                path, f"At most {MAX_TOTAL_VALUES} values in the in/not_in lists of all filters."
            )


@dataclass(frozen=True)
class DateRange:
    """A preset, or bounds: a date (whole local days, `end` included) or an instant
    (`end` excluded); None leaves that side open."""

    preset: str | None = None
    start: dt.date | dt.datetime | None = None
    end: dt.date | dt.datetime | None = None


@dataclass(frozen=True)
class Query:
    metrics: tuple[Metric, ...] = (Metric("events", "events"),)
    breakdown: tuple[Dimension, ...] = ()
    filters: Group = NO_FILTERS
    date_range: DateRange = field(default_factory=lambda: DateRange(preset=DEFAULT_RANGE))
    tz: zoneinfo.ZoneInfo | None = None
    compare: str | None = None
    order_by: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int = DEFAULT_LIMIT
    echo: dict = field(default_factory=dict)  # the query as given, for the answer

    @property
    def time(self) -> Dimension | None:
        return next((dim for dim in self.breakdown if dim.interval is not None), None)

    @property
    def series_dimensions(self) -> tuple[Dimension, ...]:
        return tuple(dim for dim in self.breakdown if dim.interval is None)


def parse_query(raw: Any) -> Query:
    """The query `raw` (decoded JSON) describes, or QueryError."""
    check_object(raw, "query", QUERY_KEYS)
    metrics = tuple(
        _metric(value, f"metrics[{index}]")
        for index, value in enumerate(_list(raw.get("metrics", ["events"]), "metrics"))
    )
    if not 1 <= len(metrics) <= MAX_METRICS:
        raise QueryError("metrics", f"Give 1 to {MAX_METRICS} metrics.")
    _unique([metric.name for metric in metrics], "metrics")
    breakdown = tuple(
        _dimension(value, f"breakdown[{index}]")
        for index, value in enumerate(_list(raw.get("breakdown", []), "breakdown"))
    )
    if len(breakdown) > MAX_BREAKDOWNS:
        raise QueryError("breakdown", f"At most {MAX_BREAKDOWNS} breakdowns.")
    _unique([dim.name for dim in breakdown], "breakdown")
    if len([dim for dim in breakdown if dim.interval]) > 1:
        raise QueryError("breakdown", "At most one time breakdown.")
    filters = parse_filters(raw.get("filters", []), "filters")
    date_range = parse_date_range(raw.get("date_range", DEFAULT_RANGE))
    compare = raw.get("compare")
    if compare not in (None, "previous_period"):
        raise QueryError("compare", 'Must be "previous_period" or null.')
    if compare and (date_range.preset == "all" or _open(date_range)):
        raise QueryError("compare", "Needs a range with a start and an end.")
    columns = [dim.name for dim in breakdown] + [metric.name for metric in metrics]
    return Query(
        metrics=metrics,
        breakdown=breakdown,
        filters=filters,
        date_range=date_range,
        tz=parse_zone(raw.get("tz")),
        compare=compare,
        order_by=_order_by(raw.get("order_by", []), columns),
        limit=parse_limit(raw.get("limit", DEFAULT_LIMIT)),
        echo=raw,
    )


def check_object(raw: Any, name: str, keys: tuple[str, ...]) -> None:
    """`raw` is a JSON object of no other keys than `keys`, or QueryError."""
    if not isinstance(raw, dict):
        raise QueryError(name, "Must be a JSON object.")
    if unknown := sorted(set(raw) - set(keys)):
        raise QueryError(unknown[0], f"Unknown key; the keys are {', '.join(keys)}.")


def parse_field(value: Any, path: str) -> Field:
    if not isinstance(value, str):
        raise QueryError(path, "Must be a string: event, distinct_id or data.<key>.")
    if value in ("event", "distinct_id"):
        return Field(value)
    if value.startswith("data."):
        keys = tuple(value[len("data.") :].split("."))
        if len(keys) > MAX_KEYS or not all(_KEY.match(key) for key in keys):
            raise QueryError(
                path,
                f"'{_shown(value)}' is not a data property: data.<key>[.<key>…], at most "
                f"{MAX_KEYS} keys of 1-{MAX_KEY_LENGTH} characters without dots, quotes, "
                "backslashes or control characters.",
            )
        return Field(value, keys)
    raise QueryError(
        path, f"Unknown field '{_shown(value)}': use event, distinct_id or data.<key>."
    )


def _metric(value: Any, path: str) -> Metric:
    if not isinstance(value, str):
        raise QueryError(path, "Must be a string.")
    if value in COUNT_METRICS:
        return Metric(value, value)
    kind, _, target = value.partition(":")
    if kind in PROPERTY_METRICS and target:
        field_ = parse_field(target, path)
        if not field_.is_data:
            raise QueryError(path, f"{kind} needs a numeric data property: '{kind}:data.<key>'.")
        return Metric(value, kind, field_)
    raise QueryError(
        path,
        f"Unknown metric '{_shown(value)}': use {', '.join(COUNT_METRICS)}, or "
        f"{'/'.join(PROPERTY_METRICS)}:data.<key>.",
    )


def _dimension(value: Any, path: str) -> Dimension:
    if isinstance(value, str) and value.startswith("time:"):
        interval = value[len("time:") :]
        if interval not in INTERVALS:
            raise QueryError(path, f"Time breakdown by {', '.join(INTERVALS)}: 'time:day'.")
        return Dimension(value, interval=interval)
    return Dimension(value, field=parse_field(value, path))


def parse_filters(value: Any, path: str, values: ValueBudget | None = None) -> Group:
    """A list of filters (all must hold) at `path` of the query; `values`: the insight's
    budget of list values, when it has other filters too."""
    conditions = _list(value, path)
    if conditions and isinstance(conditions[0], str):  # one filter, not in a list
        conditions = [conditions]
    budget = _Budget([MAX_CONDITIONS], values or ValueBudget())
    return Group(
        "and",
        tuple(_node(item, f"{path}[{index}]", 1, budget) for index, item in enumerate(conditions)),
    )


@dataclass(frozen=True)
class _Budget:
    conditions: list[int]  # left, shared by the nodes of one list of filters
    values: ValueBudget


def _node(value: Any, path: str, depth: int, budget: _Budget) -> Condition | Group:
    if depth > MAX_FILTER_DEPTH:
        raise QueryError(path, f"Filters nest at most {MAX_FILTER_DEPTH} levels.")
    budget.conditions[0] -= 1
    if budget.conditions[0] < 0:
        raise QueryError(path, f"At most {MAX_CONDITIONS} filters and groups in all.")
    if not isinstance(value, list) or not value:
        raise QueryError(path, "Must be a list: [op, field, value], or [and|or|not, filter, …].")
    op = value[0]
    if op in GROUPS or op == "not":
        return _group(value, path, depth, budget)
    if op in PRESENCE:
        if len(value) != 2:
            raise QueryError(path, f"[{op}, field]: a field and no value.")
        return Condition(op, parse_field(value[1], f"{path}[1]"))
    if op in COMPARISONS:
        if len(value) != 3:
            raise QueryError(path, f"[{op}, field, value]: a field and a value.")
        field_ = parse_field(value[1], f"{path}[1]")
        operand = _operand(op, field_, value[2], f"{path}[2]")
        if op in ("in", "not_in"):
            budget.values.spend(len(operand), f"{path}[2]")
        return Condition(op, field_, operand)
    raise QueryError(
        f"{path}[0]",
        f"Unknown operator '{_shown(op)}': use {', '.join(COMPARISONS + PRESENCE)}, "
        "or and/or/not to combine filters.",
    )


def _group(value: list, path: str, depth: int, budget: _Budget) -> Group:
    op, children = value[0], value[1:]
    if op == "not" and len(children) != 1:
        raise QueryError(path, "[not, filter]: exactly one filter.")
    if not children:
        raise QueryError(path, f"[{op}, filter, …]: at least one filter.")
    return Group(
        op,
        tuple(
            _node(child, f"{path}[{index}]", depth + 1, budget)
            for index, child in enumerate(children, start=1)
        ),
    )


def _operand(op: str, field_: Field, value: Any, path: str) -> Any:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_VALUES:
            raise QueryError(path, f"A list of 1 to {MAX_LIST_VALUES} values.")
        return tuple(
            _scalar(item, field_, f"{path}[{index}]", nullable=True)
            for index, item in enumerate(value)
        )
    if op in ("contains", "not_contains"):
        if not isinstance(value, str) or not value:
            raise QueryError(path, "A non-empty string.")
        return _scalar(value, field_, path)
    scalar = _scalar(value, field_, path, nullable=op in ("eq", "neq"))
    if op in ("gt", "gte", "lt", "lte") and isinstance(scalar, bool):
        raise QueryError(path, f"{op} compares numbers or strings, not true/false.")
    return scalar


def _scalar(value: Any, field_: Field, path: str, *, nullable: bool = False) -> Scalar:
    if not field_.is_data and not isinstance(value, str):
        raise QueryError(path, f"{field_.name} is a string: compare it with a string.")
    if value is None:
        if not nullable:
            raise QueryError(path, "null only compares with eq, neq, in and not_in.")
        return None
    if isinstance(value, str):
        if len(value) > MAX_STRING or "\x00" in value:
            raise QueryError(path, f"A string of at most {MAX_STRING} characters, without NUL.")
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise QueryError(path, "An integer beyond 64 bits.")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise QueryError(path, "A string, a number, true, false or null.")


def parse_date_range(value: Any) -> DateRange:
    if isinstance(value, str):
        match = _DAYS.match(value)
        if value in PRESETS or (match and int(match.group(1)) <= MAX_RANGE_DAYS):
            return DateRange(preset=value)
        raise QueryError(
            "date_range",
            f"Use {', '.join(PRESETS)}, a number of days up to {MAX_RANGE_DAYS} ('30d'), "
            'or {"start": …, "end": …}.',
        )
    if not isinstance(value, dict):
        raise QueryError("date_range", 'A preset such as "30d", or {"start": …, "end": …}.')
    if unknown := sorted(set(value) - {"start", "end"}):
        raise QueryError(f"date_range.{unknown[0]}", "Unknown key; use start and end.")
    start = _bound(value.get("start"), "date_range.start")
    end = _bound(value.get("end"), "date_range.end")
    if start is not None and end is not None:
        if type(start) is not type(end):
            raise QueryError("date_range.end", "Give both bounds as dates or both as datetimes.")
        # A bound without an offset is read in the query's zone, known only when it runs:
        # a naive and an aware bound are ordered then (insights.engine).
        if _comparable(start, end) and end < start:
            raise QueryError("date_range.end", "Is before start.")
    return DateRange(start=start, end=end)


def _comparable(start: dt.date, end: dt.date) -> bool:
    """Both dates, or datetimes both with an offset or both without."""
    if not isinstance(start, dt.datetime):
        return True
    return (start.tzinfo is None) == (end.tzinfo is None)


def _bound(value: Any, path: str) -> dt.date | dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise QueryError(path, "A date (YYYY-MM-DD) or an ISO 8601 datetime.")


def _open(date_range: DateRange) -> bool:
    return date_range.preset is None and (date_range.start is None or date_range.end is None)


def parse_zone(value: Any) -> zoneinfo.ZoneInfo | None:
    if value is None:
        return None
    if is_zone_name(value):
        return zoneinfo.ZoneInfo(value)
    raise QueryError("tz", f"'{_shown(value)}' is not an IANA time zone name.")


def _order_by(value: Any, columns: list[str]) -> tuple[tuple[str, bool], ...]:
    terms = []
    for index, term in enumerate(_list(value, "order_by")):
        name = term.removeprefix("-") if isinstance(term, str) else None
        if name not in columns:
            raise QueryError(
                f"order_by[{index}]",
                f"Order by a column of the answer ({', '.join(columns)}), '-' first to "
                "sort descending.",
            )
        terms.append((name, term.startswith("-")))
    return tuple(terms)


def parse_limit(value: Any) -> int:
    if not is_integer(value) or not 1 <= value <= MAX_LIMIT:
        raise QueryError("limit", f"A whole number from 1 to {MAX_LIMIT}.")
    return value


def _list(value: Any, path: str) -> list:
    """A list, or one item given bare ("metrics": "uniques")."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise QueryError(path, "Must be a list.")
    return value


def _unique(names: list[str], path: str) -> None:
    for index, name in enumerate(names):
        if name in names[:index]:
            raise QueryError(f"{path}[{index}]", f"'{name}' is given twice.")


def _shown(value: Any) -> str:
    """A user's value inside a message, cut short."""
    text = str(value)
    return text if len(text) <= 60 else f"{text[:57]}…"
