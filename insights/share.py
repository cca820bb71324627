"""The read-only pages of a shared dashboard: `/share/<token>` (no login), its tiles'
charts and data. A revoked or unknown token is a 404; nothing else of the tenant is
reachable from them, and no user is named (a funnel's dropped users are not listed)."""

from typing import Any
from zoneinfo import ZoneInfo

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.tenancy import scope_to_tenant
from core.deadline import with_statement_deadline
from events.models import EventLog
from insights.engine import run_query
from insights.funnels import run_funnel
from insights.models import Dashboard, DashboardTile
from insights.retention import run_retention
from insights.serializers import PARSERS
from insights.spec import QueryError
from insights.views import over_dashboard
from stats.buckets import TooManyBuckets
from stats.charts.render import cached_png, chart_etag, draw_chart, etag_matches
from stats.charts.spec import ChartSpec

COMPUTE = {"query": run_query, "funnel": run_funnel, "retention": run_retention}
CHART_KINDS = {"query": "query", "funnel": "funnel", "retention": "retention"}


def shared_dashboard(token: str) -> Dashboard:
    # A token names one dashboard of one tenant; on Citus this one lookup asks every shard.
    dashboard = Dashboard.objects.filter(share_token=token).select_related("tenant").first()
    if dashboard is None or not dashboard.tenant.is_active:
        raise Http404("No such shared dashboard.")
    return dashboard


def tile_answer(dashboard: Dashboard, tile: DashboardTile) -> tuple[dict[str, Any], ZoneInfo]:
    """A tile's insight computed over the dashboard's range and zone; an insight that no
    longer reads (a definition of an older release) answers an `error`."""
    insight = tile.insight
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


@require_safe
@with_statement_deadline
def dashboard_page(request, token: str) -> HttpResponse:
    dashboard = shared_dashboard(token)
    tiles = []
    for tile in dashboard.tiles.select_related("insight"):
        answer, _ = tile_answer(dashboard, tile)
        tiles.append(
            {"tile": tile, "insight": tile.insight, "answer": answer, "table": _table(answer)}
        )
    return render(
        request, "insights/share.html", {"dashboard": dashboard, "tiles": tiles, "token": token}
    )


@require_safe
@with_statement_deadline
def tile(request, token: str, tile: str, format: str | None = None) -> HttpResponse:
    dashboard = shared_dashboard(token)
    found = dashboard.tiles.select_related("insight").filter(pk=tile).first()
    if found is None:
        raise Http404("No such tile.")
    answer, tz = tile_answer(dashboard, found)
    if format != "png":
        return JsonResponse(answer)
    if "error" in answer:
        return JsonResponse(answer, status=400)
    spec = ChartSpec(
        kind=CHART_KINDS[found.insight.kind],
        interval=_interval(answer),
        tz=tz.key,
        caption=f"{found.insight.name} · {tz.key}",
    )
    etag = chart_etag(spec, answer)
    headers = {"ETag": etag, "Cache-Control": "public, no-cache"}
    if etag_matches(etag, request.headers.get("If-None-Match", "")):
        return HttpResponse(status=304, headers=headers)
    png = cached_png(("share", token, found.pk, etag), lambda: draw_chart(spec, answer))
    return HttpResponse(png, content_type="image/png", headers=headers)


def _interval(answer: dict) -> str:
    if "period" in answer:
        return answer["period"]
    time = next((c for c in answer.get("columns", []) if c.startswith("time:")), None)
    return time.removeprefix("time:") if time else "day"


def _table(answer: dict) -> dict | None:
    """The answer as a table for the page (readable without images or scripts)."""
    if "rows" in answer:
        return {
            "header": answer["columns"],
            "rows": [[row[c] for c in answer["columns"]] for row in answer["rows"]],
        }
    if "steps" in answer:
        header = ["step", "event", "users", "conversion_from_first", "median_seconds"]
        return {"header": header, "rows": [[step[c] for c in header] for step in answer["steps"]]}
    if "cohorts" in answer:
        width = max((len(row["values"]) for row in answer["cohorts"]), default=1)
        header = ["cohort", "users", *(str(n) for n in range(width))]
        return {
            "header": header,
            "rows": [[row["cohort"], row["users"], *row["values"]] for row in answer["cohorts"]],
        }
    return None
