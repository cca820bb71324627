"""The exports this service reads, each as daily aggregates (`Row`s).

- Plausible's CSV export: one file per table (`imported_visitors_20240101_20241231.csv`,
  `imported_pages_…`, `imported_sources_…` …), already aggregated per day in the site's
  zone. Custom events are not imported (the web stats have no place for them).
- Umami's data export: `website_event.csv`, one row per event (`created_at` in UTC). Its
  visits (`visit_id`) are rebuilt here and counted on the day, in the tenant's zone,
  their first event falls on, as the native visits are.
- A Google Analytics report exported as CSV (Universal Analytics or GA4): `#` comment
  lines, then a header with a `Date` column, at most one dimension (page, landing page,
  source, medium, campaign, country, device category, browser, operating system) and
  metrics (users, sessions, views, bounces or bounce rate, average session duration).

Values are brought to the native enrichment's names where they differ (devices in lower
case, countries as ISO 3166-1 alpha-2 codes, a few browser and system names), so an
imported row and a native one of the same thing are one row in the stats.
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pycountry

from events.referrers import channel_of_name, classify

MAX_VALUE = 2000  # characters of a breakdown value kept
MAX_NUMBER = 2**62  # a metric above this is a broken file, not a site


class ExportError(ValueError):
    """A file this reader cannot take at all (its header, its table): nothing is imported."""


class BadRow(ValueError):
    """One line that cannot be read; the line is skipped and named in the receipt."""


class Row(NamedTuple):
    date: dt.date
    dimension: str  # ImportedDay.Dimension
    value: str  # "" for none (direct, unknown country …)
    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    bounces: int = 0
    visit_duration: int = 0  # seconds, summed over the visits


METRICS = Row._fields[3:]  # a Row's numbers: visitors … visit_duration


class Reader:
    """One file's lines in, `Row`s out: `day_of` each line (to check it before taking it),
    `add` it, and `finish` once the file is read (for formats that aggregate)."""

    table = ""
    note = ""  # said in the receipt, of the file
    # What a line brings of its day: numbers (Row's) of dimensions. Another file, or an
    # import, that brings one of them for that day brings the same numbers again.
    dimensions: tuple[str, ...] = ()
    metrics: frozenset[str] = frozenset(METRICS)
    # Whether a line may bring some of its metrics (those no other brought): a report's
    # Users and Views are independent numbers; a table's are one line of an export.
    partial = False

    def day_of(self, record: dict[str, str]) -> dt.date:
        return parse_date(text(record, "date"))

    def add(self, record: dict[str, str]) -> Iterable[Row]:
        raise NotImplementedError

    def finish(self) -> Iterable[Row]:
        return ()


# ---------------------------------------------------------------------------------------
# Plausible


@dataclass(frozen=True)
class PlausibleTable:
    dimensions: tuple[tuple[str, str], ...]  # (our dimension, its column); () for totals
    visits: str = "visits"  # the column that counts the visits of a row
    required: tuple[str, ...] = ("date", "visitors")


PLAUSIBLE_TABLES = {
    "visitors": PlausibleTable((), required=("date", "visitors", "visits", "pageviews")),
    "pages": PlausibleTable((("pages", "page"),), required=("date", "page", "pageviews")),
    "entry_pages": PlausibleTable((("entry_pages", "entry_page"),), visits="entrances"),
    "exit_pages": PlausibleTable((("exit_pages", "exit_page"),), visits="exits"),
    "sources": PlausibleTable(
        (
            ("sources", "source"),
            ("utm_sources", "utm_source"),
            ("utm_mediums", "utm_medium"),
            ("utm_campaigns", "utm_campaign"),
        ),
    ),
    "locations": PlausibleTable((("countries", "country"),)),
    "devices": PlausibleTable((("devices", "device"),)),
    "browsers": PlausibleTable((("browsers", "browser"),)),
    "operating_systems": PlausibleTable((("oses", "operating_system"),)),
}
PLAUSIBLE_SKIPPED = {"custom_events": "custom events are not part of the web stats"}
PLAUSIBLE_NAME = re.compile(r"^(?:imported_)?([a-z_]+?)(?:_\d{8}_\d{8})?\.csv$")
PLAUSIBLE_DIRECT = frozenset({"", "direct / none", "(none)"})


def plausible_table(name: str, columns: list[str]) -> str:
    """The table of a file of Plausible's export, by its name, else by its columns."""
    found = PLAUSIBLE_NAME.match(name.rsplit("/", 1)[-1].lower())
    if found and (found[1] in PLAUSIBLE_TABLES or found[1] in PLAUSIBLE_SKIPPED):
        return found[1]
    for table, spec in PLAUSIBLE_TABLES.items():
        keys = {column for _, column in spec.dimensions}
        if spec.dimensions and keys <= set(columns):
            return table
    if set(PLAUSIBLE_TABLES["visitors"].required) <= set(columns):
        return "visitors"
    raise ExportError(
        "not a file of Plausible's export (expected imported_<table>_<dates>.csv with one "
        f"of: {', '.join(PLAUSIBLE_TABLES)})."
    )


