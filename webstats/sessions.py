"""Visits (sessions) and the web stats of a range, from the `$pageview` and `$pageleave`
events the tracker sends (enriched at ingestion: events.enrichment), and the
`$outbound` and `$download` clicks of its links add-on.

A visit is a visitor's run of such events with gaps shorter than the tenant's
`session_minutes` (30 by default); its source, campaign, country, device, browser and
OS are those of its first page view, its entry page the first page viewed, its exit
page the last, its duration from its first event to its last (a `$pageleave` carries
the time spent on the last page; the first leave of its last page belongs to it however
long the page was read, a later one after a gap, sent when the page was shown and hidden
again, opens nothing). A visit with a single page view is a bounce. Its
clicks on outbound links and downloads are listed by the link's `url`. Filters on these
properties keep whole visits (webstats.filters).
Visits are cut at the range's edges. Everything is counted exactly, in Python, from
one read of the range's web events.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, Q, QuerySet, Sum, Value, When

from core.ranges import half_open
from core.rounding import round_half_up
from events.enrichment import DOWNLOAD, OUTBOUND, PAGELEAVE, PAGEVIEW
from events.models import EventLog
from insights.engine import Window
from insights.expressions import EpochMicroseconds, JsonText, fetch_rows, instant_of
from stats.buckets import bucket_keys, key_of
from webimports.models import ImportedDay
from webimports.stats import Imported, imported_in

# What a visit is broken down by: the answer's key → the property of its first page view.
VISIT_PROPERTIES = {
    "sources": "$source",
    "channels": "$channel",
    "utm_sources": "$utm_source",
    "utm_mediums": "$utm_medium",
    "utm_campaigns": "$utm_campaign",
    "countries": "$country",
    "devices": "$device_type",
    "browsers": "$browser",
    "oses": "$os",
}
# The clicks of the links add-on: the answer's key → the event.
CLICKS = {"outbound_links": OUTBOUND, "downloads": DOWNLOAD}
WEB_EVENTS = (PAGEVIEW, PAGELEAVE, OUTBOUND, DOWNLOAD)
PATH = "$pathname"
COLUMNS = (PATH, "url", *VISIT_PROPERTIES.values())
MICROS = 1_000_000


@dataclass
class Visit:
    """One visitor's events with no gap longer than the session's. A log stands for its
    `count` page views or clicks (as in every other count of the API): each is kept once
    with that weight, never repeated (a count reaches 2**31 - 1)."""

    visitor: str
    start: int  # microseconds since the epoch
    end: int
    # (path, how many views) and (when, how many views) of each page view log, in order
    pages: list[tuple[str | None, int]] = field(default_factory=list)
    viewed: list[tuple[int, int]] = field(default_factory=list)
    properties: dict[str, Any] | None = None  # of its first page view
    kept: bool = True  # its first page view meets the visit filters
    clicks: list[tuple[str, str | None, int]] = field(default_factory=list)  # (event, url, n)
    left: bool = False  # its last page view's $pageleave has come

    @property
    def pageviews(self) -> int:
        return sum(count for _, count in self.pages)


def web_stats(
    *,
    logs: QuerySet[EventLog],
    window: Window,
    tz: ZoneInfo,
    session_minutes: int,
    conditions: Q,
    limit: int,
    interval: str,
    now: dt.datetime,
    visits_with: Q | None = None,
    imported: QuerySet[ImportedDay] | None = None,
) -> dict[str, Any]:
    """The answer of /api/stats/web. `conditions` select the events read; `visits_with`
    keeps the visits whose first page view meets it, all their events included
    (webstats.filters splits a request's filters into the two).
    `imported`: the tenant's imported days (webimports), added to the numbers of the
    whole days of the range; an hourly timeseries has none."""
    visits = _visits(logs, window, conditions, session_minutes, visits_with)
    extra = imported_in(imported, window, tz)
    answer = _headline(visits, extra)
    answer["timeseries"] = _timeseries(visits, window, tz, interval, now, extra)
    answer["pages"] = _top(
        _page_counts(visits), limit, ("visitors", "pageviews"), label="page", extra=extra
    )
    answer["entry_pages"] = _top(
        _visit_counts(visits, lambda visit: visit.pages[0][0]),
        limit,
        ("visitors", "visits"),
        extra=extra,
        dimension="entry_pages",
    )
    answer["exit_pages"] = _top(
        _visit_counts(visits, lambda visit: visit.pages[-1][0]),
        limit,
        ("visitors", "visits"),
        extra=extra,
        dimension="exit_pages",
    )
    for key, name in VISIT_PROPERTIES.items():
        counts = _visit_counts(visits, lambda visit, name=name: visit.properties.get(name))
        answer[key] = _top(counts, limit, ("visitors", "visits"), extra=extra, dimension=key)
    for key, name in CLICKS.items():
        answer[key] = _top(_click_counts(visits, name), limit, ("visitors", "events"))
    answer["imported"] = extra.as_json() if extra is not None else None
    return answer


def realtime(logs: QuerySet[EventLog], *, now: dt.datetime, minutes: int) -> dict[str, int]:
    """The visitors with a page view or a page leave in the last `minutes`, and their page
    views (each log's `count`): two aggregates in the database."""
    recent = (
        logs.exclude(distinct_id="")
        .filter(half_open("timestamp", now - dt.timedelta(minutes=minutes), None))
        .filter(Q(event__name=PAGEVIEW) | Q(event__name=PAGELEAVE))
        .order_by()
    )
    return {
        "visitors": recent.values("distinct_id").distinct().count(),
        "pageviews": recent.filter(event__name=PAGEVIEW).aggregate(n=Sum("count"))["n"] or 0,
    }


def headline_of(
    logs: QuerySet[EventLog],
    window: Window,
    conditions: Q,
    *,
    tz: ZoneInfo,
    session_minutes: int,
    visits_with: Q | None = None,
    imported: QuerySet[ImportedDay] | None = None,
) -> dict[str, Any]:
    """The headline numbers alone (a comparison's period before)."""
    visits = _visits(logs, window, conditions, session_minutes, visits_with)
    return _headline(visits, imported_in(imported, window, tz))


def _visits(logs, window, conditions, session_minutes, visits_with) -> list[Visit]:
    rows = web_events(logs, window, conditions, visits_with or Q())
    return [visit for visit in sessions(rows, gap=session_minutes * 60 * MICROS) if visit.kept]


def _headline(visits: list[Visit], imported: Imported | None) -> dict[str, Any]:
    """Visitors, visits, page views, views per visit, bounce rate and mean visit duration
    (seconds), with the imported days' numbers added."""
    numbers = {
        "visitors": len({visit.visitor for visit in visits}),
        "visits": len(visits),
        "pageviews": sum(visit.pageviews for visit in visits),
        "bounces": sum(visit.pageviews == 1 for visit in visits),
        "visit_duration": sum(visit.end - visit.start for visit in visits),  # microseconds
    }
    if imported is not None:
        more = imported.total()
        more["visit_duration"] *= MICROS  # imported in seconds
        numbers = {name: value + more[name] for name, value in numbers.items()}
    count, pageviews = numbers["visits"], numbers["pageviews"]
    micros = numbers["visit_duration"]
    return {
        "visitors": numbers["visitors"],
        "visits": count,
        "pageviews": pageviews,
        "views_per_visit": round_half_up(pageviews, count) if count else None,
        "bounce_rate": round_half_up(numbers["bounces"], count, 4) if count else None,
        "visit_duration": round_half_up(micros, count * MICROS, 1) if count else None,
    }


def sessions(views: Iterable[tuple], *, gap: int) -> list[Visit]:
    """The visits of `views` — (visitor, instant, event, kept, count, path, url,
    properties…) rows — that have a page view."""
    by_visitor: dict[str, list[tuple]] = defaultdict(list)
    for row in views:
        by_visitor[row[0]].append(row)
    visits: list[Visit] = []
    for visitor, rows in by_visitor.items():
        rows.sort(key=lambda row: row[1])
        current: Visit | None = None
        for row in rows:
            instant = row[1]
            if current is None or (instant - current.end >= gap and not _ends(current, row)):
                if current is not None and current.pages:
                    visits.append(current)
                current = Visit(visitor, instant, instant)
            current.end = instant
            count = row[4]
            if row[2] == PAGEVIEW:
                current.pages.append((row[5], count))
                current.viewed.append((instant, count))
                current.left = False
                if current.properties is None:
                    current.properties = dict(zip(COLUMNS[2:], row[7:], strict=True))
                    current.kept = bool(row[3])
            elif row[2] == PAGELEAVE:
                current.left = current.left or _of_last_page(current, row)
            else:
                current.clicks.append((row[2], row[6], count))
        if current is not None and current.pages:
            visits.append(current)
    return visits


def _ends(visit: Visit, row: tuple) -> bool:
    """The first `$pageleave` of the visit's last page ends that view, however long after
    it came: the tracker sends it when the page stops being seen (another page, the tab
    hidden or closed), so a page read for longer than a session was still being read, and
    its time counts in the visit rather than opening an empty one. A later leave of the
    same view ends nothing: the tracker sends one more each time the page is shown again
    and hidden, so the page was not seen all along (a tab hidden one day and looked at the
    next is not a visit of a day)."""
    return row[2] == PAGELEAVE and not visit.left and _of_last_page(visit, row)


def _of_last_page(visit: Visit, row: tuple) -> bool:
    return bool(visit.pages) and row[5] == visit.pages[-1][0]


def web_events(
    logs: QuerySet[EventLog], window: Window, conditions: Q, visits_with: Q
) -> list[tuple]:
    """(visitor, instant, event, kept, count, path, url, the visit properties…) of every web
    event of the range that meets `conditions` (`kept`: it meets `visits_with`), read
    through the cursor."""
    kept = (
        Case(When(visits_with, then=Value(True)), default=Value(False))
        if visits_with
        else Value(True)
    )
    rows = (
        logs.exclude(distinct_id="")
        .filter(half_open("timestamp", window.lower, window.upper))
        .filter(event__name__in=WEB_EVENTS)
        .filter(conditions)
        .annotate(
            instant=EpochMicroseconds("timestamp"),
            kept=kept,
            **{f"p{index}": JsonText([name]) for index, name in enumerate(COLUMNS)},
        )
        .order_by()
        .values_list(
            "distinct_id",
            "instant",
            "event__name",
            "kept",
            "count",
            *(f"p{index}" for index in range(len(COLUMNS))),
        )
    )
    return fetch_rows(rows)


def _page_counts(visits: list[Visit]) -> dict[Any, tuple[int, int]]:
    """{path: (visitors, page views)}."""
    viewers: dict[Any, set[str]] = defaultdict(set)
    views: Counter = Counter()
    for visit in visits:
        for page, count in visit.pages:
            viewers[page].add(visit.visitor)
            views[page] += count
    return {page: (len(viewers[page]), views[page]) for page in views}


def _visit_counts(visits: list[Visit], value_of) -> dict[Any, tuple[int, int]]:
    """{value: (visitors, visits)} of a property of each visit."""
    visitors: dict[Any, set[str]] = defaultdict(set)
    counts: Counter = Counter()
    for visit in visits:
        value = value_of(visit)
        visitors[value].add(visit.visitor)
        counts[value] += 1
    return {value: (len(visitors[value]), counts[value]) for value in counts}


def _click_counts(visits: list[Visit], event: str) -> dict[Any, tuple[int, int]]:
    """{url: (visitors, clicks)} of a kind of click."""
    visitors: dict[Any, set[str]] = defaultdict(set)
    clicks: Counter = Counter()
    for visit in visits:
        for name, url, count in visit.clicks:
            if name == event:
                visitors[url].add(visit.visitor)
                clicks[url] += count
    return {url: (len(visitors[url]), clicks[url]) for url in clicks}


def _top(
    counts: dict[Any, tuple[int, int]],
    limit: int,
    names: tuple[str, str],
    *,
    label="value",
    extra: Imported | None = None,
    dimension: str = "pages",
) -> list[dict[str, Any]]:
    """The `limit` largest by visitors (then the second count, then the value), with the
    imported counts of `dimension` added; a missing value (no referrer, no country…) is
    listed as null."""
    if extra is not None:
        counts = dict(counts)
        for value, (first, second) in extra.counts(dimension, names).items():
            before = counts.get(value, (0, 0))
            counts[value] = (before[0] + first, before[1] + second)
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], -item[1][1], str(item[0])))
    return [
        {label: value, names[0]: first, names[1]: second}
        for value, (first, second) in ranked[:limit]
    ]


