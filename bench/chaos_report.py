"""The chaos run's one table: a row per count, a column per database (bench.chaos)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.chaos import Result

ROWS = (
    ("events sent (distinct uuids)", "events sent"),
    ("items transmitted (with retries and replays)", "items transmitted"),
    ("requests", "requests"),
    ("retries", "retries"),
    ("receipts `accepted`", "accepted receipts"),
    ("receipts `duplicate`", "duplicate receipts"),
    ("receipts `rejected`", "rejected receipts"),
    ("acknowledged events (accepted or duplicate)", "acknowledged events"),
    ("events never acknowledged", "events never acknowledged"),
    ("stored rows (EventLog)", "stored rows"),
    ("uuids stored twice", "uuids stored twice"),
    ("acknowledged but not stored", "acknowledged but not stored"),
    ("uuids accepted twice", "uuids accepted twice"),
    ("replayed items not `duplicate`", "replayed items not duplicate"),
    ("unacknowledged but stored (allowed, once)", "unacknowledged but stored"),
    ("stored content differs from sent", "stored content differs"),
    ("HourlyCount buckets", "rollup buckets"),
    ("rollup drift vs raw recount", "rollup drift vs raw recount"),
    ("rollup drift vs client recount", "rollup drift vs client recount"),
    ("`rebuild_hourly_counts --check` exit code", "rebuild_hourly_counts --check exit code"),
    ("5xx outside the database outage", "5xx outside the database outage"),
)


def render(results: list["Result"]) -> str:
    """One markdown table, a column per database."""
    first = results[0].bounds
    head = (
        f"Load: {first.clients} clients x {first.batches} batches x {first.batch_size} "
        f"events ({first.shared} uuids per batch shared by a tenant's clients, every "
        f"{first.replay_every}th batch replayed), {first.tenants} tenants, "
        f"{first.workers} gunicorn workers, seed {first.seed}\n\n"
    )
    lines = [
        "| | " + " | ".join(r.database for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    cells = {label: [_number(r.counts.get(key)) for r in results] for label, key in ROWS}
    cells["answers by status"] = [_join(r.answers) for r in results]
    cells["faults injected"] = ["; ".join(r.faults) or "none" for r in results]
    cells["server log"] = [_join(r.server_log) for r in results]
    for note in ("gunicorn workers after the run", "load wall time"):
        cells[note] = [r.notes.get(note, "-") for r in results]
    cells["total time"] = [f"{r.seconds:.1f} s" for r in results]
    cells["verdict"] = [_verdict(r) for r in results]
    lines += [f"| {label} | " + " | ".join(row) + " |" for label, row in cells.items()]
    return head + "\n".join(lines)


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _verdict(result: "Result") -> str:
    return "**PASS**" if result.ok else "**FAIL**: " + "; ".join(result.failures)


def _join(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {n:,}" for name, n in counts.items() if n) or "none"