class PlausibleReader(Reader):
    def __init__(self, table: str, columns: list[str]):
        self.table = table
        self.spec = PLAUSIBLE_TABLES[table]
        missing = [name for name in self.spec.required if name not in columns]
        if missing:
            raise ExportError(f"Plausible's {table} table needs the columns {', '.join(missing)}.")
        self.dimensions = tuple(dimension for dimension, _ in self.spec.dimensions) or ("visitors",)
        if table == "sources":
            self.dimensions += ("channels",)

    def add(self, record: dict[str, str]) -> Iterable[Row]:
        day = self.day_of(record)
        numbers = (
            count(record, "visitors"),
            count(record, self.spec.visits),
            count(record, "pageviews"),
            count(record, "bounces"),
            count(record, "visit_duration"),
        )
        if not self.spec.dimensions:
            return [Row(day, "visitors", "", *numbers)]
        rows = []
        for dimension, column in self.spec.dimensions:
            value = text(record, column)
            rows.append(Row(day, dimension, _plausible_value(dimension, value), *numbers))
        if self.table == "sources":
            rows.append(Row(day, "channels", _channel_of_source(record), *numbers))
        return rows


def _plausible_value(dimension: str, value: str) -> str:
    if dimension == "sources":
        return "" if value.lower() in PLAUSIBLE_DIRECT else value[:MAX_VALUE]
    return normalised(dimension, value)


def _channel_of_source(record: dict[str, str]) -> str:
    """The channel of a row of Plausible's sources, as the native enrichment would say
    (events.referrers): by its campaign, else by its referrer, else by the source's
    name (Plausible's exports have had no referrer column, and leave it empty when the
    browser sent none: "Google" is search); a named source that is none of these is
    "other"."""
    referrer = record.get("referrer") or ""
    campaign = {
        name: record.get(name) or ""
        for name in ("utm_source", "utm_medium", "utm_campaign")
        if record.get(name)
    }
    found = classify(referrer=referrer or None, page_host=None, campaign=campaign)
    source = (record.get("source") or "").lower()
    if found.channel == "direct" and source not in PLAUSIBLE_DIRECT:
        return channel_of_name(source) or "other"
    return found.channel


# ---------------------------------------------------------------------------------------
# Umami


UMAMI_REQUIRED = ("session_id", "visit_id", "created_at", "url_path", "event_type")
UMAMI_PAGEVIEW = "1"
UMAMI_DIMENSIONS = (
    "visitors", "pages", "entry_pages", "exit_pages", "sources", "channels", "utm_sources",
    "utm_mediums", "utm_campaigns", "countries", "devices", "browsers", "oses",
)  # fmt: skip
# Umami's browser ids → the names ua-parser (the native enrichment) gives.
UMAMI_BROWSERS = {
    "chrome": "Chrome", "crios": "Chrome Mobile iOS", "chromium-webview": "Chrome Mobile WebView",
    "edge-chromium": "Edge", "edge": "Edge", "edge-ios": "Edge Mobile", "firefox": "Firefox",
    "fxios": "Firefox iOS", "safari": "Safari", "ios": "Mobile Safari",
    "ios-webview": "Mobile Safari UI/WKWebView", "samsung": "Samsung Internet",
    "opera": "Opera", "opera-mini": "Opera Mini", "android": "Android",
    "yandexbrowser": "Yandex Browser", "facebook": "Facebook", "instagram": "Instagram",
    "silk": "Amazon Silk", "ie": "IE",
}  # fmt: skip


