"""The insights cases of the bench: each route over HTTP beside a hand-written SQL
statement that computes the same numbers straight through psycopg (the raw-SQL
baseline), on the largest tenant of the bench dataset.

The dataset's `data` holds a `plan` (free, pro, team) and a `path` (500 pages); its
50,000 users are spread evenly over the year, so a 30-day range reads about 8 % of a
tenant's events.
"""

import datetime as dt
import json
from dataclasses import dataclass

from bench.dataset import Tenant
from bench.stats_sql import date_range


@dataclass(frozen=True)
class Case:
    name: str  # the report's row
    method: str
    path: str
    body: dict | None
    baseline: tuple[str, ...]  # SQL with literal parameters (integers and ISO dates only)
    goal_ms: float  # p95 at 10 M events


def cases(tenant: Tenant, today: dt.date) -> list[Case]:
    start30, end30 = date_range(30, today)
    start90, end90 = date_range(90, today)
    start56, _ = date_range(56, today)
    ids = tenant.event_ids
    pageview = ids["pageview"]
    in_range = (
        f"tenant_id = {tenant.id} AND timestamp >= '{start30}T00:00:00Z' "
        f"AND timestamp < '{end30 + dt.timedelta(days=1)}T00:00:00Z'"
    )
    # Exact or approximate, the floor is the same: each day's distinct users in raw SQL.
    daily_users = (
        "SELECT timestamp::date, count(DISTINCT distinct_id) FROM events_eventlog "  # noqa: S608
        f"WHERE tenant_id = {tenant.id} AND timestamp >= '{start90}T00:00:00Z' "
        f"AND timestamp < '{end90 + dt.timedelta(days=1)}T00:00:00Z' "
        "AND distinct_id <> '' GROUP BY 1",
    )
    dau = f"/api/stats/active_users?start_date={start90}&end_date={end90}&tz=UTC"
    return [
        Case(
            name="`POST /api/query` 30 days: uniques by data.plan, filtered on the event",
            method="POST",
            path="/api/query",
            body={
                "metrics": ["uniques"],
                "breakdown": ["data.plan"],
                "filters": [["eq", "event", "pageview"]],
                "date_range": {"start": str(start30), "end": str(end30)},
                "tz": "UTC",
            },
            baseline=(
                "SELECT data -> 'plan', count(DISTINCT distinct_id) FROM events_eventlog "  # noqa: S608
                f"WHERE {in_range} AND event_id = {pageview} AND distinct_id <> '' GROUP BY 1",
            ),
            goal_ms=300.0,
        ),
        Case(
            name="`GET /api/stats/active_users` DAU over 90 days",
            method="GET",
            path=dau,
            body=None,
            baseline=daily_users,
            goal_ms=500.0,
        ),
        Case(
            name="`GET /api/stats/active_users` DAU over 90 days, `approximate=true`",
            method="GET",
            path=f"{dau}&approximate=true",
            body=None,
            baseline=daily_users,
            goal_ms=500.0,
        ),
        Case(
            name="`POST /api/funnels` 30 days: pageview → signup → purchase within 14 days",
            method="POST",
            path="/api/funnels",
            body={
                "steps": ["pageview", "signup", "purchase"],
                "window": "14d",
                "date_range": {"start": str(start30), "end": str(end30)},
                "tz": "UTC",
            },
            # The floor: reading the rows the funnel follows, in raw SQL.
            baseline=(
                "SELECT distinct_id, timestamp, event_id FROM events_eventlog "  # noqa: S608
                f"WHERE tenant_id = {tenant.id} AND timestamp >= '{start30}T00:00:00Z' "
                f"AND timestamp < '{end30 + dt.timedelta(days=15)}T00:00:00Z' AND event_id IN "
                f"({pageview}, {ids['signup']}, {ids['purchase']}) AND distinct_id <> ''",
            ),
            goal_ms=1000.0,
        ),
        Case(
            name="`POST /api/retention` 8 weekly cohorts of first signups, returning to purchase",
            method="POST",
            path="/api/retention",
            body={
                "cohort": {"event": "signup"},
                "return": {"event": "purchase"},
                "period": "week",
                "periods": 8,
                "date_range": {"start": str(start56), "end": str(today)},
                "tz": "UTC",
            },
            # The floor: each user's first signup, and the weeks of their purchases.
            baseline=(
                "SELECT distinct_id, min(timestamp) FROM events_eventlog "  # noqa: S608
                f"WHERE tenant_id = {tenant.id} AND event_id = {ids['signup']} "
                "AND distinct_id <> '' GROUP BY 1",
                "SELECT DISTINCT distinct_id, date_trunc('week', timestamp) "  # noqa: S608
                f"FROM events_eventlog WHERE tenant_id = {tenant.id} "
                f"AND event_id = {ids['purchase']} AND timestamp >= '{start56}T00:00:00Z' "
                "AND distinct_id <> ''",
            ),
            goal_ms=1000.0,
        ),
    ]


def body_bytes(case: Case) -> bytes | None:
    return None if case.body is None else json.dumps(case.body).encode()
