"""The web analytics page of the dashboard (/dashboard/web/): a site's headline numbers
beside the previous period's, visitors per day or hour, and its top pages, sources,
countries and devices, every row a link that filters the whole page. Drawn on the
server (the chart is inline SVG): the numbers read without JavaScript, fast on a phone."""

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.tenancy import scope_to_tenant
from core.deadline import with_statement_deadline
from events.models import EventLog
from insights.engine import previous_window, resolve_window
from insights.spec import DateRange, Group, QueryError, parse_filters
from web.views import allow, page, refused, tenant_page
from webimports.models import ImportedDay
from webstats.filters import ENTRY_PAGE, web_filters
from webstats.sessions import headline_of, realtime, web_stats

PERIODS = {
    "today": "Today",
    "7d": "7 days",
    "30d": "30 days",
    "month": "This month",
    "year": "This year",
}
# The panels: the answer's list, its title, the property a row's link filters on (None:
# rows are not links).
PANELS = (
    ("pages", "Top pages", "$pathname"),
    ("entry_pages", "Entry pages", ENTRY_PAGE),
    ("exit_pages", "Exit pages", "$pathname"),
    ("sources", "Sources", "$source"),
    ("channels", "Channels", "$channel"),
    ("utm_campaigns", "Campaigns", "$utm_campaign"),
    ("countries", "Countries", "$country"),
    ("devices", "Devices", "$device_type"),
    ("browsers", "Browsers", "$browser"),
    ("oses", "Operating systems", "$os"),
    ("outbound_links", "Outbound links", None),  # clicks (the links add-on): not filters
    ("downloads", "File downloads", None),
)
FILTERABLE = frozenset(prop for _, _, prop in PANELS if prop)
HEADLINE = (
    ("visitors", "Visitors", "{:,}"),
    ("visits", "Visits", "{:,}"),
    ("pageviews", "Page views", "{:,}"),
    ("views_per_visit", "Views per visit", "{:.2f}"),
    ("bounce_rate", "Bounce rate", "{:.0%}"),
    ("visit_duration", "Visit duration", "{:.0f} s"),
)
RATES = frozenset({"bounce_rate"})  # changes in percentage points
LIMIT = 8
REALTIME_MINUTES = 5
CHART_WIDTH, CHART_HEIGHT = 720, 160


@tenant_page
@allow("GET")
@with_statement_deadline
def site(request: HttpRequest) -> HttpResponse:
    tenant = request.user.tenant
    period = request.GET.get("period") if request.GET.get("period") in PERIODS else "30d"
    filters = _filters(request.GET.getlist("f"))
    tz = ZoneInfo(tenant.timezone)
    now = timezone.now()
    logs = scope_to_tenant(EventLog.objects.all(), tenant)
    date_range = DateRange(preset=period)
    window = resolve_window(date_range, tz, now)
    # A page filter keeps those page views; any other keeps the visits with that source,
    # entry page, country … and all their pages, as /api/stats/web filters.
    conditions = []
    for prop, value in filters:  # the query language's limits on a value: length, no NUL
        try:
            conditions += parse_filters(["eq", f"data.{prop}", value], "f").children
        except QueryError as exc:
            message = f"The filter f={prop}:… is not valid: {exc.message}"
            return refused(request, title="Bad filter", message=message, status=400)
    chosen = web_filters(Group("and", tuple(conditions)))
    interval = "hour" if period == "today" else "day"
    # Imported days are daily totals: they have no pages or visits to filter.
    imported = None if filters else scope_to_tenant(ImportedDay.objects.all(), tenant)
    answer = web_stats(logs=logs, window=window, tz=tz, session_minutes=tenant.session_minutes,
                       conditions=chosen.events, limit=LIMIT, interval=interval, now=now,
                       visits_with=chosen.visits, imported=imported)  # fmt: skip
    previous = headline_of(
        logs,
        previous_window(date_range, window, tz),
        chosen.events,
        tz=tz,
        session_minutes=tenant.session_minutes,
        visits_with=chosen.visits,
        imported=imported,
    )
    context = {
        "nav": "web",
        "period": period,
        "periods": [(key, label, _link(key, filters)) for key, label in PERIODS.items()],
        "filters": [(p, v, _link(period, [f for f in filters if f != (p, v)])) for p, v in filters],
        "cards": [_card(answer, previous, *spec) for spec in HEADLINE],
        "chart": _chart(answer["timeseries"]),
        "panels": [_panel(answer, period, filters, *spec) for spec in PANELS],
        "realtime": realtime(logs, now=now, minutes=REALTIME_MINUTES)["visitors"],
        "realtime_minutes": REALTIME_MINUTES,
        "imported": answer["imported"],
        "tz": tz.key,
    }
    return page(request, "web/site.html", context)