@dataclass
class _UmamiVisit:
    session: str
    first: dt.datetime
    last: dt.datetime
    views: list[tuple[dt.datetime, str]] = field(default_factory=list)  # (when, path)
    properties: dict[str, str] | None = None  # of its first page view
    properties_at: dt.datetime | None = None

    @property
    def pages(self) -> list[str]:
        return [path for _, path in sorted(self.views)]


class UmamiReader(Reader):
    """Umami's events, folded into visits (by `visit_id`) and then into days."""

    table = "website_event"

    def __init__(self, columns: list[str], tz: ZoneInfo):
        missing = [name for name in UMAMI_REQUIRED if name not in columns]
        if missing:
            raise ExportError(f"Umami's website_event export needs the columns {missing}.")
        self.tz = tz
        self.visits: dict[str, _UmamiVisit] = {}
        self.dimensions = UMAMI_DIMENSIONS

    def day_of(self, record: dict[str, str]) -> dt.date:
        return self._instant(record).astimezone(self.tz).date()

    def add(self, record: dict[str, str]) -> Iterable[Row]:
        instant = self._instant(record)
        key = text(record, "visit_id") or text(record, "session_id")
        if not key:
            raise BadRow("visit_id and session_id are empty.")
        visit = self.visits.get(key)
        if visit is None:
            visit = _UmamiVisit(text(record, "session_id") or key, instant, instant)
            self.visits[key] = visit
        visit.first, visit.last = min(visit.first, instant), max(visit.last, instant)
        if text(record, "event_type") == UMAMI_PAGEVIEW:
            visit.views.append((instant, text(record, "url_path")[:MAX_VALUE] or "/"))
            if visit.properties_at is None or instant < visit.properties_at:
                visit.properties, visit.properties_at = self._properties(record), instant
        return ()

    def finish(self) -> Iterable[Row]:
        """A visit counts on the day of its first event, with the properties of its first
        page view; one without a page view is not a visit (as natively)."""
        totals: dict[tuple, _Sums] = defaultdict(_Sums)
        for visit in self.visits.values():
            pages = visit.pages
            if not pages:
                continue
            day = visit.first.astimezone(self.tz).date()
            duration = int((visit.last - visit.first).total_seconds())
            keys = [("visitors", ""), ("entry_pages", pages[0]), ("exit_pages", pages[-1])]
            keys += list((visit.properties or {}).items())
            for dimension, value in keys:
                totals[day, dimension, value].add_visit(visit.session, pages, duration)
            for page in pages:
                totals[day, "pages", page].add_view(visit.session)
        self.visits = {}
        for (day, dimension, value), sums in sorted(totals.items()):
            yield Row(day, dimension, value[:MAX_VALUE], *sums.numbers())

    def _instant(self, record: dict[str, str]) -> dt.datetime:
        raw = text(record, "created_at")
        try:
            instant = dt.datetime.fromisoformat(raw.replace(" UTC", ""))
        except ValueError:
            raise BadRow(f"created_at {raw[:40]!r} is not a date and time.") from None
        instant = instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant
        try:
            instant.astimezone(self.tz)  # its day here: not before year 1 nor after 9999
        except OverflowError:
            raise BadRow(f"created_at {raw[:40]!r} is out of range.") from None
        return instant

    def _properties(self, record: dict[str, str]) -> dict[str, str]:
        domain = text(record, "referrer_domain")
        campaign = {
            name: text(record, name)
            for name in ("utm_source", "utm_medium", "utm_campaign", "gclid", "fbclid", "msclkid")
            if text(record, name)
        }
        source = classify(
            referrer=f"https://{domain}" if domain else None,
            page_host=text(record, "hostname") or None,
            campaign=campaign,
        )
        return {
            "sources": source.source or "",
            "channels": source.channel,
            "utm_sources": campaign.get("utm_source", ""),
            "utm_mediums": campaign.get("utm_medium", ""),
            "utm_campaigns": campaign.get("utm_campaign", ""),
            "countries": normalised("countries", text(record, "country")),
            "devices": normalised("devices", text(record, "device")),
            "browsers": normalised(
                "browsers", UMAMI_BROWSERS.get(text(record, "browser"), text(record, "browser"))
            ),
            "oses": normalised("oses", text(record, "os")),
        }


