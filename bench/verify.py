"""After the load: every acknowledged event is stored exactly once, and the rollup agrees.

Each ingest phase returns one (uuid, status) pair per item it sent: `accepted`,
`duplicate` (the server says it already had the uuid), `rejected`, or
`unacknowledged` (the request failed: no answer, 5xx). Stored rows are counted
through a temporary table of those pairs.
"""

import io
from collections import Counter

import psycopg

from bench.dataset import TABLE


def exactly_once(conn: psycopg.Connection, receipts: list[tuple[str, str]]) -> dict:
    statuses = Counter(status for _, status in receipts)
    accepted_uuids = Counter(uuid for uuid, status in receipts if status == "accepted")
    conn.execute("CREATE TEMP TABLE bench_receipts (uuid uuid, status text) ON COMMIT DROP")
    with conn.cursor().copy("COPY bench_receipts (uuid, status) FROM STDIN") as copy:
        for row in receipts:
            copy.write_row(row)
    conn.execute("CREATE INDEX ON bench_receipts (uuid)")
    conn.execute("ANALYZE bench_receipts")
    acked = _scalar(
        conn,
        f"SELECT count(*) FROM {TABLE} e WHERE e.uuid IN "  # noqa: S608 - a fixed table name
        "(SELECT uuid FROM bench_receipts WHERE status IN ('accepted', 'duplicate'))",
    )
    acked_distinct = _scalar(
        conn,
        "SELECT count(DISTINCT uuid) FROM bench_receipts WHERE status IN ('accepted', 'duplicate')",
    )
    unacked_stored = _scalar(
        conn,
        f"SELECT count(*) FROM {TABLE} e WHERE e.uuid IN "  # noqa: S608 - a fixed table name
        "(SELECT uuid FROM bench_receipts GROUP BY uuid "
        "HAVING bool_and(status NOT IN ('accepted', 'duplicate')))",
    )
    stored_twice = _scalar(
        conn,
        f"SELECT count(*) FROM (SELECT e.uuid FROM {TABLE} e "  # noqa: S608 - a fixed table name
        "WHERE e.uuid IN (SELECT uuid FROM bench_receipts) GROUP BY e.uuid "
        "HAVING count(*) > 1) twice",
    )
    conn.rollback()
    accepted_twice = sum(1 for n in accepted_uuids.values() if n > 1)
    result = {
        "receipts": len(receipts),
        "statuses": dict(statuses),
        "accepted_receipts": statuses["accepted"],
        "acknowledged_uuids": acked_distinct,
        "stored_rows_for_acknowledged_uuids": acked,
        "stored_rows_for_unacknowledged_uuids": unacked_stored,
        "uuids_stored_more_than_once": stored_twice,
        "uuids_accepted_more_than_once": accepted_twice,
    }
    result["ok"] = (
        acked == statuses["accepted"] == acked_distinct
        and stored_twice == 0
        and accepted_twice == 0
    )
    return result


def rollup_check() -> dict:
    """`manage.py rebuild_hourly_counts --check` (run in this process, where Django is
    already set up on the bench database): no drifted bucket, no error."""
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    try:
        call_command("rebuild_hourly_counts", check=True, stdout=out, stderr=out)
        returncode = 0
    except CommandError as exc:
        out.write(str(exc))
        returncode = getattr(exc, "returncode", 1)
    output = out.getvalue().strip()
    return {"returncode": returncode, "output": output, "ok": returncode == 0}


def _scalar(conn: psycopg.Connection, statement: str) -> int:
    # Statements above are fixed text; values come from the temp table, not from SQL text.
    return conn.execute(statement).fetchone()[0]  # type: ignore[arg-type]