def _timeseries(
    visits: list[Visit],
    window: Window,
    tz: ZoneInfo,
    interval: str,
    now: dt.datetime,
    imported: Imported | None,
) -> list[dict[str, Any]]:
    """Per bucket of `interval` in `tz`: the visitors who viewed a page in it, its page
    views, and the visits that began in it (plus the imported days' numbers, which are
    daily visitors summed over a week or a month)."""
    visitors: dict[str, set[str]] = defaultdict(set)
    pageviews: Counter = Counter()
    started: Counter = Counter()
    more_visitors: Counter = Counter()
    for visit in visits:
        started[_bucket(visit.start, interval, tz)] += 1
        for instant, count in visit.viewed:
            key = _bucket(instant, interval, tz)
            visitors[key].add(visit.visitor)
            pageviews[key] += count
    if imported is not None and interval != "hour":
        for day, numbers in imported.days.items():
            key = key_of(dt.datetime.combine(day, dt.time.min, tzinfo=tz), interval, tz)
            more_visitors[key] += numbers["visitors"]
            pageviews[key] += numbers["pageviews"]
            started[key] += numbers["visits"]
    found = sorted(set(pageviews) | set(started))
    keys = bucket_keys(window.lower, window.upper, interval, tz, found, now=now)
    return [
        {
            "date": key,
            "visitors": len(visitors.get(key, ())) + more_visitors.get(key, 0),
            "pageviews": pageviews.get(key, 0),
            "visits": started.get(key, 0),
        }
        for key in keys
    ]


def _bucket(micros: int, interval: str, tz: ZoneInfo) -> str:
    return key_of(instant_of(micros), interval, tz)