class _Sums:
    __slots__ = ("bounces", "duration", "pageviews", "visitors", "visits")

    def __init__(self):
        self.visitors: set[str] = set()
        self.visits = self.pageviews = self.bounces = self.duration = 0

    def add_visit(self, session: str, pages: list[str], duration: int) -> None:
        self.visitors.add(session)
        self.visits += 1
        self.pageviews += len(pages)
        self.bounces += len(pages) == 1
        self.duration += duration

    def add_view(self, session: str) -> None:
        self.visitors.add(session)
        self.pageviews += 1

    def numbers(self) -> tuple[int, int, int, int, int]:
        return len(self.visitors), self.visits, self.pageviews, self.bounces, self.duration


# ---------------------------------------------------------------------------------------
# Google Analytics


GA_DATES = ("date", "day")
# A report's dimension column (lower case) → our dimension.
GA_DIMENSIONS = {
    "page": "pages", "page path": "pages", "page path and screen class": "pages",
    "page path + query string": "pages", "pagepath": "pages", "page location": "pages",
    "landing page": "entry_pages", "landing page + query string": "entry_pages",
    "landingpage": "entry_pages", "exit page": "exit_pages",
    "source": "sources", "session source": "sources", "sessionsource": "sources",
    "medium": "utm_mediums", "session medium": "utm_mediums", "sessionmedium": "utm_mediums",
    "campaign": "utm_campaigns", "session campaign": "utm_campaigns",
    "sessioncampaignname": "utm_campaigns",
    "default channel group": "channels", "session default channel group": "channels",
    "country": "countries", "device category": "devices", "devicecategory": "devices",
    "browser": "browsers", "operating system": "oses", "operatingsystem": "oses",
}  # fmt: skip
# One of GA's names for each dimension read (the first listed): what a refusal offers.
_GA_READ = sorted(
    {ours: name for name, ours in reversed(GA_DIMENSIONS.items())}.values(),
    key=list(GA_DIMENSIONS).index,
)
GA_METRICS = {
    "users": "visitors", "total users": "visitors", "active users": "visitors",
    "totalusers": "visitors", "activeusers": "visitors",
    "sessions": "visits", "entrances": "visits", "exits": "visits",
    "views": "pageviews", "pageviews": "pageviews", "page views": "pageviews",
    "screen page views": "pageviews", "screenpageviews": "pageviews",
    "bounces": "bounces", "bounce rate": "bounce_rate", "bouncerate": "bounce_rate",
    "avg. session duration": "duration", "average session duration": "duration",
    "averagesessionduration": "duration",
}  # fmt: skip
# GA4's channel groups → the native channels.
GA_CHANNELS = {
    "organic search": "search", "paid search": "paid", "paid social": "paid",
    "paid shopping": "paid", "paid video": "paid", "display": "paid", "cross-network": "paid",
    "organic social": "social", "email": "email", "direct": "direct", "referral": "other",
}  # fmt: skip
# Dimensions of GA's reports not read here: their rows would be summed as the day's totals.
GA_UNREAD_DIMENSIONS = frozenset({
    "page title", "page title and screen class", "page title and screen name", "hostname",
    "city", "region", "continent", "sub-continent", "language", "event name", "hour",
    "day of week", "week", "month", "year", "nth day", "first user source", "content group",
    "screen resolution", "device model", "age", "gender", "user type", "new / established",
})  # fmt: skip
GA_NUMBER = re.compile(r"[-+]?[\d.,:]*%?(?:[eE][-+]?\d+)?")  # a metric's value (or empty)
GA_NONE = frozenset({"(not set)", "(none)", "(direct)", "(other)"})


