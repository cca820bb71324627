"""The periodic jobs `manage.py run_jobs` runs, and their bookkeeping: each job's JobState
row records its last run, last success and last error, which monitoring reads as lag
(JobLagCollector, registered with core.metrics by StatsConfig.ready). Each run holds the
job's lock (core.locks), so several jobs processes, on several machines, never run the
same job at once: the second skips it."""

import datetime as dt
import logging
from collections.abc import Callable
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from core.locks import try_lock
from stats.models import JobState
from stats.services import JOB as USER_ACTIVITY_JOB

logger = logging.getLogger(__name__)

FOLD_JOB = "fold_counters"
# Management commands, in the order of a round: the counters folded first, then the
# purge, so that the activity periods it empties are recomputed in the same round; the
# user sketches and sets of the hours the fold left unchanged last.
JOBS = (FOLD_JOB, "purge_expired", USER_ACTIVITY_JOB, "build_user_sketches", "build_user_sets")


def job_interval(name: str, *, interval: float) -> float:
    """Seconds between two runs of `name`: the round's `interval`, except the fold, which
    keeps the counter increments few (FOLD_INTERVAL_SECONDS, at most `interval`)."""
    if name == FOLD_JOB:
        return min(interval, settings.EVENTTRACKER["FOLD_INTERVAL_SECONDS"])
    return interval


class JobOutcome(NamedTuple):
    ran: bool  # False: another process held the job's lock, so this one skipped it
    succeeded: bool


def job_run(name: str, run: Callable[[], object]) -> JobOutcome:
    """Run one job under its lock and record its outcome in its JobState. An exception is
    logged and recorded, never raised: one failing job must not stop the others."""
    with try_lock(name) as held:
        if not held:
            logger.info("Job %s skipped: another process is running it.", name)
            return JobOutcome(ran=False, succeeded=True)
        try:
            _record(name, last_run_at=timezone.now())
            run()
            _record(name, last_success_at=timezone.now(), last_error="")
        except Exception as exc:
            logger.exception("Job %s failed.", name)
            _record_failure(name, exc)
            return JobOutcome(ran=True, succeeded=False)
    return JobOutcome(ran=True, succeeded=True)


class JobLag(NamedTuple):
    since_success: float | None  # `inf`: it has run but never succeeded; None: never ran
    watermark: float | None  # how far the watermark trails now; None: the job has none


def job_lags(*, now: dt.datetime | None = None) -> dict[str, JobLag]:
    """For gauges, per job: seconds since its last success, and for jobs with a watermark
    how far that trails `now`. The watermark is the start of the current period once the
    job has caught up (that period is not computed until it ends), so the lag normally
    lies between 0 and one period plus one JOBS_INTERVAL_SECONDS; more means behind."""
    now = now or timezone.now()
    lags: dict[str, JobLag] = {}
    for name, run_at, success_at, watermark in JobState.objects.values_list(
        "name", "last_run_at", "last_success_at", "watermark"
    ):
        since_success = None
        if success_at is not None:
            since_success = (now - success_at).total_seconds()
        elif run_at is not None:
            since_success = float("inf")
        behind = (now - watermark).total_seconds() if watermark is not None else None
        lags[name] = JobLag(since_success=since_success, watermark=behind)
    return lags


def _record(name: str, **fields: object) -> None:
    JobState.objects.update_or_create(name=name, defaults=fields)


def _record_failure(name: str, exc: Exception) -> None:
    """Best effort: when the database itself is what failed, only the log has the error."""
    try:
        _record(name, last_error=f"{type(exc).__name__}: {exc}")
    except DatabaseError:
        logger.exception("Could not record the failure of job %s.", name)


class JobLagCollector:
    """Periodic jobs' lag, read from the database at scrape time (any process may scrape,
    the jobs run in another): seconds since each job's last success, and how far the
    user-activity watermark trails now. (The HourlyCount rollup has no lag to report: it
    is written in the ingest transaction.)"""

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self):
        success, watermark = self._families()
        try:
            lags = job_lags()
        except DatabaseError:
            lags = {}  # the HTTP metrics are still worth serving when the database is down
        for name, lag in lags.items():
            if lag.since_success is not None:
                success.add_metric([name], lag.since_success)
            if lag.watermark is not None:
                watermark.add_metric([name], lag.watermark)
        yield success
        yield watermark

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "eventtracker_job_last_success_age_seconds",
                "Seconds since the job last succeeded (+Inf: it ran but never succeeded).",
                labels=["job"],
            ),
            GaugeMetricFamily(
                "eventtracker_job_watermark_lag_seconds",
                "How far the job's watermark (everything before it is computed) trails now.",
                labels=["job"],
            ),
        )
