"""Which days, and which numbers of a day, an import may bring: never what is counted
already, natively or by an earlier import (webimports.importer)."""

import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Tenant
from accounts.tenancy import scope_to_tenant
from events.enrichment import PAGEVIEW
from events.models import EventLog
from webimports.models import ImportedMetric, WebImport
from webimports.readers import Reader

EPOCH = dt.date(1970, 1, 1)


class Days:
    """Which days an import may bring: from 1970 to tomorrow, before the tenant's first
    native page view (in its zone), and of each dimension a day's numbers it brings
    (visitors, visits …) only when no earlier import brought them (ImportedMetric) nor
    another of its files: a file given twice, or a zip and one of its files, brings its
    days once; other tables, or other days, of an earlier import do not stand in the way."""

    def __init__(self, tenant: Tenant, tz: ZoneInfo):
        first_view = (
            scope_to_tenant(EventLog.objects.filter(event__name=PAGEVIEW), tenant)
            .order_by("timestamp")
            .values_list("timestamp", flat=True)
            .first()
        )
        self.native_from = first_view.astimezone(tz).date() if first_view else None
        self.latest = timezone.now().astimezone(tz).date() + dt.timedelta(days=1)
        self.imported = set(
            scope_to_tenant(ImportedMetric.objects.order_by(), tenant).values_list(
                "date", "dimension", "metric"
            )
        )
        self.brought: dict[_Number, int] = {}  # the file's number
        self.free: dict[tuple[int, dt.date], frozenset[str]] = {}  # (file, day): its metrics

    def reason_against(self, day: dt.date, *, reader: Reader, file: int) -> str | None:
        if not EPOCH <= day <= self.latest:
            return "date_out_of_range"
        if self.native_from is not None and day >= self.native_from:
            return "tracked_natively"
        free = self.metrics_free(day, reader=reader, file=file)
        # A report (GA) brings the metrics still free; a table all of its numbers or none.
        if not free or (not reader.partial and free != reader.metrics):
            return "already_imported"  # by an earlier import, or another file of this one
        return None

    def metrics_free(self, day: dt.date, *, reader: Reader, file: int) -> frozenset[str]:
        """The metrics of `reader` no earlier import nor other file brought for `day`;
        the same while one file is read (it brings what it may)."""
        if (file, day) not in self.free:
            self.free[file, day] = frozenset(
                metric
                for metric in reader.metrics
                if not any(
                    number in self.imported or self.brought.get(number, file) != file
                    for number in _numbers(day, reader.dimensions, (metric,))
                )
            )
        return self.free[file, day]

    def bring(self, day: dt.date, *, reader: Reader, file: int) -> None:
        free = self.metrics_free(day, reader=reader, file=file)
        for number in _numbers(day, reader.dimensions, free):
            self.brought.setdefault(number, file)

    def metrics(self, web_import: WebImport) -> Iterator[ImportedMetric]:
        """What the import brought, to leave out of the imports after it."""
        for day, dimension, metric in self.brought:
            yield ImportedMetric(
                tenant=web_import.tenant,
                web_import=web_import,
                date=day,
                dimension=dimension,
                metric=metric,
            )


_Number = tuple[dt.date, str, str]  # a day's number (a metric) of a dimension


def _numbers(day: dt.date, dimensions: Iterable[str], metrics: Iterable[str]) -> Iterator[_Number]:
    for dimension in dimensions:
        for metric in metrics:
            yield day, dimension, metric
