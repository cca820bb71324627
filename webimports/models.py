"""An import (its receipt) and the daily aggregates it brought."""

from django.db import models

from accounts.models import Tenant
from accounts.tenancy import ShardedByTenant, TenantForeignKey


class WebImport(ShardedByTenant):
    """One import of another product's CSV exports, and its receipt: what was read,
    imported and skipped (and why), and the days it covers."""

    class Source(models.TextChoices):
        PLAUSIBLE = "plausible", "Plausible's CSV export (imported_*.csv files, or their zip)"
        UMAMI = "umami", "Umami's data export (website_event.csv: one row per event)"
        GA = "ga", "a Google Analytics report exported as CSV (a Date column, one dimension)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.CharField(max_length=10, choices=Source.choices)
    files = models.JSONField(default=list, help_text="Per file: name, table, rows read.")
    rows_read = models.BigIntegerField(default=0)
    rows_imported = models.BigIntegerField(default=0)
    rows_skipped = models.JSONField(default=dict, help_text="{reason: rows}.")
    errors = models.JSONField(default=list, help_text="The first problems, with file and line.")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "end_date"], name="webimport_tenant_end")]

    def __str__(self) -> str:
        return f"{self.source} {self.start_date}..{self.end_date}"


class ImportedDay(ShardedByTenant):
    """A day's numbers of one breakdown value (`dimension` "visitors" with an empty value:
    the day's totals). Rows are summed when read, so one (day, dimension, value) may have
    several (a browser's versions, a source's campaigns)."""

    class Dimension(models.TextChoices):
        VISITORS = "visitors", "the day's totals"
        PAGES = "pages", "a page (visitors, page views)"
        ENTRY_PAGES = "entry_pages", "a visit's first page"
        EXIT_PAGES = "exit_pages", "a visit's last page"
        SOURCES = "sources", "a visit's source"
        CHANNELS = "channels", "a visit's channel"
        UTM_SOURCES = "utm_sources", "a visit's utm_source"
        UTM_MEDIUMS = "utm_mediums", "a visit's utm_medium"
        UTM_CAMPAIGNS = "utm_campaigns", "a visit's utm_campaign"
        COUNTRIES = "countries", "a visit's country (ISO 3166-1 alpha-2)"
        DEVICES = "devices", "a visit's device type"
        BROWSERS = "browsers", "a visit's browser"
        OSES = "oses", "a visit's operating system"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    web_import = TenantForeignKey(
        WebImport, on_delete=models.CASCADE, related_name="days", db_index=False
    )
    date = models.DateField()
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    value = models.CharField(max_length=2000, blank=True, default="", help_text="'': none.")
    visitors = models.BigIntegerField(default=0)
    visits = models.BigIntegerField(default=0)
    pageviews = models.BigIntegerField(default=0)
    bounces = models.BigIntegerField(default=0)
    visit_duration = models.BigIntegerField(default=0, help_text="Seconds, summed over visits.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "dimension", "date"], name="importedday_tenant_dim"),
            models.Index(fields=["tenant", "web_import"], name="importedday_tenant_import"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.dimension} {self.value!r}"


class ImportedMetric(ShardedByTenant):
    """A number (`metric`: visitors, visits …) of one day and dimension that an import
    brought: each is brought once, so a later import leaves out what one before it
    brought for that day (and what it did not bring, it may still bring)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    web_import = TenantForeignKey(
        WebImport, on_delete=models.CASCADE, related_name="metrics", db_index=False
    )
    date = models.DateField()
    dimension = models.CharField(max_length=16, choices=ImportedDay.Dimension.choices)
    metric = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "date", "dimension", "metric"], name="importedmetric_once"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "web_import"], name="importedmetric_tenant_import"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.dimension} {self.metric}"
