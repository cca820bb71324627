"""Counts of the query API from the hourly user sets (events.usersets) instead of the
logs, where a query allows it: exact all the same, and a month of a large tenant reads
a few hundred small bitmaps instead of every log's `data`.

A query qualifies when its metrics are counts (`events`, `uniques`, `events_per_user`),
its breakdowns are `event`, at most one top-level `data` key and at most one time
bucket, and its filters name only `event` (`eq`, `neq`, `in`, `not_in`): they pick
whole events, so whole sets. The window's UTC hours that have sets, no pending
increment and lie whole inside one time bucket come from the sets, read in one
statement (one snapshot, as the sketches' reader does); the rest — the window's
partial first and last hours, hours not built yet or changed since, hours a bucket's
local edge cuts (midnights of :30 and :45 zones), and an event's hours whose key has
too many values to have sets — come from the logs. A user read from a log who has no
number yet cannot be in any set, so they count apart and the two never overlap.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Q, QuerySet
from pyroaring import BitMap64

from events.sketches import HOUR
from events.usersets import UserSets, hours_between, sets_ready, stretches, whole_hours
from insights.conditions import filters_q
from insights.spec import COUNT_METRICS, Condition, Group, Query, Scalar
from stats.buckets import TooManyBuckets, bucket_edges, bucket_key

MIN_HOURS = 24  # a shorter window reads its logs: the sets would not pay for their reads
# More separate stretches of logs to read beside the sets than this, or an event whose
# key has too many values in more than this share of the built hours, or time buckets
# whose edges cut more than this share of the hours: the logs alone answer sooner.
MAX_LOG_RANGES = 64
MAX_LOG_SHARE = 0.25


@dataclass(slots=True)
class Tally:
    """The counts of one breakdown group: the sum of its logs' counts, of those with a
    user, and its distinct users (numbers, and distinct_ids without a number)."""

    events: int = 0
    user_events: int = 0
    users: BitMap64 = field(default_factory=BitMap64)
    strays: set[str] = field(default_factory=set)

    def add(self, other: "Tally") -> None:
        self.events += other.events
        self.user_events += other.user_events
        self.users |= other.users
        self.strays |= other.strays

    def add_set(self, events: int, user_events: int, users: bytes) -> None:
        self.events += events
        self.user_events += user_events
        self.users |= BitMap64.deserialize(users)

    def aggregates(self) -> dict[str, int]:
        """Under the engine's aggregate names (insights.engine._aggregates)."""
        return {
            "a_events": self.events,
            "a_user_events": self.user_events,
            "a_uniques": len(self.users) + len(self.strays),
        }


