"""Insights read as saved: each kind's parser and computation, and a dashboard's tiles
over its range and zone (for the API, the shared page and the dashboard pages)."""

from dataclasses import dataclass
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.tenancy import scope_to_tenant, scope_to_tenants
from events.models import EventLog
from insights.engine import run_query
from insights.funnels import parse_funnel, run_funnel
from insights.models import Dashboard, DashboardTile, Insight
from insights.retention import parse_retention, run_retention
from insights.spec import QueryError, parse_query
from insights.tables import answer_table
from stats.buckets import TooManyBuckets

PARSERS = {
    Insight.Kind.QUERY: parse_query,
    Insight.Kind.FUNNEL: parse_funnel,
    Insight.Kind.RETENTION: parse_retention,
}
COMPUTE = {
    Insight.Kind.QUERY: run_query,
    Insight.Kind.FUNNEL: run_funnel,
    Insight.Kind.RETENTION: run_retention,
}


def tiles_of(dashboard: Dashboard) -> QuerySet[DashboardTile]:
    """The dashboard's tiles in order, with their insights: read within its tenant (on
    Citus, from its one shard)."""
    tiles = DashboardTile.objects.filter(dashboard=dashboard).select_related("insight")
    return scope_to_tenants(tiles, [dashboard.tenant_id])


def over_dashboard(definition: dict, dashboard: Dashboard) -> dict:
    """An insight's definition read over its dashboard's range and zone, where set."""
    if dashboard.date_range is not None:
        definition["date_range"] = dashboard.date_range
    if dashboard.tz:
        definition["tz"] = dashboard.tz
    return definition


def tile_answer(dashboard: Dashboard, insight: Insight) -> tuple[dict[str, Any], ZoneInfo]:
    """The insight computed now over the dashboard's range and zone, from its tenant's
    logs; one that no longer reads (a definition of an older release, a range grown
    too long for its buckets) answers {"error": …}."""
    definition = over_dashboard(dict(insight.definition), dashboard)
    try:
        parsed = PARSERS[insight.kind](definition)
        tz = parsed.tz or ZoneInfo(dashboard.tenant.timezone)
        logs = scope_to_tenant(EventLog.objects.all(), dashboard.tenant)
        answer = COMPUTE[insight.kind](parsed, logs=logs, tz=tz, now=timezone.now())
    except (QueryError, TooManyBuckets) as exc:
        return {"error": str(exc)}, ZoneInfo("UTC")
    answer.pop("query", None)
    return answer, tz


@dataclass(frozen=True)
class BoardTile:
    """A tile as a dashboard page shows it: `answer` None when it was not computed."""

    tile: DashboardTile
    answer: dict[str, Any] | None
    table: dict | None

    @property
    def insight(self) -> Insight:
        return self.tile.insight


def board_tiles(dashboard: Dashboard) -> list[BoardTile]:
    """The dashboard's tiles for a page, in order, each answered and as a table, until
    the page has taken as long as one stats statement may (STATS_STATEMENT_TIMEOUT_MS):
    the tiles left are listed unanswered, for their own address (their chart, their
    data), each a request with its own deadline. Every tile within one request, up to
    50 of a statement's timeout each, held a worker for minutes, and a shared page is
    anyone's with the link."""
    budget = settings.EVENTTRACKER["STATS_STATEMENT_TIMEOUT_MS"] / 1000
    started = monotonic()
    shown = []
    for tile in tiles_of(dashboard):
        if budget and monotonic() - started > budget:
            shown.append(BoardTile(tile, None, None))
            continue
        answer, _ = tile_answer(dashboard, tile.insight)
        shown.append(BoardTile(tile, answer, answer_table(answer)))
    return shown
