"""`manage.py run_jobs`: rounds of the retention purge and the activity periods, run for
real as a process; failures recorded and isolated; lag for monitoring; the settings."""

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from core.locks import try_lock
from events.management.commands.purge_expired import Command as PurgeCommand
from events.models import DeletionReceipt, EventLog
from events.tests.factories import EventLogFactory
from stats.jobs import JOBS, JobLag, JobOutcome, job_lags, job_run
from stats.management.commands.compute_user_activity import Command as ActivityCommand
from stats.models import JobState, UserActivityPeriod

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Logs of one user two days ago, at 01:00 (count 1), 02:00 (2) and 05:00 (5) UTC.
SEED = """
import datetime as dt
from accounts.models import Tenant
from events.models import Event, EventLog
day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
day -= dt.timedelta(days=2)
tenant = Tenant.objects.create(name="t", slug="t")
event = Event.objects.create(tenant=tenant, name="e")
for hour in (1, 2, 5):
    when = day + dt.timedelta(hours=hour)
    EventLog.objects.create(
        tenant=tenant, event=event, distinct_id="alice", timestamp=when, received_at=when,
        count=hour,
    )
"""


def _manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a process on a fresh, migrated SQLite file holding SEED."""
    folder = tmp_path_factory.mktemp("jobs")
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{folder / 'pii.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    for args in (("migrate", "--noinput"), ("shell", "-c", SEED)):
        done = _manage(env, *args)
        assert done.returncode == 0, done.stderr
    return env


def _query(env: dict[str, str], sql: str) -> list[tuple]:
    with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def test_run_jobs_once_runs_every_job_and_exits_0(sqlite_env):
    done = _manage(sqlite_env, "run_jobs", "--once")

    assert done.returncode == 0, done.stdout + done.stderr
    assert _query(sqlite_env, "SELECT distinct_id, events FROM stats_useractivityperiod") == [
        ("alice", 3),
        ("alice", 5),
    ]
    states = _query(sqlite_env, "SELECT name, last_success_at, last_error FROM stats_jobstate")
    assert {name for name, success, error in states if success and not error} == set(JOBS)
    assert "User activity" in done.stdout


def test_run_jobs_loops_until_sigterm(sqlite_env, tmp_path):
    log_path = tmp_path / "jobs.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_jobs", "--interval", "0.2"],
            cwd=BASE_DIR,
            env=sqlite_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(log_path, "User activity", count=2, process=process)
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    output = log_path.read_text(encoding="utf-8")
    assert returncode == 0, output
    assert output.rstrip().endswith("Stopped by a signal.")


def _wait_for(path: Path, text: str, *, count: int, process: subprocess.Popen) -> None:
    """Until `text` appears `count` times in the process's output (two rounds: it loops)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if path.read_text(encoding="utf-8").count(text) >= count:
            return
        time.sleep(0.1)
    pytest.fail(f"no {count} x {text!r} (exit code {process.poll()}):\n{path.read_text()}")


@pytest.mark.parametrize("failing", ["purge_expired", "compute_user_activity"])
def test_a_failing_job_does_not_stop_the_others(tenant, monkeypatch, failing):
    commands = {"purge_expired": PurgeCommand, "compute_user_activity": ActivityCommand}

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(commands[failing], "handle", fail)
    yesterday = timezone.now() - dt.timedelta(days=1)
    EventLogFactory(event__tenant=tenant, distinct_id="alice", timestamp=yesterday)

    with pytest.raises(CommandError, match="A job failed"):
        call_command("run_jobs", "--once", stdout=StringIO())

    states = {state.name: state for state in JobState.objects.all()}
    assert states[failing].last_error == "RuntimeError: disk on fire"
    assert states[failing].last_success_at is None
    for other in set(JOBS) - {failing}:
        assert states[other].last_error == ""
        assert states[other].last_success_at is not None
    assert UserActivityPeriod.objects.exists() == (failing != "compute_user_activity")


def test_a_success_clears_the_last_error(db):
    JobState.objects.create(name="purge_expired", last_error="RuntimeError: earlier")

    call_command("run_jobs", "--once", stdout=StringIO())

    assert JobState.objects.get(name="purge_expired").last_error == ""