class GaReader(Reader):
    table = "report"
    partial = True

    def __init__(self, columns: list[str]):
        names = {column.strip().lower(): column for column in columns}
        self.date = next((names[name] for name in GA_DATES if name in names), None)
        if self.date is None:
            raise ExportError(
                "A Google Analytics report needs a Date column: add Date as a dimension "
                "of the report before exporting it."
            )
        dimensions = [(names[name], GA_DIMENSIONS[name]) for name in names if name in GA_DIMENSIONS]
        if len(dimensions) > 1:
            found = ", ".join(column for column, _ in dimensions)
            raise ExportError(f"Export one dimension besides Date at a time, not {found}.")
        self.dimension = dimensions[0] if dimensions else None
        known = {*GA_DATES, *GA_DIMENSIONS, *GA_METRICS}
        unknown = [column for name, column in names.items() if name not in known]
        refused = [column for column in unknown if column.lower() in GA_UNREAD_DIMENSIONS]
        if refused:
            raise ExportError(_unread(refused))
        self.unknown = unknown  # other metrics, left out; a dimension is refused (add)
        # Our metric (GA_METRICS) → its column.
        self.columns = {GA_METRICS[name]: names[name] for name in names if name in GA_METRICS}
        if not {"visitors", "visits", "pageviews"} & set(self.columns):
            raise ExportError("The report has no Users, Sessions or Views column.")
        self.table = self.dimension[1] if self.dimension else "visitors"
        if self.dimension is not None:
            self.note = (
                f"Numbers per {self.dimension[0]}, not added to the day's totals: users of "
                f"several values would be counted twice. A report without a dimension "
                f"brings the totals."
            )
        self.dimensions = (self.table,)
        # Reports of one dimension with other metrics (Users in one, Views in another) add up.
        self.metrics = frozenset(_ga_numbers(self.columns))

    def day_of(self, record: dict[str, str]) -> dt.date:
        return parse_date(text(record, self.date))

    def add(self, record: dict[str, str]) -> Iterable[Row]:
        day = self.day_of(record)
        for column in self.unknown:  # a metric holds numbers; a dimension's rows are not days
            if not GA_NUMBER.fullmatch(text(record, column)):
                raise ExportError(_unread([column]))
        metrics = self.columns
        visits = count(record, metrics["visits"]) if "visits" in metrics else 0
        bounces = count(record, metrics["bounces"]) if "bounces" in metrics else 0
        if "bounces" not in metrics and "bounce_rate" in metrics:
            bounces = round(visits * share(record, metrics["bounce_rate"]))
        duration = 0
        if "duration" in metrics:  # a mean per visit
            duration = round(visits * seconds(record, metrics["duration"]))
            if duration > MAX_NUMBER:  # each below it, their product may not be
                raise BadRow(f"{metrics['duration']} times {metrics['visits']} is out of range.")
        numbers = (
            count(record, metrics["visitors"]) if "visitors" in metrics else 0,
            visits,
            count(record, metrics["pageviews"]) if "pageviews" in metrics else 0,
            bounces,
            duration,
        )
        if self.dimension is None:
            return [Row(day, "visitors", "", *numbers)]
        column, dimension = self.dimension
        value = text(record, column)
        value = "" if value.lower() in GA_NONE else value
        if dimension == "channels":
            value = GA_CHANNELS.get(value.lower(), "other" if value else "")
        return [Row(day, dimension, normalised(dimension, value), *numbers)]


def _unread(columns: list[str]) -> str:
    read = ", ".join(_GA_READ)
    return (
        f"{', '.join(columns)}: not a dimension read here (the report's rows would be summed "
        f"as the day's). Export the report with Date and at most one of: {read}."
    )


