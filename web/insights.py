"""The insight pages of the dashboard: a query builder, a funnel and a retention view
(each a form over its API route, answered as a table and the route's own chart), and
the saved dashboards with their tiles. Everything is the logged-in user's tenant's."""

import json
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import scope_to_tenant
from core.deadline import with_statement_deadline
from events.models import Event, EventLog
from insights.boards import board_tiles
from insights.engine import run_query
from insights.funnels import parse_funnel, run_funnel
from insights.models import Dashboard, Insight
from insights.retention import parse_retention, run_retention
from insights.spec import QueryError, parse_query
from insights.tables import answer_table
from stats.buckets import TooManyBuckets
from web.forms import FunnelForm, QueryBuilderForm, RetentionForm
from web.views import allow, page, tenant_page, tenant_row

# The event names an insight page lists (alphabetically) to help fill its form; more are
# counted, and listed by GET /api/events/.
EVENT_NAMES = 100

KINDS = {
    "query": ("Query builder", QueryBuilderForm, parse_query, run_query, "query"),
    "funnels": ("Funnel", FunnelForm, parse_funnel, run_funnel, "funnels"),
    "retention": ("Retention", RetentionForm, parse_retention, run_retention, "retention"),
}


@tenant_page
@allow("GET")
@with_statement_deadline
def insight_page(request: HttpRequest, kind: str) -> HttpResponse:
    """A form; once submitted (any field of the insight's own), its answer as a table
    and a chart."""
    tenant = request.user.tenant
    title, form_class, parse, run, route = KINDS[kind]
    form = form_class.for_tenant(request.GET, tenant)
    events = scope_to_tenant(Event.objects.all(), tenant).order_by("name")
    names = list(events.values_list("name", flat=True)[: EVENT_NAMES + 1])
    context = {
        "nav": "insights",
        "title": title,
        "kind": kind,
        "form": form,
        "event_names": names[:EVENT_NAMES],
        "event_names_more": events.count() - EVENT_NAMES if len(names) > EVENT_NAMES else 0,
    }
    status = 200
    if form.is_valid():  # never before a submit: the form is unbound until then
        body = form.query()
        try:
            parsed = parse(body)
            tz = parsed.tz or ZoneInfo(tenant.timezone)
            logs = scope_to_tenant(EventLog.objects.all(), tenant)
            answer = run(parsed, logs=logs, tz=tz, now=timezone.now())
        except (QueryError, TooManyBuckets) as exc:
            form.add_error(None, str(exc))
            status = 400
        else:
            q = json.dumps(body, separators=(",", ":"))
            context |= {
                "table": answer_table(answer),
                "chart": _answer_address(route, q, "png"),
                "data": _answer_address(route, q, "csv"),
                "definition": q,
            }
    elif form.is_bound:
        status = 400
    return page(request, "web/insight.html", context, status=status)


def _answer_address(route: str, q: str, format: str) -> str:
    """The answer of the API's route (GET, `q`: the body) in `format`."""
    return f"{reverse(f'{route}-format', kwargs={'format': format})}?{urlencode({'q': q})}"


@tenant_page
@allow("GET")
def boards(request: HttpRequest) -> HttpResponse:
    """The tenant's dashboards and saved insights."""
    tenant = request.user.tenant
    return page(
        request,
        "web/boards.html",
        {
            "nav": "boards",
            "dashboards": scope_to_tenant(Dashboard.objects.all(), tenant).order_by("name"),
            "insights": scope_to_tenant(Insight.objects.all(), tenant).order_by("name"),
        },
    )


@tenant_page
@allow("GET")
@with_statement_deadline
def board(request: HttpRequest, pk: int) -> HttpResponse:
    """One dashboard: its tiles in order, each its chart and its table."""
    dashboard = tenant_row(request, Dashboard, pk)
    tiles = [
        {
            "shown": shown,
            "chart": _tile_address(shown.insight, dashboard, "png")
            if shown.insight.chart != "table"
            else None,
            "data": _tile_address(shown.insight, dashboard),
        }
        for shown in board_tiles(dashboard)
    ]
    return page(
        request, "web/board.html", {"nav": "boards", "dashboard": dashboard, "tiles": tiles}
    )


def _tile_address(insight: Insight, dashboard: Dashboard, format: str | None = None) -> str:
    """A tile's answer alone (GET /api/insights/<id>/results, JSON or `format`), over its
    dashboard."""
    if format is None:
        results = reverse("insight-results", kwargs={"pk": insight.pk})
    else:
        results = reverse("insight-results-format", kwargs={"pk": insight.pk, "format": format})
    return f"{results}?dashboard={dashboard.pk}"
