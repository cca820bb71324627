"""The SQL behind each stats endpoint, captured from the app's own selectors, then run
directly with psycopg (the baseline) and explained.

The view hands the selector querysets scoped to the caller's tenant; calling the
selector the same way under `CaptureQueriesContext` yields exactly the statements
the endpoint runs (Django's psycopg 3 backend binds on the client, so the captured
text carries its parameters): one from raw rows, one to a few from the rollups (the
daily one, and the hourly one around the range's edges). `source="rollup"` and
`source="raw"` give the same answer: their ratio is the rollups' payoff.
"""

import datetime as dt
import re
import statistics
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

UTC = ZoneInfo("UTC")
_INDEX = re.compile(r"(Index Only Scan|Index Scan)(?: Backward)? using (\S+)")
_BITMAP = re.compile(r"(Bitmap Index Scan) on (\S+)")
_SEQ = re.compile(r"((?:Parallel )?Seq Scan) on (\S+)")


@dataclass(slots=True)
class Timing:
    runs: int
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict:
        return {"runs": self.runs, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms}


TRANSACTION_CONTROL = frozenset({"BEGIN", "SET", "COMMIT", "ROLLBACK"})


def date_range(days: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """The last `days` days, today included (the stats ranges are inclusive)."""
    return today - dt.timedelta(days=days - 1), today


def captured_sql(
    endpoint: str, tenant_id: int, days: int, today: dt.date, source: str, tz: ZoneInfo = UTC
) -> list[str]:
    """The statements the selector runs for this endpoint, range, source and time zone
    (source "auto": what the endpoint itself picks for the zone), as the view calls it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
    from stats import selectors

    start, end = date_range(days, today)
    rows = {
        "rollup": HourlyCountTotal.objects.filter(tenant_id=tenant_id),
        "daily": DailyCountTotal.objects.filter(tenant_id=tenant_id),
    }
    with CaptureQueriesContext(connection) as captured:
        if endpoint == "event_trend":
            selectors.event_trend(
                logs=EventLog.objects.filter(tenant_id=tenant_id),
                events=Event.objects.filter(tenant_id=tenant_id),
                **rows,
                start=start,
                end=end,
                tz=tz,
                interval="day",
                source=source,
            )
        else:
            selectors.event_frequency(
                events=Event.objects.filter(tenant_id=tenant_id),
                **rows,
                start=start,
                end=end,
                tz=tz,
                source=source,
            )
    # Its reads only: the transaction that makes them one snapshot (core.sql.one_snapshot:
    # BEGIN, SET TRANSACTION …, COMMIT, which Django logs too) answers no rows.
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].split(None, 1)[0].upper() not in TRANSACTION_CONTROL
    ]


def sample(run, *, min_runs: int, max_runs: int, budget_s: float) -> Timing:
    """Time `run()` at least min_runs and at most max_runs times, stopping early once
    budget_s is spent; p50/p95 in milliseconds."""
    samples: list[float] = []
    spent_until = time.perf_counter() + budget_s
    while len(samples) < max_runs and (
        len(samples) < min_runs or time.perf_counter() < spent_until
    ):
        begin = time.perf_counter()
        run()
        samples.append((time.perf_counter() - begin) * 1000)
    return summarize(samples)


def sample_pair(
    first, second, *, min_runs: int, max_runs: int, budget_s: float
) -> tuple[Timing, Timing]:
    """Time two callables alternately (first, second, first, …) so that both see the
    same machine load; stops like `sample`, the budget covering both."""
    samples: tuple[list[float], list[float]] = ([], [])
    spent_until = time.perf_counter() + budget_s
    while len(samples[0]) < max_runs and (
        len(samples[0]) < min_runs or time.perf_counter() < spent_until
    ):
        for run, into in ((first, samples[0]), (second, samples[1])):
            begin = time.perf_counter()
            run()
            into.append((time.perf_counter() - begin) * 1000)
    return summarize(samples[0]), summarize(samples[1])


def run_sql(conn: psycopg.Connection, statements: list[str]) -> None:
    for statement in statements:
        _run(conn, statement)


def time_sql(
    conn: psycopg.Connection,
    statements: list[str],
    *,
    min_runs: int,
    max_runs: int,
    budget_s: float,
) -> Timing:
    """Run the statements directly, one after the other, fetching every row (call
    `explain` first: its run warms the cache)."""
    return sample(
        lambda: run_sql(conn, statements), min_runs=min_runs, max_runs=max_runs, budget_s=budget_s
    )


def summarize(samples_ms: list[float]) -> Timing:
    ordered = sorted(samples_ms)
    return Timing(len(ordered), statistics.median(ordered), percentile(ordered, 95))


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def explain(conn: psycopg.Connection, statements: list[str]) -> tuple[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) text of each statement, and the scans they use
    ("index name (scan kind)")."""
    plan = "\n\n".join(
        "\n".join(row[0] for row in _run(conn, "EXPLAIN (ANALYZE, BUFFERS) " + statement))
        for statement in statements
    )
    scans = [
        f"{name} ({kind})"
        for pattern in (_INDEX, _BITMAP, _SEQ)
        for kind, name in pattern.findall(plan)
    ]
    return plan, list(dict.fromkeys(scans))


def _run(conn: psycopg.Connection, statement: str) -> list:
    # The statement is the app's own query, captured from its selector with literal
    # parameters; it is replayed verbatim, never built from outside input.
    with conn.cursor() as cursor:
        cursor.execute(statement)  # type: ignore[arg-type]
        return cursor.fetchall()
