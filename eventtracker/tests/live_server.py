"""Start the real gunicorn for a test and wait for it: shared by the tests that need it."""

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_until_up(
    url: str, *, process: subprocess.Popen, log_path: Path, deadline_seconds: float
) -> bytes:
    """GET url once the server answers; fail with the server's output if it never does."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - fixed http URL
                return response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # TimeoutError: the master already accepts connections while the worker
            # is still importing Django (slow on a loaded machine); try again.
            time.sleep(0.2)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    pytest.fail(f"gunicorn (exit code {process.poll()}) never answered {url}:\n{output}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()  # SIGTERM: gunicorn's graceful shutdown
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
