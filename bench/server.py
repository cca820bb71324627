"""Start and stop gunicorn on 127.0.0.1 with the project's gunicorn.conf.py."""

import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.dataset import ROOT
from bench.loadgen import Connection

READY_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """One gunicorn master (and its workers), started by us and stopped by its pid.
    `app` None means the one gunicorn.conf.py names (the service)."""

    def __init__(self, app: str | None, *, env: dict[str, str], port: int, log: Path) -> None:
        self.app, self.env, self.port, self.log_path = app, env, port, log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        self.log = self.log_path.open("ab")
        # Fixed argv: this interpreter, gunicorn, the project's config file, an app path
        # chosen by the bench itself. No shell.
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *filter(None, [self.app])],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: gunicorn's graceful shutdown
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.app}) exited; see {self.log_path}")
            try:
                conn = Connection(self.port)
                status, _ = conn.request("GET", "/health/ping", None, "")
                conn.close()
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn ({self.app}) did not answer; see {self.log_path}")
