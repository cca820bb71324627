"""What the dashboard shows, as plain data for its template.

Everything is read through `accounts.tenancy.scope_to_tenant` and the stats selectors,
like the API's views do; charts are `<img>`s of the API's own PNG routes with the same
range and zone, so a table and the chart beside it always agree.
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, Tenant
from accounts.tenancy import scope_to_tenant
from events.models import Event, IngestionCountTotal
from insights.tables import PAGE_ROWS
from stats import selectors
from stats.selectors import Frequency, IngestionBucket

ALT_TEXT_EVENTS = 5  # a frequency chart's alt text names the most frequent few
FREQUENCY_ROWS = PAGE_ROWS  # the frequency table's most frequent events; the rest: JSON


@dataclass(frozen=True, slots=True)
class Chart:
    src: str
    alt: str


@dataclass(frozen=True, slots=True)
class IngestionRow:
    """One day of ingestion accounting, with only the reasons that occurred."""

    day: str
    valid: int
    invalid: int
    accepted: int
    duplicate: int
    rejected: int
    reasons: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    status: str  # "usable", "revoked" or "expired"


def stats_context(*, tenant: Tenant, start: dt.date, end: dt.date, tz: ZoneInfo) -> dict:
    """Tables and charts of the range: frequency, trend, hourly distribution, ingestion."""
    frequency = selectors.event_frequency(
        events=scope_to_tenant(Event.objects.all(), tenant), start=start, end=end, tz=tz
    )
    ingestion = selectors.ingestion_counts(
        counts=scope_to_tenant(IngestionCountTotal.objects.all(), tenant),
        start=start,
        end=end,
        tz=tz,
    )
    rows = ingestion_rows(ingestion)
    period = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, {tz.key}"

    def chart(route: str, alt: str) -> Chart:
        return Chart(src=stats_url(route, start=start, end=end, tz=tz), alt=alt)

    return {
        "period": period,
        "frequency": frequency[:FREQUENCY_ROWS],
        "frequency_more": max(len(frequency) - FREQUENCY_ROWS, 0),
        "frequency_json": stats_url("stats-event-frequency", start=start, end=end, tz=tz),
        "ingestion_rows": rows,
        "trend_chart": chart("stats-event-trend-png", _trend_alt(frequency, period)),
        "frequency_chart": chart("stats-event-frequency-png", _frequency_alt(frequency, period)),
        "hourly_chart": chart("stats-hourly-distribution-png", _hourly_alt(tz, period)),
        "ingestion_chart": chart("stats-ingestion-png", _ingestion_alt(rows, period)),
    }


def stats_url(route: str, *, start: dt.date, end: dt.date, tz: ZoneInfo) -> str:
    """A stats route, its chart (`…-png`) or its JSON, for the range and zone the page
    shows."""
    query = urlencode({"start_date": start.isoformat(), "end_date": end.isoformat(), "tz": tz.key})
    kwargs = {"format": "png"} if route.endswith("-png") else {}
    return f"{reverse(route, kwargs=kwargs)}?{query}"


def ingestion_rows(buckets: dict[str, IngestionBucket]) -> list[IngestionRow]:
    """Days that saw any request, oldest first: a month of all-zero rows hides the few
    that matter."""
    rows = []
    for day, bucket in buckets.items():
        requests = bucket["requests"]
        if not (requests["valid"] or requests["invalid"] or bucket["accepted"]):
            continue
        reasons = [(reason, n) for reason, n in bucket["rejected"].items() if n]
        rows.append(
            IngestionRow(
                day=day,
                valid=requests["valid"],
                invalid=requests["invalid"],
                accepted=bucket["accepted"],
                duplicate=bucket["duplicate"],
                rejected=sum(n for _, n in reasons),
                reasons=reasons,
            )
        )
    return rows


def key_rows(tenant: Tenant) -> list[KeyRow]:
    """The tenant's keys, newest first, revoked and expired ones included (so that a
    key that stopped working can be recognised)."""
    now = timezone.now()
    keys = scope_to_tenant(ApiKey.objects.all(), tenant).order_by("-created_at", "-id")
    return [KeyRow(key=key, status=_key_status(key, now)) for key in keys]


def _key_status(key: ApiKey, now: dt.datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "usable" if key.is_usable(now=now) else "expired"


def _trend_alt(frequency: list[Frequency], period: str) -> str:
    total = sum(row["total"] for row in frequency)
    return (
        f"Line chart of occurrences per day, one line per event, {period}: "
        f"{_occurrences(total)} in all. The event frequency table lists the totals."
    )


def _occurrences(total: int) -> str:
    return f"{total} occurrence" if total == 1 else f"{total} occurrences"


def _frequency_alt(frequency: list[Frequency], period: str) -> str:
    shown = [f"{row['event_name']} {row['total']}" for row in frequency[:ALT_TEXT_EVENTS]]
    more = len(frequency) - len(shown)
    listing = ", ".join(shown) if shown else "no events defined"
    suffix = f", and {more} more in the table" if more > 0 else ""
    return f"Bar chart of occurrences per event, {period}: {listing}{suffix}."


def _hourly_alt(tz: ZoneInfo, period: str) -> str:
    return (
        f"Bar chart of the share of all occurrences in each hour of the day, 0 to 23 on "
        f"the clock of {tz.key}, stacked by event, {period}."
    )


def _ingestion_alt(rows: list[IngestionRow], period: str) -> str:
    accepted = sum(row.accepted for row in rows)
    duplicate = sum(row.duplicate for row in rows)
    rejected = sum(row.rejected for row in rows)
    return (
        f"Chart of ingested events per day by outcome, {period}: {accepted} accepted, "
        f"{duplicate} duplicate, {rejected} rejected in all. The table lists each day."
    )
