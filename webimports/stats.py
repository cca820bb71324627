"""Imported daily aggregates read back for a range, to be added to the native web stats
(webstats.sessions).

An imported day counts in a range that holds the whole day in the range's zone (its
numbers have no hours). Its visitors are the export's daily visitors: over several
days they are summed, since an export cannot say who came back (the native visitors
stay distinct counts). Filters apply to native events only.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Min, QuerySet, Sum

from insights.engine import Window
from webimports.models import ImportedDay

NUMBERS = ("visitors", "visits", "pageviews", "bounces", "visit_duration")
TOTALS = ImportedDay.Dimension.VISITORS


@dataclass(frozen=True)
class Imported:
    """A range's imported numbers: per day, and per breakdown value over the range."""

    days: dict[dt.date, dict[str, int]]  # the day's totals
    values: dict[str, dict[str | None, dict[str, int]]]  # {dimension: {value: numbers}}
    first: dt.date
    last: dt.date

    def total(self) -> dict[str, int]:
        return {name: sum(day[name] for day in self.days.values()) for name in NUMBERS}

    def counts(self, dimension: str, names: tuple[str, str]) -> dict[str | None, tuple[int, int]]:
        """{value: (first number, second number)} of a breakdown (None: no value)."""
        found = self.values.get(dimension, {})
        return {value: (row[names[0]], row[names[1]]) for value, row in found.items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "included": True,
            "first_day": self.first.isoformat(),
            "last_day": self.last.isoformat(),
            "days": len(self.days),
        }


def imported_in(
    days: QuerySet[ImportedDay] | None, window: Window, tz: ZoneInfo
) -> Imported | None:
    """The imported numbers of the whole days of `window` in `tz` (None: there are none,
    or `days` is None: imported days are left out)."""
    if days is None:
        return None
    first, last = whole_days(window, tz)
    if first is not None and last is not None and first > last:
        return None
    rows = days.order_by()
    if first is not None:
        rows = rows.filter(date__gte=first)
    if last is not None:
        rows = rows.filter(date__lte=last)
    sums = {name: Sum(name) for name in NUMBERS}
    totals = rows.filter(dimension=TOTALS).values("date").annotate(**sums)
    per_day = {row.pop("date"): row for row in totals}
    bounds = rows.aggregate(first=Min("date"), last=Max("date"), rows=Count("id"))
    if not bounds["rows"]:
        return None
    values: dict[str, dict[str | None, dict[str, int]]] = {}
    for row in rows.exclude(dimension=TOTALS).values("dimension", "value").annotate(**sums):
        dimension, value = row.pop("dimension"), row.pop("value")
        if not any(row.values()):  # an export's row of zeros: nothing to list
            continue
        values.setdefault(dimension, {})[value or None] = row
    return Imported(per_day, values, bounds["first"], bounds["last"])


def whole_days(window: Window, tz: ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
    """The first and last local days `window` holds whole (None: unbounded)."""
    first = last = None
    if window.lower is not None:
        local = window.lower.astimezone(tz)
        first = local.date() if _is_midnight(local) else local.date() + dt.timedelta(days=1)
    if window.upper is not None:
        local = window.upper.astimezone(tz)
        last = local.date() - dt.timedelta(days=1)
    return first, last


def _is_midnight(local: dt.datetime) -> bool:
    return local.time() == dt.time.min
