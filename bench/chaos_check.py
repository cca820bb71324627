"""After the chaos: what the clients were told, against what the database holds.

Reads EventLog and HourlyCount straight from the database (psycopg or sqlite3, no
Django in this process) and checks: every uuid acknowledged (`accepted` or
`duplicate`) is stored exactly once, with the content that was sent, in the tenant
that sent it; no uuid is stored twice or accepted twice; every replay was a
`duplicate`; every event got a receipt; the rollup equals a recount of the raw rows
and a recount of what the clients sent; `manage.py rebuild_hourly_counts --check`
exits 0. Also scans the server log for 500s and "database is locked".
"""

import datetime as dt
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from uuid import UUID

import psycopg

from bench.chaos_clients import ClientLog, Sent
from bench.dataset import ROOT

ROWS_SQL = (
    "SELECT l.tenant_id, l.uuid, e.name, l.timestamp, l.count "
    "FROM events_eventlog l JOIN events_event e ON e.id = l.event_id"
)
# The rollup as stats read it: folded counters plus the increments not folded yet.
ROLLUP_SQL = (
    "SELECT h.tenant_id, e.name, h.hour, SUM(h.count) "
    "FROM events_hourlycounttotal h JOIN events_event e ON e.id = h.event_id "
    "GROUP BY h.tenant_id, e.name, h.hour HAVING SUM(h.count) <> 0"
)
ACKNOWLEDGED = ("accepted", "duplicate")
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Shutdown))\b")

Row = tuple[int, str, str, str, int]  # tenant_id, uuid, event name, UTC hour, count


def read_database(database_url: str) -> tuple[list[Row], Counter]:
    """(EventLog rows, the hourly rollup as {(tenant_id, name, hour): count})."""
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            raw, rollup = conn.execute(ROWS_SQL).fetchall(), conn.execute(ROLLUP_SQL).fetchall()
        finally:
            conn.close()
    else:
        with psycopg.connect(database_url) as conn:
            raw, rollup = conn.execute(ROWS_SQL).fetchall(), conn.execute(ROLLUP_SQL).fetchall()
    rows = [(t, str(UUID(str(u))), name, _hour(ts), n) for t, u, name, ts, n in raw]
    return rows, Counter({(t, name, _hour(hour)): n for t, name, hour, n in rollup})


def _hour(value: dt.datetime | str) -> str:
    # PostgreSQL gives aware datetimes; Django stores naive UTC text in SQLite.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return f"{value:%Y-%m-%dT%H}"


def check(logs: list[ClientLog], rows: list[Row], rollup: Counter) -> dict[str, int]:
    """The counts of the exactly-once and rollup checks (names as in the report)."""
    sent: dict[str, Sent] = {u: s for log in logs for u, s in log.sent.items()}
    receipts = [receipt for log in logs for receipt in log.receipts]
    acked = {u for u, status, _ in receipts if status in ACKNOWLEDGED}
    answered = acked | {u for u, status, _ in receipts if status == "rejected"}
    accepted = Counter(u for u, status, _ in receipts if status == "accepted")
    stored = Counter(u for _, u, _, _, _ in rows)
    return {
        "events sent": len(sent),
        "accepted receipts": sum(accepted.values()),
        "duplicate receipts": sum(1 for _, status, _ in receipts if status == "duplicate"),
        "rejected receipts": sum(1 for _, status, _ in receipts if status == "rejected"),
        "acknowledged events": len(acked),
        "events never acknowledged": len(sent.keys() - answered),
        "unacknowledged but stored": len((sent.keys() - answered) & stored.keys()),
        "stored rows": len(rows),
        "uuids stored twice": sum(1 for n in stored.values() if n > 1),
        "acknowledged but not stored": len(acked - stored.keys()),
        "uuids accepted twice": sum(1 for n in accepted.values() if n > 1),
        "replayed items not duplicate": sum(
            1 for _, status, replay in receipts if replay and status != "duplicate"
        ),
        "stored rows nobody sent": len(stored.keys() - sent.keys()),
        "stored content differs": _content_differs(sent, rows),
        "rollup buckets": len(rollup),
        "rollup drift vs raw recount": _drift(rollup, _recount_rows(rows)),
        "rollup drift vs client recount": _drift(rollup, _recount_sent(sent, acked)),
    }


def _content_differs(sent: dict[str, Sent], rows: list[Row]) -> int:
    return sum(
        1
        for tenant, u, name, hour, n in rows
        if u in sent and sent[u] != Sent(tenant, name, hour, n)
    )


def _recount_rows(rows: list[Row]) -> Counter:
    recount: Counter = Counter()
    for tenant, _, name, hour, n in rows:
        recount[(tenant, name, hour)] += n
    return recount


def _recount_sent(sent: dict[str, Sent], acked: set[str]) -> Counter:
    recount: Counter = Counter()
    for u in acked:
        event = sent[u]
        recount[(event.tenant_id, event.name, event.hour)] += event.count
    return recount


def _drift(rollup: Counter, expected: Counter) -> int:
    return sum(1 for key in rollup.keys() | expected.keys() if rollup[key] != expected[key])


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` against the run's database, its output captured."""
    # Fixed argv: this interpreter and the project's manage.py; no shell.
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rebuild_check(env: dict[str, str]) -> tuple[int, str]:
    """`manage.py rebuild_hourly_counts --check` against the run's database."""
    done = run_manage(env, "rebuild_hourly_counts", "--check")
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def scan_server_log(path: Path) -> dict[str, int]:
    """500s the server logged, "database is locked" lines, exception types."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if match := EXCEPTION_LINE.match(line):
            found[match.group(1)] += 1
    return {
        "Internal Server Error": text.count("Internal Server Error"),
        "database is locked": text.count("database is locked"),
        **{f"exception {name}": n for name, n in found.most_common()},
    }