def test_job_lags(db):
    now = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    JobState.objects.create(
        name="compute_user_activity",
        last_run_at=now - dt.timedelta(seconds=30),
        last_success_at=now - dt.timedelta(seconds=30),
        watermark=now - dt.timedelta(hours=4),
    )
    JobState.objects.create(name="purge_expired", last_run_at=now, last_error="boom")
    JobState.objects.create(name="never_ran")

    assert job_lags(now=now) == {
        "compute_user_activity": JobLag(since_success=30.0, watermark=4 * 3600.0),
        "purge_expired": JobLag(since_success=float("inf"), watermark=None),
        "never_ran": JobLag(since_success=None, watermark=None),
    }


@pytest.mark.parametrize("interval", ["0", "-5", "nan", "inf", "abc"])
def test_the_interval_must_be_a_finite_positive_number(db, interval):
    """NaN passed a `<= 0` check, and every job then ran back to back without a pause.
    (--once: were the value accepted, the test would end all the same.)"""
    with pytest.raises(CommandError, match="--interval: must be a number of seconds more than 0"):
        call_command("run_jobs", "--once", "--interval", interval, stdout=StringIO())


def _setup_with(**settings: str) -> subprocess.CompletedProcess:
    """django.setup() in a fresh process, with these settings in the environment."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventtracker.settings",
        "DJANGO_SECRET_KEY": "test",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", ["JOBS_INTERVAL_SECONDS", "FOLD_INTERVAL_SECONDS"])
@pytest.mark.parametrize(
    ("seconds", "starts"),
    [("0.5", True), ("30", True)] + [(bad, False) for bad in ("0", "-1", "nan", "inf", "abc", "")],
)
def test_the_job_intervals_must_be_finite_positive_numbers(name, seconds, starts):
    done = _setup_with(**{name: seconds})

    assert (done.returncode == 0) == starts, done.stderr
    if not starts:
        assert f"ImproperlyConfigured: {name} must be a number of seconds more than 0" in (
            done.stderr
        )


@pytest.mark.parametrize(
    ("hours", "starts"), [("6", True), ("5", False), ("0", False), ("abc", False), ("", False)]
)
def test_the_period_length_must_divide_a_day(hours, starts):
    done = _setup_with(USER_ACTIVITY_PERIOD_HOURS=hours)

    assert (done.returncode == 0) == starts, done.stderr
    if not starts:
        assert "ImproperlyConfigured: USER_ACTIVITY_PERIOD_HOURS must divide 24" in done.stderr


@contextmanager
def held_elsewhere(name: str) -> Iterator[None]:
    """While the block runs, another connection (another jobs process) holds lock `name`."""
    holding, release = threading.Event(), threading.Event()

    def other_runner() -> None:
        try:
            with try_lock(name) as held:
                assert held
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_runner)
    thread.start()
    assert holding.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_job_another_process_holds_is_skipped_not_run_twice():
    """The lock of a job is held across connections (another jobs process, or machine):
    the second runner skips the job and records nothing."""
    ran = []
    with held_elsewhere("purge_expired"):
        outcome = job_run("purge_expired", lambda: ran.append(1))

    assert outcome == JobOutcome(ran=False, succeeded=True)
    assert ran == []
    assert not JobState.objects.filter(name="purge_expired").exists()
    assert job_run("purge_expired", lambda: ran.append(1)) == JobOutcome(ran=True, succeeded=True)
    assert ran == [1]


def _old_log_kept_a_day(tenant) -> None:
    tenant.retention_days = 1
    tenant.save()
    EventLogFactory(event__tenant=tenant, timestamp=timezone.now() - dt.timedelta(days=3))


@pytest.mark.django_db(transaction=True)
def test_purge_expired_skips_while_another_process_purges(tenant):
    """cron's purge and run_jobs' share the job's lock: the second says so and exits 0."""
    _old_log_kept_a_day(tenant)
    out, err = StringIO(), StringIO()
    with held_elsewhere("purge_expired"):  # run_jobs purging
        call_command("purge_expired", stdout=out, stderr=err)

    assert "Another process is purging expired logs: nothing done." in err.getvalue()
    assert EventLog.objects.filter(tenant=tenant).count() == 1
    assert not DeletionReceipt.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_purge_expired_under_its_jobs_lock_in_run_jobs_still_purges(tenant):
    """run_jobs holds the job's lock while it runs the command, which takes it again."""
    _old_log_kept_a_day(tenant)
    out = StringIO()

    outcome = job_run("purge_expired", lambda: call_command("purge_expired", stdout=out))

    assert outcome == JobOutcome(ran=True, succeeded=True)
    assert "1 expired log(s) deleted." in out.getvalue()
    assert not EventLog.objects.filter(tenant=tenant).exists()