def _filters(raw: list[str]) -> list[tuple[str, str]]:
    """`f=$source:Google` pairs of the panels' properties, one value per property (the
    last one given: two would never both hold), in the order first given."""
    found: dict[str, str] = {}
    for item in raw:
        prop, _, value = item.partition(":")
        if prop in FILTERABLE and value:
            found[prop] = value
    return list(found.items())


def _link(period: str, filters: list[tuple[str, str]]) -> str:
    query = [("period", period)] + [("f", f"{p}:{v}") for p, v in filters]
    return "?" + urlencode(query)


def _card(answer: dict, previous: dict, key: str, label: str, shape: str) -> dict:
    """A headline number and its change against the period before: in percent of the
    number before, or for a rate, in percentage points (50 % after 40 % is +10 pp, as
    Plausible and Google Analytics show it, not +25 %)."""
    value, before = answer[key], previous[key]
    change, unit = None, "%"
    if key in RATES:
        if value is not None and before is not None:
            change, unit = round(100 * (value - before)), " pp"
    elif value is not None and before:
        change = round(100 * (value - before) / before)
    return {
        "key": key,
        "label": label,
        "value": "—" if value is None else shape.format(value),
        "change": change,
        "unit": unit,
    }


def _panel(
    answer: dict, period: str, filters: list, key: str, title: str, prop: str | None
) -> dict:
    rows = []
    label = "page" if key == "pages" else "value"
    for row in answer[key]:
        value = row[label]
        shown = (
            value if value is not None else ("Direct / none" if prop == "$source" else "Unknown")
        )
        link = None
        if prop and value is not None:  # filters on this row's value, in place of another
            link = _link(period, [f for f in filters if f[0] != prop] + [(prop, value)])
        counts = [row[name] for name in row if name != label]
        rows.append({"value": shown, "link": link, "counts": counts})
    names = [name for name in (answer[key][0] if answer[key] else {}) if name != label]
    return {"key": key, "title": title, "rows": rows, "columns": names}


def _chart(timeseries: list[dict]) -> dict:
    """Bars of visitors per bucket, scaled to the chart's height, titled with the
    bucket's day or local hour as people read them (the keys are ISO 8601)."""
    top = max((row["visitors"] for row in timeseries), default=0) or 1
    width = CHART_WIDTH / max(len(timeseries), 1)
    bars = [
        {
            "x": round(index * width, 1),
            "width": round(max(width - 2, 1), 1),
            "height": round(CHART_HEIGHT * row["visitors"] / top, 1),
            "y": round(CHART_HEIGHT - CHART_HEIGHT * row["visitors"] / top, 1),
            "title": f"{_when(row['date'])}: {row['visitors']} visitors, "
            f"{row['pageviews']} page views",
        }
        for index, row in enumerate(timeseries)
    ]
    span = _span(timeseries[0]["date"], timeseries[-1]["date"]) if timeseries else ""
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "span": span}


def _when(key: str) -> str:
    """A bucket key as read: `Sat 28 Nov 2026` for a day, `Sat 28 Nov 2026, 14:00` for an
    hour (a local time: hour keys carry the zone's offset)."""
    moment = dt.datetime.fromisoformat(key)
    day = f"{moment:%a} {moment.day} {moment:%b %Y}"
    return f"{day}, {moment:%H:%M}" if "T" in key else day


def _span(first: str, last: str) -> str:
    """The chart's range: hours of one day name the day once."""
    if "T" in first and first[:10] == last[:10]:
        return f"{_when(first)} to {dt.datetime.fromisoformat(last):%H:%M}"
    return f"{_when(first)} to {_when(last)}"
