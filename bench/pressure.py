"""What the load phases run beside them: a sampler of pg_stat_activity (do backends wait
for each other's locks?) and a CPU burner (does the service degrade like the hello?)."""

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SAMPLE_EVERY_S = 0.005
ACTIVITY_SQL = (
    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_type = 'client backend' "
    "AND pid <> pg_backend_pid() AND state <> 'idle'"
)


class ActivitySampler:
    """Samples what every busy backend of the bench database is doing, every 5 ms, from a
    connection of its own, until stopped: `state: wait_event_type/wait_event`, or
    `active: on CPU` when it waits for nothing."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.states: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ActivitySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                for state, wait_type, wait in conn.execute(ACTIVITY_SQL).fetchall():
                    self.states[_label(state, wait_type, wait)] += 1
                self.samples += 1
                time.sleep(SAMPLE_EVERY_S)

    def summary(self) -> dict:
        """Counts per state, and the share of busy-backend samples waiting on a lock."""
        busy = sum(self.states.values())
        locks = sum(n for label, n in self.states.items() if ": Lock/" in label)
        return {
            "samples": self.samples,
            "busy_backend_samples": busy,
            "lock_wait_share": locks / busy if busy else 0.0,
            "states": dict(self.states.most_common()),
        }


def _label(state: str, wait_type: str | None, wait: str | None) -> str:
    return f"{state}: {wait_type}/{wait}" if wait_type else f"{state}: on CPU"


@contextmanager
def cpu_burner() -> Iterator[None]:
    """One process spinning on a core for the duration of the block."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # let it get going before the phase measures
        yield
    finally:
        burner.kill()
        burner.wait(timeout=10)
