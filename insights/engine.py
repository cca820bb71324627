"""Running a query (insights.spec) over a tenant's logs: a few grouped SQL statements,
the ranking of series and the time buckets in Python.

Statements: the total of the range; with a breakdown, the totals of every series (a
combination of the non-time breakdown values), exact for every metric; with a time
breakdown, the top series per bucket; with more series than `limit`, the rest as one
"(other)" series. Distinct users are counted by the database over the rows of each
answer, never summed from smaller answers, so every number is exact.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db.models import Count, F, FloatField, Max, Min, Q, QuerySet, Sum
from django.db.models.lookups import Exact, In, IsNull

from core.jsonbody import INT64_MAX, INT64_MIN
from core.ranges import NOTHING, OutOfCalendar, half_open, within_calendar
from core.storedjson import loads_stored
from events.models import EventLog
from events.usersets import UserSets
from insights.conditions import filters_q
from insights.expressions import JsonNumber, JsonRepr
from insights.spec import MAX_ROWS, DateRange, Dimension, Metric, Query, QueryError
from insights.usersets import Groups, SetReader, Tally, combined, qualifies
from stats.buckets import BUCKET_REACH, bucket_key, bucket_keys
from stats.selectors import day_range_bounds, time_bucket

OTHER = "(other)"  # the breakdown value of the series beyond `limit`
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """The half-open range of instants a query reads; None is open."""

    lower: dt.datetime | None
    upper: dt.datetime | None

    def as_json(self, tz: ZoneInfo) -> dict[str, str | None]:
        return {
            "start": self.lower.astimezone(tz).isoformat() if self.lower else None,
            "end": self.upper.astimezone(tz).isoformat() if self.upper else None,
        }


def run_query(
    query: Query,
    *,
    logs: QuerySet[EventLog],
    tz: ZoneInfo,
    now: dt.datetime,
    sets: UserSets | None = None,
) -> dict[str, Any]:
    """The answer to `query` over `logs` (already the tenant's): JSON-ready. With the
    tenant's `sets`, counts come from its hourly user sets where the query allows
    (insights.usersets), the same numbers sooner. Raises QueryError for a range the
    calendar cannot hold and stats.buckets' TooManyBuckets for a time breakdown with
    too many buckets."""
    reach = BUCKET_REACH[query.time.interval] if query.time else NOTHING
    window = resolve_window(query.date_range, tz, now, before=reach, after=reach)
    evaluation = Evaluation(query, logs=logs, tz=tz, now=now, sets=sets)
    answer = {
        "query": query.echo,
        "tz": tz.key,
        "date_range": window.as_json(tz),
        "columns": [dim.name for dim in query.breakdown] + [m.name for m in query.metrics],
        **evaluation.run(window),
    }
    if query.compare:
        # The previous period's rows are the current period's series (Mixpanel and
        # PostHog compare so), each bucket listed, zeros included.
        previous = previous_window(query.date_range, window, tz, reach=reach)
        keyed = evaluation.last_shown if evaluation.series else None
        answer["previous"] = {
            "date_range": previous.as_json(tz),
            **evaluation.run(previous, keyed),
        }
    return answer


def resolve_window(
    date_range: DateRange,
    tz: ZoneInfo,
    now: dt.datetime,
    *,
    before: dt.timedelta = NOTHING,
    after: dt.timedelta = NOTHING,
) -> Window:
    """The instants `date_range` covers in `tz`; a preset counts whole local days up to
    and including today. QueryError (`date_range.start`, `date_range.end`) when the
    window, with the `before` and `after` its computation reads around it, leaves the
    calendar (core.ranges.within_calendar)."""
    window = _window(date_range, tz, now)
    try:
        within_calendar(lower=window.lower, upper=window.upper, tz=tz, before=before, after=after)
    except OutOfCalendar as exc:
        raise QueryError(f"date_range.{exc.side}", exc.message) from None
    return window


def _window(date_range: DateRange, tz: ZoneInfo, now: dt.datetime) -> Window:
    if date_range.preset == "all":
        return Window(None, None)
    if date_range.preset is not None:
        today = now.astimezone(tz).date()
        first = {
            "today": today,
            "yesterday": today - dt.timedelta(days=1),
            "month": today.replace(day=1),
            "year": today.replace(month=1, day=1),
        }.get(date_range.preset)
        last = today - dt.timedelta(days=1) if date_range.preset == "yesterday" else today
        if first is None:  # "<N>d": the last N days, today included
            first = today - dt.timedelta(days=int(date_range.preset[:-1]) - 1)
        return Window(*day_range_bounds(start=first, end=last, tz=tz))
    start, end = date_range.start, date_range.end
    if isinstance(start, dt.datetime) or isinstance(end, dt.datetime):
        lower, upper = _instant(start, tz, "start"), _instant(end, tz, "end")
        # Both aware now (a naive bound read in `tz`): one naive and one aware bound are
        # ordered here, as parse_date_range could not.
        if lower is not None and upper is not None and upper < lower:
            raise QueryError("date_range.end", "Is before start.")
        return Window(lower, upper)
    return Window(*day_range_bounds(start=start, end=end, tz=tz))


def previous_window(
    date_range: DateRange, window: Window, tz: ZoneInfo, *, reach: dt.timedelta = NOTHING
) -> Window:
    """The range of the same length just before `window`: as many whole local days
    before a range of days (DST days keep their length in days), else as long.
    QueryError (`compare`) when it, or what is read `reach` before it, would begin
    before the calendar does."""
    # parse_query refuses open ranges; the calendar's first and last days open them too.
    if window.lower is None or window.upper is None:
        raise QueryError("compare", "Needs a range with a start and an end in the calendar.")
    length = window.upper - window.lower
    try:  # a day more: a range of days may grow by an hour of DST
        within_calendar(lower=window.lower, upper=None, tz=tz, before=length + ONE_DAY + reach)
    except OutOfCalendar:
        raise QueryError("compare", "The previous period begins before the year 1.") from None
    if isinstance(date_range.start, dt.datetime):
        return Window(window.lower - length, window.lower)
    first = window.lower.astimezone(tz).date()
    days = (window.upper.astimezone(tz).date() - first).days
    start = dt.datetime.combine(first - dt.timedelta(days=days), dt.time.min, tzinfo=tz)
    return Window(start, window.lower)


def _instant(value: dt.datetime | None, tz: ZoneInfo, side: str) -> dt.datetime | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
    try:
        return aware.astimezone(dt.UTC)
    except OverflowError:
        raise QueryError(f"date_range.{side}", "Is out of the calendar's range.") from None


@dataclass(frozen=True)
class Shown:
    """The series an answer's rows show: `top` (grouped rows, in order), and whether an
    `(other)` row sums the rest; `rest` and `count` count the series beyond `top` and
    all of them, of the window read."""

    top: list[dict]
    other: bool
    rest: int
    count: int

    @property
    def counts(self) -> dict[str, int]:
        return {"count": self.count, "shown": len(self.top), "other": self.rest}


class Evaluation:
    """One query's SQL and the shaping of its rows, for any window; `last_shown`: the
    series of the last window read unkeyed (those its comparison keys to)."""

    def __init__(
        self,
        query: Query,
        *,
        logs: QuerySet[EventLog],
        tz: ZoneInfo,
        now,
        sets: UserSets | None = None,
    ) -> None:
        self.query, self.logs, self.tz, self.now = query, logs, tz, now
        self.filters = filters_q(query.filters)
        # Aliases, not the column names: "data.plan" is no SQL alias.
        self.alias = {dim.name: f"d{index}" for index, dim in enumerate(query.breakdown)}
        self.exprs = {self.alias[dim.name]: _dimension(dim, tz) for dim in query.breakdown}
        self.sets = None
        if sets is not None and qualifies(query):
            self.sets = SetReader(query, sets, logs, self.exprs, self.alias, tz)
        self.series = [self.alias[dim.name] for dim in query.series_dimensions]
        self.time = self.alias[query.time.name] if query.time else None
        self.aggregates = _aggregates(query.metrics)
        self.per_user = any(m.kind in ("uniques", "events_per_user") for m in query.metrics)
        self.columns = [dim.name for dim in query.breakdown] + [m.name for m in query.metrics]
        self.last_shown: Shown | None = None

    def run(self, window: Window, keyed: Shown | None = None) -> dict[str, Any]:
        """The answer over `window`. With `keyed` (the series another window showed, as
        a comparison's previous period takes the current one's), its rows are those
        series, in that order, zeros where they had no log."""
        if self.sets is not None:
            tallies = self.sets.tallies(window.lower, window.upper)
            if tallies is not None:
                return self.counted(tallies, window, keyed)
        logs = self.logs.filter(half_open("timestamp", window.lower, window.upper))
        logs = logs.filter(self.filters).order_by()
        answer: dict[str, Any] = {}
        if not self.series:
            if self.time is None:
                answer["total"] = self.metrics(self.aggregate(logs))
                answer["rows"] = [answer["total"]]
            else:
                rows, total = self.grouped(logs, [self.time], with_total=True)
                answer["total"] = self.metrics(total)
                by_bucket = {self.bucket(row): row for row in rows}
                answer["rows"] = [
                    self.row({}, key, by_bucket.get(key, {}))
                    for key in self.buckets(by_bucket, window)
                ]
            return answer
        rows, total = self.grouped(logs, self.series, with_total=True)
        answer["total"] = self.metrics(total)
        shown = self.shown(rows, keyed)
        answer["rows"] = self.series_rows(logs, rows, shown, window)
        answer["series"] = shown.counts
        return answer

    def shown(self, rows: list[dict], keyed: Shown | None) -> Shown:
        """The series the rows show: the first `limit` ranked, or those of `keyed`."""
        ranked, top, rest = self.ranked(rows)
        if keyed is None:
            self.last_shown = Shown(top, other=bool(rest), rest=len(rest), count=len(ranked))
            return self.last_shown
        keys = {self.key(row) for row in keyed.top}
        rest = len([row for row in rows if self.key(row) not in keys])
        return Shown(keyed.top, other=keyed.other, rest=rest, count=len(ranked))

    def series_rows(
        self, logs: QuerySet, rows: list[dict], shown: Shown, window: Window
    ) -> list[dict[str, Any]]:
        """The rows of the `shown` series (grouped `rows` hold their aggregates), and of
        the rest as one `(other)` series when shown has it."""
        by_key = {self.key(row): row for row in rows}
        top_q = self.key_q([self.key(row) for row in shown.top])
        if self.time is None:
            answer = [
                self.row(self.labels(row), None, by_key.get(self.key(row), {})) for row in shown.top
            ]
            if shown.other:
                answer.append(self.row(self.other, None, self.aggregate(logs.filter(~top_q))))
            return answer
        # Every series shown: no condition.
        read = logs.filter(top_q) if shown.rest else logs
        cells = {
            (self.key(row), self.bucket(row)): row
            for row in self.grouped(read, [*self.series, self.time])[0]
        }
        others = {}
        if shown.other:
            others = {
                self.bucket(row): row for row in self.grouped(logs.filter(~top_q), [self.time])[0]
            }
        keys = self.buckets({key for _, key in cells} | set(others), window)
        self.check_rows(shown, keys)
        answer = [
            self.row(self.labels(series), key, cells.get((self.key(series), key), {}))
            for series in shown.top
            for key in keys
        ]
        if shown.other:
            answer += [self.row(self.other, key, others.get(key, {})) for key in keys]
        return answer

    def counted(
        self, tallies: Groups, window: Window, keyed: Shown | None = None
    ) -> dict[str, Any]:
        """`run`'s answer from the tallies of every (series, time bucket) group, counted
        from the user sets."""
        answer: dict[str, Any] = {"total": self.metrics(combined(tallies.values()).aggregates())}
        if not self.series and self.time is None:
            answer["rows"] = [answer["total"]]
            return answer
        keys = [None]
        if self.time is not None:
            keys = self.buckets({bucket for _, bucket in tallies}, window)
        if not self.series:
            answer["rows"] = [self.row({}, key, _cell(tallies.get(((), key)))) for key in keys]
            return answer
        series: dict[tuple, Tally] = defaultdict(Tally)  # each series over every bucket
        for (values, _), tally in tallies.items():
            series[values].add(tally)
        shown = self.shown(
            [
                dict(zip(self.series, values, strict=True)) | t.aggregates()
                for values, t in series.items()
            ],
            keyed,
        )
        self.check_rows(shown, keys)
        rows = [
            self.row(self.labels(row), key, _cell(tallies.get((self.key(row), key))))
            for row in shown.top
            for key in keys
        ]
        if shown.other:
            others: dict[str | None, Tally] = defaultdict(Tally)
            visible = {self.key(row) for row in shown.top}
            for (values, bucket), tally in tallies.items():
                if values not in visible:
                    others[bucket].add(tally)
            rows += [self.row(self.other, key, _cell(others.get(key))) for key in keys]
        answer["rows"] = rows
        answer["series"] = shown.counts
        return answer

    def grouped(
        self, logs: QuerySet, aliases: list[str], *, with_total: bool = False
    ) -> tuple[list[dict], dict]:
        """The aggregates of `logs` per value of the breakdowns `aliases`, and with
        `with_total` those of all of `logs` from the same scan ({} otherwise)."""
        if self.per_user:
            return self.grouped_per_user(logs, aliases, with_total=with_total)
        rows = list(
            logs.annotate(**{alias: self.exprs[alias] for alias in aliases})
            .values(*aliases)
            .annotate(**self.aggregates)
        )
        # The groups part the rows (a missing value is a group too): sums add up, the
        # extremes are the groups' extremes.
        return rows, _combined(rows, self.aggregates) if with_total else {}

    def aggregate(self, logs: QuerySet) -> dict:
        """The aggregates of all of `logs`."""
        if self.per_user:
            return self.grouped_per_user(logs, [], with_total=False)[0][0]
        return logs.aggregate(**self.aggregates)

    def grouped_per_user(
        self, logs: QuerySet, aliases: list[str], *, with_total: bool
    ) -> tuple[list[dict], dict]:
        """`grouped` in two steps when distinct users are counted: the aggregates per
        group and user (one hash), then per group, each user one row, so the distinct
        users of a group are its rows. A single COUNT(DISTINCT) sorts every group's
        users instead: half as fast on PostgreSQL at a month of a large tenant. The
        total comes from the same (group, user) pairs, folded per user: one scan of the
        logs for both."""
        pairs = logs.annotate(**{alias: self.exprs[alias] for alias in aliases}).values(
            *aliases, "distinct_id"
        )
        partials = _per_user_partials(self.query.metrics)
        # Users alone (uniques): the pairs need no aggregate, and a hash without one is a
        # seventh cheaper at a month of a large tenant.
        inner = pairs.annotate(**partials) if partials else pairs.distinct()
        compiler = inner.query.get_compiler(using=inner.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # a condition no row can meet (no series to read)
            return ([] if aliases else [{}]), {}
        quote = compiler.connection.ops.quote_name
        by_alias = {alias: column for column, _, alias in compiler.select}
        groups = ", ".join(quote(alias) for alias in aliases)
        totals = _per_user_totals(self.query.metrics, quote)
        # The inner query's values travel as its parameters; only aliases of this module
        # go into the text.
        if with_total and aliases:
            nulls = ", ".join(f"NULL AS {quote(alias)}" for alias in aliases)
            outer = (
                f"WITH pairs AS MATERIALIZED ({sql}) "  # noqa: S608
                f"SELECT 0 AS is_total, {groups}, {totals} FROM pairs GROUP BY {groups} "
                f"UNION ALL SELECT 1, {nulls}, {totals} FROM "
                f"(SELECT distinct_id{_per_user_folds(self.query.metrics)} "
                "FROM pairs GROUP BY distinct_id) AS users"
            )
        else:
            outer = (
                f"SELECT 0 AS is_total, {groups + ', ' if groups else ''}{totals} "  # noqa: S608
                f"FROM ({sql}) AS pairs{' GROUP BY ' + groups if groups else ''}"
            )
        # The groups' values through the converters their expressions have (a date out
        # of SQLite's text, an aware datetime out of a truncated hour).
        converters = compiler.get_converters([by_alias[alias] for alias in aliases])
        with compiler.connection.cursor() as cursor:
            cursor.execute(outer, params)
            names = [column[0] for column in cursor.description][1:]
            rows = cursor.fetchall()
        grouped = [row[1:] for row in rows if not row[0]]
        if converters:
            grouped = compiler.apply_converters(grouped, converters)
        total = next((dict(zip(names, row[1:], strict=True)) for row in rows if row[0]), {})
        grouped = [dict(zip(names, row, strict=True)) for row in grouped]
        return grouped, total

    def key(self, row: dict) -> tuple:
        """A grouped row's series, as the database returned its values."""
        return tuple(row[alias] for alias in self.series)

    def key_q(self, keys: list[tuple]) -> Q:
        """Exactly the logs of the series `keys`: true or false on every row (a NULL
        breakdown value is compared with IS NULL), so its negation is the rest."""
        if len(self.series) == 1:
            expr = self.exprs[self.series[0]]
            values = [key[0] for key in keys if key[0] is not None]
            q = Q(IsNull(expr, False)) & Q(In(expr, values)) if values else Q(pk__in=[])
            return q | Q(IsNull(expr, True)) if any(key[0] is None for key in keys) else q
        q = Q(pk__in=[])
        for key in keys:
            part = Q()
            for alias, value in zip(self.series, key, strict=True):
                expr = self.exprs[alias]
                if value is None:
                    part &= Q(IsNull(expr, True))
                else:
                    part &= Q(IsNull(expr, False)) & Q(Exact(expr, value))
            q |= part
        return q

    def metrics(self, aggregates: dict) -> dict[str, Any]:
        """The metrics of one group; {} (no log) gives zeros, and None where undefined."""
        return {
            metric.name: _metric_value(metric, index, aggregates)
            for index, metric in enumerate(self.query.metrics)
        }

    def labels(self, row: dict) -> dict[str, Any]:
        """A grouped row's series values as the answer shows them."""
        return {
            dim.name: _display(dim, row[self.alias[dim.name]])
            for dim in self.query.series_dimensions
        }

    def row(self, labels: dict, time_key: str | None, aggregates: dict) -> dict[str, Any]:
        """An answer row, its columns in the answer's order."""
        values = labels | self.metrics(aggregates)
        if self.query.time is not None:
            values[self.query.time.name] = time_key
        return {column: values[column] for column in self.columns}

    @property
    def other(self) -> dict[str, str]:
        """The labels of the row that sums the series beyond `limit`."""
        return dict.fromkeys((dim.name for dim in self.query.series_dimensions), OTHER)

    def ranked(self, rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
        """`rows` (one per series) ranked, the first `limit` of them, and the rest."""
        ranked = self.rank(rows)
        return ranked, ranked[: self.query.limit], ranked[self.query.limit :]

    def rank(self, rows: list[dict]) -> list[dict]:
        """Series in the order of `order_by`'s first term that is not the time (default:
        the first metric, largest first), ties by their breakdown values."""
        time_name = self.query.time.name if self.query.time else None
        terms = [term for term in self.query.order_by if term[0] != time_name][:1]
        terms = terms or [(self.query.metrics[0].name, True)]
        shown = {id(row): self.labels(row) | self.metrics(row) for row in rows}
        ranked = sorted(
            rows, key=lambda row: [_sortable(value) for value in shown[id(row)].values()]
        )
        return _ordered(ranked, terms, lambda row, column: shown[id(row)][column])

    def check_rows(self, shown: Shown, keys: list[str]) -> None:
        """QueryError naming `limit` when the series shown, each over every bucket,
        would be more than MAX_ROWS rows: refused before a row is built."""
        series = len(shown.top) + (1 if shown.other else 0)
        if series * len(keys) > MAX_ROWS:
            raise QueryError(
                "limit",
                f"{series} series over {len(keys)} {self.query.time.interval} buckets are "
                f"more than {MAX_ROWS} rows: lower the limit, narrow the range or use a "
                "larger interval.",
            )

    def bucket(self, row: dict) -> str:
        return bucket_key(row[self.time], self.query.time.interval, self.tz)

    def buckets(self, found: Iterable[str], window: Window) -> list[str]:
        """Every bucket of the window (of the data, when open) in the answer's order."""
        keys = bucket_keys(
            window.lower, window.upper, self.query.time.interval, self.tz, list(found), now=self.now
        )
        descending = (self.query.time.name, True) in self.query.order_by
        return keys[::-1] if descending else keys


def _dimension(dim: Dimension, tz: ZoneInfo):
    if dim.interval is not None:
        return time_bucket("timestamp", dim.interval, tz)
    if dim.field.is_data:
        return JsonRepr(dim.field.keys)
    return F("event__name") if dim.field.name == "event" else F("distinct_id")


def _cell(tally: Tally | None) -> dict[str, int]:
    """A group's aggregates, {} for a group without a log (as the logs' SQL leaves it)."""
    return {} if tally is None else tally.aggregates()


def _display(dim: Dimension, value: Any) -> Any:
    """A breakdown value as shown: a data property decoded from its JSON text."""
    if dim.field is not None and dim.field.is_data and value is not None:
        return loads_stored(value)  # as the logs read it (core.storedjson)
    return value


def _aggregates(metrics: tuple[Metric, ...]) -> dict[str, Any]:
    """The SQL aggregates the metrics are computed from, by alias."""
    with_user = ~Q(distinct_id="")
    aggregates: dict[str, Any] = {}
    for index, metric in enumerate(metrics):
        if metric.kind == "events":
            aggregates["a_events"] = Sum("count")
        elif metric.kind in ("uniques", "events_per_user"):
            aggregates["a_uniques"] = Count("distinct_id", distinct=True, filter=with_user)
            if metric.kind == "events_per_user":
                aggregates["a_user_events"] = Sum("count", filter=with_user)
        else:
            number = JsonNumber(metric.field.keys)
            if metric.kind in ("sum", "avg"):
                weighted = Sum(number * F("count"), output_field=FloatField())
                aggregates[f"a{index}_sum"] = weighted
            if metric.kind == "avg":
                aggregates[f"a{index}_weight"] = Sum("count", filter=Q(IsNull(number, False)))
            if metric.kind == "min":
                aggregates[f"a{index}_min"] = Min(number)
            if metric.kind == "max":
                aggregates[f"a{index}_max"] = Max(number)
    return aggregates


def _counts_events(metrics: tuple[Metric, ...]) -> bool:
    """Whether the metrics need the sum of the logs' counts, beside distinct users."""
    return any(metric.kind in ("events", "events_per_user") for metric in metrics)


def _per_user_partials(metrics: tuple[Metric, ...]) -> dict[str, Any]:
    """Per group and user: the sums, minimums and maximums the metrics need."""
    partials: dict[str, Any] = {"p_events": Sum("count")} if _counts_events(metrics) else {}
    for index, metric in enumerate(metrics):
        if metric.field is not None:
            number = JsonNumber(metric.field.keys)
            partials[f"p{index}_sum"] = Sum(number * F("count"), output_field=FloatField())
            partials[f"p{index}_weight"] = Sum("count", filter=Q(IsNull(number, False)))
            partials[f"p{index}_min"] = Min(number)
            partials[f"p{index}_max"] = Max(number)
    return partials


# A numeric property's per-user partials, and how partials of several rows fold into one.
PARTIAL_FOLDS = (("sum", "SUM"), ("weight", "SUM"), ("min", "MIN"), ("max", "MAX"))


def _per_user_folds(metrics: tuple[Metric, ...]) -> str:
    """The per-user partials of several groups folded into one per user (a user's
    partials over the whole range), under the same names: terms that continue a SELECT
    list, each after a comma (none for distinct users alone). Only aliases of this
    module go into the text."""
    columns = {"p_events": "SUM"} if _counts_events(metrics) else {}
    for index, metric in enumerate(metrics):
        if metric.field is not None:
            for part, function in PARTIAL_FOLDS:
                columns[f"p{index}_{part}"] = function
    return "".join(f", {function}({alias}) AS {alias}" for alias, function in columns.items())


def _combined(rows: list[dict], aggregates: dict[str, Any]) -> dict:
    """The aggregates of the union of groups that part the rows, from the groups':
    sums add up (None when every group's is), extremes are the groups' extremes."""
    total = {}
    for alias in aggregates:
        values = [row[alias] for row in rows if row[alias] is not None]
        fold = min if alias.endswith("_min") else max if alias.endswith("_max") else sum
        total[alias] = fold(values) if values else None
    return total


def _per_user_totals(metrics: tuple[Metric, ...], quote) -> str:
    """The SELECT list over the per-user partials, with `_aggregates`' aliases. Only
    aliases of this module go into the text."""
    user = "distinct_id <> ''"
    columns = {"a_uniques": f"SUM(CASE WHEN {user} THEN 1 ELSE 0 END)"}
    if _counts_events(metrics):
        columns["a_events"] = "SUM(p_events)"
        columns["a_user_events"] = f"SUM(CASE WHEN {user} THEN p_events END)"
    for index, metric in enumerate(metrics):
        if metric.field is not None:
            for part, function in PARTIAL_FOLDS:
                columns[f"a{index}_{part}"] = f"{function}(p{index}_{part})"
    return ", ".join(f"{sql} AS {quote(alias)}" for alias, sql in columns.items())


def _metric_value(metric: Metric, index: int, aggregates: dict) -> Any:
    """A metric from its aggregates. A log of `count` n weighs n in sums and averages."""
    kind = metric.kind
    if kind in ("events", "uniques"):
        return int(aggregates.get(f"a_{kind}") or 0)
    if kind == "events_per_user":
        users = aggregates.get("a_uniques") or 0
        return float(aggregates["a_user_events"]) / users if users else None
    if kind == "sum":
        return _number(aggregates.get(f"a{index}_sum") or 0)
    if kind == "avg":
        weight = aggregates.get(f"a{index}_weight") or 0
        return _number(Decimal(aggregates[f"a{index}_sum"]) / weight) if weight else None
    value = aggregates.get(f"a{index}_{kind}")
    return None if value is None else _number(value)


def _number(value: int | float | Decimal) -> int | float:
    """An integer when whole and within 64 bits, as the data's integers are (-2**63 is
    exact); else a float: a whole one beyond them (an average of 1e300s) is no
    301-digit integer."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value()
        return int(value) if whole and INT64_MIN <= value <= INT64_MAX else float(value)
    return int(value) if value.is_integer() and INT64_MIN <= value <= INT64_MAX else value


def _sortable(value: Any) -> tuple:
    """A total order over breakdown values and metrics: numbers, strings, booleans,
    then anything else by its JSON text."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float | Decimal):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, json.dumps(value, sort_keys=True))


def _ordered(items: list, terms: list[tuple[str, bool]], value_of) -> list:
    """`items` sorted by each (column, descending) term, the first term first; None last
    in either direction; stable, so earlier order breaks the remaining ties."""
    for column, descending in reversed(terms):
        present = [item for item in items if value_of(item, column) is not None]
        missing = [item for item in items if value_of(item, column) is None]
        present.sort(key=lambda item: _sortable(value_of(item, column)), reverse=descending)
        items = present + missing
    return items
