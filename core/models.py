"""The one table of the shared request machinery: rate-limit counters."""

from django.db import models


class RateCounter(models.Model):
    """Requests of one credential in one scope during the current window (see
    core.ratelimit). Used when no REDIS_URL is set: one row per counter, reset in
    place by the upsert that counts the first request of a new window."""

    key = models.CharField(max_length=80, unique=True, help_text='e.g. "ingest:key:12"')
    window = models.BigIntegerField(help_text="Start of the current window, Unix seconds.")
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key} = {self.count}"