def combined(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


# A predicate on a log: its event name and the JSON text of the filters' data key (""
# when missing or JSON null; None when not known yet). True or False, or None when the
# answer depends on a value not known.
Predicate = Callable[[str, str | None], bool | None]


def log_predicate(filters: Group) -> tuple[Predicate, str | None] | None:
    """`filters` as a predicate on a log, and the one top-level data key they name (or
    None), when they name only `event` and that key with `eq`, `neq`, `in` or `not_in`:
    comparisons that pick whole events and whole values, so whole sets. None otherwise.
    A value compares as insights.conditions compares it (same JSON type and value;
    `null` for missing or JSON null), and `not`, `and` and `or` combine an undecided
    part as Kleene's logic does, so an event's logs that may pass are never left out."""
    keys: set[str] = set()

    def build(node: Condition | Group) -> Predicate | None:
        if isinstance(node, Condition):
            return _condition_predicate(node, keys)
        parts = [build(child) for child in node.children]
        if any(part is None for part in parts):
            return None
        if node.op == "not":
            return lambda event, value: _not(parts[0](event, value))
        if node.op == "and":
            return lambda event, value: _all(part(event, value) for part in parts)
        return lambda event, value: _not(_all(_not(part(event, value)) for part in parts))

    passes = build(filters)
    if passes is None or len(keys) > 1:
        return None
    return passes, next(iter(keys), None)


def _condition_predicate(condition: Condition, keys: set[str]) -> Predicate | None:
    """One condition as a predicate (adding its data key to `keys`), or None."""
    if condition.op not in ("eq", "neq", "in", "not_in"):
        return None
    values = condition.value if condition.op in ("in", "not_in") else [condition.value]
    if condition.field.name == "event":
        names = set(values)  # strings: the query language compares `event` with strings
        test: Predicate = lambda event, value: event in names  # noqa: E731
    elif condition.field.is_data and len(condition.field.keys) == 1:
        keys.add(condition.field.keys[0])
        test = lambda event, value: _json_in(value, values)  # noqa: E731
    else:
        return None
    if condition.op in ("neq", "not_in"):
        return lambda event, value: _not(test(event, value))
    return test


def _not(answer: bool | None) -> bool | None:
    return None if answer is None else not answer


def _all(answers: Iterable[bool | None]) -> bool | None:
    undecided = False
    for answer in answers:
        if answer is False:
            return False
        undecided |= answer is None
    return None if undecided else True


def _json_in(text: str | None, values: Iterable[Scalar]) -> bool | None:
    """Whether the JSON text of a data value (`""`: missing or null) equals one of the
    query's scalars, as insights.conditions compares them; None when `text` is None."""
    if text is None:
        return None
    parsed = json.loads(text, parse_float=Decimal, parse_int=Decimal) if text else None
    for value in values:
        if value is None:
            found = parsed is None
        elif isinstance(value, bool):
            found = parsed is value
        elif isinstance(value, str):
            found = isinstance(parsed, str) and parsed == value
        else:
            found = isinstance(parsed, Decimal) and parsed == Decimal(repr(value))
        if found:
            return True
    return False


def qualifies(query: Query) -> bool:
    if any(metric.kind not in COUNT_METRICS for metric in query.metrics):
        return False
    fields = [dim.field for dim in query.series_dimensions]
    data = [f for f in fields if f is not None and f.is_data]
    if any(f is None or f.name == "distinct_id" for f in fields) or len(data) > 1:
        return False
    if data and len(data[0].keys) != 1:
        return False
    predicate = log_predicate(query.filters)
    if predicate is None:
        return False
    key = predicate[1]  # the filters' key: the breakdown's, if it has one
    return key is None or not data or data[0].keys[0] == key


# A group's tallies are keyed by (its series' values as the logs' SQL gives them, its
# time bucket's key or None).
Groups = dict[tuple[tuple, str | None], Tally]


class SetReader:
    """The tallies of a qualifying query's groups over a window, from the sets and the
    logs; `aliases` name the breakdowns (the engine's d0, d1…) in the query's order."""

    def __init__(
        self,
        query: Query,
        sets: UserSets,
        logs: QuerySet,
        exprs: dict[str, Any],
        aliases: dict[str, str],
        tz: ZoneInfo,
    ) -> None:
        self.query, self.sets, self.logs, self.tz = query, sets, logs, tz
        self.exprs = exprs  # the breakdowns' expressions by alias, as the engine groups by
        self.dims = [(aliases[dim.name], dim) for dim in query.series_dimensions]
        self.time = (aliases[query.time.name], query.time.interval) if query.time else None
        data = [dim.field.keys[0] for _, dim in self.dims if dim.field.is_data]
        found = log_predicate(query.filters)
        assert found is not None  # noqa: S101 - only for a query that qualifies
        self.passes, filtered = found
        self.key = data[0] if data else filtered  # the key whose values' sets are read
        self.by_event = any(dim.field.name == "event" for _, dim in self.dims)

    def tallies(self, lower: dt.datetime | None, upper: dt.datetime | None) -> Groups | None:
        """The groups' tallies, or None when the window is open or too short for the
        sets to pay, or the logs would answer sooner."""
        if lower is None or upper is None or not sets_ready():
            return None
        first, end = whole_hours(lower, upper)
        hours = (end - first) // HOUR
        if hours < MIN_HOURS:
            return None
        bucket_of = self._buckets(first, end)
        if bucket_of is None or len(bucket_of) < (1 - MAX_LOG_SHARE) * hours:
            return None  # hour buckets of a :30 zone: every hour is cut
        names = dict(self.sets.events.values_list("id", "name"))
        # The events whose logs may pass (every one when the data key decides).
        chosen = {pk: name for pk, name in names.items() if self.passes(name, None) is not False}
        whole = len(chosen) == len(names) and not self.by_event and self.key is None
        found = self._read_sets(first, end, None if whole else sorted(chosen))
        groups, used, crowded = self._from_sets(found, chosen, bucket_of, whole=whole)
        unbuilt = [hour for hour in hours_between(first, end) if hour not in used]
        if max(map(len, crowded.values()), default=0) > MAX_LOG_SHARE * len(used):
            return None  # a key with many values (a page path): its logs answer sooner
        spans = [(None, span) for span in stretches(lower, upper, first, end, unbuilt)]
        for event_id, hours in crowded.items():
            spans += [(event_id, span) for span in stretches(None, None, first, end, hours)]
        if len(spans) > MAX_LOG_RANGES:
            return None
        ranges = [
            (event, start, stop)
            for event_id, (start, stop) in spans
            for event in (sorted(chosen) if event_id is None else [event_id])
        ]
        self._read_logs(ranges, chosen, {name: pk for pk, name in names.items()}, groups)
        return groups

    def _buckets(self, first: dt.datetime, end: dt.datetime) -> dict[dt.datetime, str | None]:
        """{hour: its time bucket's key} of the hours of [first, end) that lie whole inside
        one bucket (every hour, keyed None, without a time breakdown); None when there
        are too many buckets (the logs' path says so)."""
        if self.time is None:
            return dict.fromkeys(hours_between(first, end))
        try:
            edges, keys = bucket_edges(first, end, self.time[1], self.tz)
        except TooManyBuckets:
            return None
        bucket_of = {}
        for start, stop, key in zip(edges, edges[1:], keys, strict=False):
            bucket_of |= dict.fromkeys(hours_between(*whole_hours(start, stop)), key)
        return bucket_of

    def _from_sets(
        self,
        found: list[tuple],
        chosen: dict[int, str],
        bucket_of: dict[dt.datetime, str | None],
        *,
        whole: bool,
    ) -> tuple[Groups, set[dt.datetime], dict[int, list[dt.datetime]]]:
        """The groups' tallies from the sets `found`, the hours they answered for (built,
        inside a bucket), and the hours of each event whose key has too many values to
        have sets (to read from the logs)."""
        groups: Groups = defaultdict(Tally)
        used = {
            hour
            for kind, event_id, hour, *_ in found
            if kind == 0 and event_id is None and hour in bucket_of
        }
        valued = {(event_id, hour) for kind, event_id, hour, *_ in found if kind == 1}
        crowded: dict[int, list[dt.datetime]] = defaultdict(list)
        for kind, event_id, hour, value, events, user_events, users, keys in found:
            if hour not in used:
                continue  # cut by a bucket's edge: read from the logs
            bucket = bucket_of[hour]
            if kind == 1:  # a value of the key
                if not self.passes(chosen[event_id], value):
                    continue
                group = (self._series(chosen[event_id], value or None), bucket)
            elif (event_id is None) != whole:
                continue  # the hour's own set when no event is picked out, else the events'
            elif self.key is not None and self.key in keys:
                crowded[event_id].append(hour)
                continue
            elif self.key is not None and (event_id, hour) in valued:
                continue  # counted by its values
            else:  # no key, or a key missing from every log of the event's hour
                if self.key is not None and not self.passes(chosen[event_id], ""):
                    continue
                group = (self._series(chosen.get(event_id), None), bucket)
            groups[group].add_set(events, user_events, users)
        return groups, used, crowded

    def _series(self, event_name: str | None, value: str | None) -> tuple:
        return tuple(event_name if dim.field.name == "event" else value for _, dim in self.dims)

    def _read_sets(self, first: dt.datetime, end: dt.datetime, events: list[int] | None):
        """(kind, event, hour, value, events, user events, users, crowded keys) of every
        set of [first, end) whose hour has no pending increment: kind 0 an hour's (with
        the hour's own row, event NULL), kind 1 a value's of the key; one statement."""
        fresh = {"hour__gte": first, "hour__lt": end}
        pending = self.sets.pending.values("hour")
        hours = self.sets.hours.filter(**fresh).exclude(hour__in=pending)
        if events is not None:
            hours = hours.filter(Q(event__isnull=True) | Q(event_id__in=events))
        else:
            hours = hours.filter(event__isnull=True)
        parts = [
            hours.order_by().values_list(
                "event_id", "hour", "events", "user_events", "users", "crowded_keys"
            )
        ]
        if self.key is not None and events:
            parts.append(
                self.sets.properties.filter(**fresh, key=self.key, event_id__in=events)
                .exclude(hour__in=pending)
                .order_by()
                .values_list("event_id", "hour", "value", "events", "user_events", "users")
            )
        hours_sql, params = parts[0].query.sql_with_params()
        sql = f"SELECT 0, e, h, NULL, n, u, s, k FROM ({hours_sql}) AS hours(e, h, n, u, s, k)"  # noqa: S608
        if len(parts) > 1:
            values_sql, values_params = parts[1].query.sql_with_params()
            sql += (
                " UNION ALL SELECT 1, e, h, v, n, u, s, NULL "  # noqa: S608
                f"FROM ({values_sql}) AS props(e, h, v, n, u, s)"
            )
            params = (*params, *values_params)
        # Only the querysets' SQL goes into the text; their values travel as parameters.
        with connections[self.logs.db].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [(*row[:-1], _keys(row[-1])) for row in rows]

    def _read_logs(
        self,
        ranges: list[tuple[int, dt.datetime, dt.datetime]],
        chosen: dict[int, str],
        event_ids: dict[str, int],
        groups: Groups,
    ) -> None:
        """Add the logs that pass the filters in `ranges` (event id, half-open range of
        instants) to `groups`: one row per group, its users as numbers and, without one,
        as distinct_ids, in one statement (the recent hours of a busy tenant hold
        hundreds of thousands of logs). `chosen`: the events whose logs may pass, by id;
        `event_ids`: the tenant's by name. The logs are joined to the list of ranges, so
        each is read by its own scan of `(tenant, event, timestamp)`, whatever the
        planner's statistics say of the newest rows (they lag: an ORed condition on the
        instants alone once read a burst of 170 k logs through `(tenant, timestamp)` to
        keep 9 k), and never joined to the events by name (a join per log cost seconds)."""
        if not ranges:
            return
        aliases = [alias for alias, _ in self.dims]
        exprs = {
            alias: F("event_id") if dim.field.name == "event" else self.exprs[alias]
            for alias, dim in self.dims
        }
        if self.time is not None:
            aliases.append(self.time[0])
            exprs[self.time[0]] = self.exprs[self.time[0]]
        logs = (
            self.logs.filter(filters_q(self.query.filters, event_ids))
            .order_by()
            .annotate(**exprs)
            .values(*aliases, "distinct_id", "count", "event_id", "timestamp")
        )
        try:
            rows, params = logs.query.sql_with_params()
        except EmptyResultSet:  # the filters pass nothing
            return
        known, known_params = self.sets.numbers.values("id", "distinct_id").query.sql_with_params()
        connection = connections[self.logs.db]
        quote = connection.ops.quote_name
        groups_sql = ", ".join(f"r.{quote(alias)}" for alias in aliases)
        # Only the querysets' SQL and this module's aliases go into the text; their values
        # travel as parameters.
        sql = (
            f"SELECT {groups_sql + ', ' if aliases else ''}sum(r.count)::bigint, "  # noqa: S608
            "(sum(r.count) FILTER (WHERE r.distinct_id <> ''))::bigint, "
            "array_agg(DISTINCT n.id) FILTER (WHERE n.id IS NOT NULL), "
            "array_agg(DISTINCT r.distinct_id) FILTER (WHERE n.id IS NULL AND r.distinct_id <> '') "
            f"FROM ({rows}) AS r "
            "JOIN unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
            "AS s(event_id, lower, upper) ON r.event_id = s.event_id "
            "AND r.timestamp >= s.lower AND r.timestamp < s.upper "
            f"LEFT JOIN ({known}) AS n ON n.distinct_id = r.distinct_id"
            f"{' GROUP BY ' + groups_sql if aliases else ''}"
        )
        event_column, lowers, uppers = (list(column) for column in zip(*ranges, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(sql, (*params, event_column, lowers, uppers, *known_params))
            found = cursor.fetchall()
        key_of = self._bucket_key(logs.query.annotations, connection)
        for *group, events, user_events, numbers, strays in found:
            if events is None:  # no log at all (an aggregate without groups)
                continue
            bucket = None if key_of is None else key_of(group.pop())
            names = (chosen[value] if dim.field.name == "event" else value
                     for value, (_, dim) in zip(group, self.dims, strict=True))  # fmt: skip
            tally = groups[tuple(names), bucket]
            tally.events += events
            tally.user_events += user_events or 0
            tally.users |= BitMap64(numbers or ())
            tally.strays.update(strays or ())

    def _bucket_key(self, expressions: dict, connection: Any) -> Callable[[Any], str] | None:
        """The time bucket's key of a value of the logs' time expression as a cursor
        reads it, converted first as the ORM would (a truncated local time made aware in
        its zone); None without a time breakdown."""
        if self.time is None:
            return None
        alias, interval = self.time
        expression = expressions[alias]
        converters = connection.ops.get_db_converters(expression)
        converters += expression.get_db_converters(connection)

        def key(value: Any) -> str:
            for converter in converters:
                value = converter(value, expression, connection)
            return bucket_key(value, interval, self.tz)

        return key


def _keys(value: Any) -> list[str]:
    """The crowded keys' JSON column as the backend returns it: text, or None."""
    return json.loads(value) if isinstance(value, str) else list(value or ())