def _ga_numbers(metrics: dict[str, str]) -> Iterable[str]:
    """The numbers (Row's) a report's metrics give: bounces and durations need sessions."""
    yield from {"visitors", "visits", "pageviews", "bounces"} & set(metrics)
    if "visits" in metrics and "bounce_rate" in metrics:
        yield "bounces"
    if "visits" in metrics and "duration" in metrics:
        yield "visit_duration"


# ---------------------------------------------------------------------------------------
# Values


OSES = {
    "mac": "Mac OS X", "mac os": "Mac OS X", "macos": "Mac OS X", "macintosh": "Mac OS X",
    "gnu/linux": "Linux", "android os": "Android", "ios": "iOS", "chrome os": "Chrome OS",
    "windows 10": "Windows", "windows 11": "Windows", "windows 7": "Windows",
    "windows 8.1": "Windows", "windows xp": "Windows",
}  # fmt: skip
# Names pycountry does not find.
COUNTRIES = {"russia": "RU", "kosovo": "XK", "côte d\u2019ivoire": "CI", "côte d'ivoire": "CI"}


def normalised(dimension: str, value: str) -> str:
    """`value` of `dimension` as the native enrichment names it (at most MAX_VALUE long)."""
    if not value:
        return ""
    if dimension == "devices":
        value = value.lower()
    elif dimension == "countries":
        value = country_code(value)
    elif dimension == "oses":
        value = OSES.get(value.lower(), value)
    return value[:MAX_VALUE]


@cache
def country_code(name: str) -> str:
    """ISO 3166-1 alpha-2 of a code or an English name ("" when unknown)."""
    if len(name) == 2 and name.isalpha():
        return "" if name.upper() in ("ZZ", "XX") else name.upper()
    if name.lower() in COUNTRIES:
        return COUNTRIES[name.lower()]
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        return ""


def text(record: dict[str, str], column: str) -> str:
    value = (record.get(column) or "").strip()
    if "\x00" in value:
        raise BadRow(f"{column} holds a NUL byte.")
    return value


def parse_date(raw: str) -> dt.date:
    """YYYY-MM-DD, or GA's YYYYMMDD."""
    try:
        if len(raw) == 8 and raw.isdigit():
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if len(raw) != 10:
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRow(f"date {raw[:40]!r} is not YYYY-MM-DD.") from None


def count(record: dict[str, str], column: str) -> int:
    """A whole, non-negative number; empty is 0, "1,234" is 1234."""
    raw = text(record, column).replace(",", "")
    if not raw:
        return 0
    try:
        number = float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    except ValueError:
        raise BadRow(f"{column} {raw[:40]!r} is not a number.") from None
    if not 0 <= number <= MAX_NUMBER:
        raise BadRow(f"{column} {raw[:40]!r} is out of range.")
    return round(number)


def share(record: dict[str, str], column: str) -> float:
    """A rate as GA writes it: "45.2%" or 0.452."""
    raw = text(record, column).replace(",", "")
    try:
        value = float(raw.rstrip("%")) / 100 if raw.endswith("%") else float(raw or 0)
    except ValueError:
        raise BadRow(f"{column} {raw[:40]!r} is not a rate.") from None
    if not 0 <= value <= 1:
        raise BadRow(f"{column} {raw[:40]!r} is not between 0 and 100%.")
    return value


def seconds(record: dict[str, str], column: str) -> float:
    """A duration as GA writes it: seconds, or "00:01:23"."""
    raw = text(record, column)
    try:
        if raw.count(":") > 2:
            raise ValueError(raw)
        if ":" in raw:
            hours, minutes, secs = (["0", "0", *raw.split(":")])[-3:]
            value = int(hours) * 3600 + int(minutes) * 60 + float(secs)
        else:
            value = float(raw.replace(",", "") or 0)
    except ValueError:
        raise BadRow(f"{column} {raw[:40]!r} is not a duration.") from None
    if not 0 <= value <= MAX_NUMBER:
        raise BadRow(f"{column} {raw[:40]!r} is out of range.")
    return value
