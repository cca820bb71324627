"""The read-only pages of a shared dashboard: `/share/<token>` (no login), its tiles'
charts and data. A revoked or unknown token is a 404; nothing else of the tenant is
reachable from them, and no user is named (a funnel's dropped users are not listed)."""

import datetime as dt

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.tenancy import scope_to_tenant
from core import exceptions
from core.deadline import with_statement_deadline
from insights.boards import board_tiles, tile_answer, tiles_of
from insights.models import Dashboard
from stats.charts.render import cached_png, chart_etag, draw_chart, etag_matches
from stats.charts.spec import ChartSpec
from stats.models import Annotation
from stats.selectors import annotation_marks


def shared_dashboard(token: str) -> Dashboard:
    # A token names one dashboard of one tenant; on Citus this one lookup asks every shard.
    dashboard = Dashboard.objects.filter(share_token=token).select_related("tenant").first()
    if dashboard is None or not dashboard.tenant.is_active:
        raise Http404("No such shared dashboard.")
    return dashboard


@require_safe
@with_statement_deadline
def dashboard_page(request, token: str) -> HttpResponse:
    dashboard = shared_dashboard(token)
    tiles = board_tiles(dashboard)
    return render(
        request, "insights/share.html", {"dashboard": dashboard, "tiles": tiles, "token": token}
    )


@require_safe
@with_statement_deadline
def tile(request, token: str, tile: str, format: str | None = None) -> HttpResponse:
    # A tile is data, its 404 JSON: answered here, as Http404 would be Django's HTML
    # page under DEBUG (web.errors answers JSON at this path otherwise).
    try:
        dashboard = shared_dashboard(token)
    except Http404:
        return exceptions.not_found(request)
    found = tiles_of(dashboard).filter(pk=tile).first()
    if found is None:
        return exceptions.not_found(request)
    answer, tz = tile_answer(dashboard, found.insight)
    if "error" in answer:  # a 400 in either format, as the insight's own results route
        return JsonResponse(answer, status=400)
    if format != "png":
        return JsonResponse(answer)
    bounds = [
        None if bound is None else dt.datetime.fromisoformat(bound)
        for bound in answer["date_range"].values()
    ]
    notes = scope_to_tenant(Annotation.objects.all(), dashboard.tenant)
    spec = ChartSpec(
        kind=found.insight.kind,  # each kind's chart is named after it
        interval=_interval(answer),
        tz=tz.key,
        caption=f"{found.insight.name} · {tz.key}",
        annotations=annotation_marks(notes, *bounds) if found.insight.kind == "query" else (),
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
