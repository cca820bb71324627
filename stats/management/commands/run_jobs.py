"""Run the periodic jobs in the foreground, round after round (the compose `jobs` service)."""

import argparse
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from core.durations import positive_seconds
from stats import jobs

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = (
        "Run the periodic jobs until SIGTERM or SIGINT: the counter fold every "
        "FOLD_INTERVAL_SECONDS, the retention purge and the per-user activity periods every "
        "JOBS_INTERVAL_SECONDS. Each job runs under a lock, so several run_jobs processes "
        "(on several machines) share the work safely. A failing job is logged and recorded "
        "(JobState.last_error) and the others still run. --once: every job once, exit status "
        "1 if a job failed."
    )
    stopping = False

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")
        parser.add_argument(
            "--interval",
            type=_seconds,
            help="Seconds between two runs of the purge and the activity job (default: "
            "JOBS_INTERVAL_SECONDS); the fold runs at least this often too.",
        )

    def handle(self, *args, once: bool, interval: float | None, **options):
        interval = settings.JOBS_INTERVAL_SECONDS if interval is None else interval
        if once:
            succeeded = [self._run(name) for name in jobs.JOBS]  # every job, even after a failure
            if not all(succeeded):
                raise CommandError("A job failed (see the log).")
            return
        due = dict.fromkeys(jobs.JOBS, 0.0)  # monotonic time each job is next due
        with self._stop_on_signals():
            while not self.stopping:
                for name in jobs.JOBS:
                    if self.stopping or due[name] > time.monotonic():
                        continue
                    started = time.monotonic()
                    # A connection the database dropped meanwhile (a restart) is replaced.
                    close_old_connections()
                    self._run(name)
                    due[name] = started + jobs.job_interval(name, interval=interval)
                self._sleep_until(min(due.values()))
        self.stdout.write("Stopped by a signal.")

    def _run(self, name: str) -> bool:
        """Run one job; True unless it failed."""
        if name != jobs.FOLD_JOB:  # every few seconds: it speaks only when it folded
            self.stdout.write(f"{timezone.now():%Y-%m-%d %H:%M:%S} {name}")
        return jobs.job_run(name, partial(self._call, name)).succeeded

    def _call(self, name: str) -> None:
        call_command(name, stdout=self.stdout, stderr=self.stderr)

    def _sleep_until(self, deadline: float) -> None:
        # Naps of at most a second: a stop signal (a flag, see below) is seen within one.
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))

    @contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT let the running job finish (each commits as it goes), then stop."""

        def stop(signum: int, frame: object) -> None:
            # Only a flag: writing output here could re-enter a write the signal interrupted.
            self.stopping = True

        previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _seconds(text: str) -> float:
    """--interval, refused by argparse unless a finite number of seconds above 0."""
    try:
        return positive_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds more than 0") from None
