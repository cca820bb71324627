"""Run the periodic jobs in the foreground, round after round (the compose `jobs` service)."""

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from stats import jobs

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (retention purge, then per-user activity periods) every "
        "JOBS_INTERVAL_SECONDS until SIGTERM or SIGINT. A failing job is logged and recorded "
        "(JobState.last_error) and the others still run. --once: one round, exit status 1 "
        "if a job failed."
    )
    stopping = False

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            help="Seconds between the starts of two rounds (default: JOBS_INTERVAL_SECONDS).",
        )

    def handle(self, *args, once: bool, interval: float | None, **options):
        interval = settings.JOBS_INTERVAL_SECONDS if interval is None else interval
        if interval <= 0:
            raise CommandError("The interval must be more than 0 seconds.")
        if once:
            if not self._round():
                raise CommandError("A job failed (see the log).")
            return
        with self._stop_on_signals():
            while not self.stopping:
                started = time.monotonic()
                self._round()
                # Asleep, the process holds no connection; the next round opens a fresh one
                # (so a database restart in between costs nothing).
                connections.close_all()
                self._sleep_until(started + interval)
        self.stdout.write("Stopped by a signal.")

    def _round(self) -> bool:
        """Every job once, unless asked to stop; True if none failed."""
        succeeded = True
        for name in jobs.JOBS:
            if self.stopping:
                break
            self.stdout.write(f"{timezone.now():%Y-%m-%d %H:%M:%S} {name}")
            succeeded &= jobs.job_run(name, partial(self._call, name))
        return succeeded

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
