"""Start the real gunicorn for a test and wait for it: shared by the tests that need it."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def live_env(tmp_path: Path, **env_extra: str) -> dict[str, str]:
    """The environment of a live server on SQLite databases in `tmp_path`; a management
    command run with it works on that server's databases."""
    return {
        **os.environ,
        "DJANGO_SECRET_KEY": "test",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{tmp_path / 'pii.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **env_extra,
    }


@contextmanager
def live_gunicorn(tmp_path: Path, *, workers: int = 2, **env_extra: str) -> Iterator[str]:
    """gunicorn with the project's gunicorn.conf.py on fresh SQLite databases in
    `tmp_path` (migrated for real); yields its base URL and stops it afterwards."""
    env = live_env(tmp_path, **env_extra)
    (tmp_path / "metrics").mkdir(exist_ok=True)
    for database in ("default", "pii"):
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "manage.py", "migrate", "--database", database, "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            timeout=120,
        )
    port = free_port()
    env |= {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            get_until_up(
                f"{base}/health/ping", process=process, log_path=log_path, deadline_seconds=30
            )
            yield base
        finally:
            stop(process)


def call(
    url: str,
    *,
    method: str = "",
    body: dict | None = None,
    raw: bytes | None = None,
    token: str = "",
) -> tuple[int, Any]:
    """One request to a live server: JSON `body` (or `raw` bytes), a user's token.
    Returns the status and the answer: decoded when JSON, else bytes (a chart, metrics)."""
    data = json.dumps(body).encode() if body is not None else raw
    request = urllib.request.Request(  # noqa: S310 - a local http URL
        url, data=data, method=method or ("POST" if data is not None else "GET")
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, _decoded(response)
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error)


def _decoded(response) -> Any:
    raw = response.read()
    if raw and "json" in response.headers.get("Content-Type", ""):
        return json.loads(raw)
    return raw or None


def sign_up(base: str, username: str, password: str) -> str:
    """A new user (so a new tenant) on a live server; returns its token."""
    account = {"username": username, "password": password}
    status, _ = call(f"{base}/auth/users/", body=account)
    assert status == 201
    status, login = call(f"{base}/auth/token/login/", body=account)
    assert status == 200
    return login["auth_token"]


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
