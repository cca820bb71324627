"""The results: one table of targets against same-run baselines, as markdown and JSON."""

import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# The targets (ratios measured in the same run, plus two absolute bounds).
SINGLE_MIN_RATIO = 0.30
SINGLE_MAX_P99_MS = 40.0
BATCH1000_MIN_RATIO = 0.50
STATS_MAX_P95_MS = 150.0
ROLLUP_MIN_RATIO = 10.0
TARGET_EVENTS = 10_000_000


def ms(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.1f} ms"


def latency(phase: dict) -> str:
    return f"p50 {phase['p50_ms']:.1f} / p95 {phase['p95_ms']:.1f} / p99 {phase['p99_ms']:.1f} ms"


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**MISS**"


def rows(result: dict) -> list[dict]:
    """Table rows: what was measured, the baseline beside it, the ratio, the goal."""
    phases = result["phases"]
    table = [_single_row(phases)]
    for size in (100, 1000):
        table.append(_batch_row(phases, size))
    note = "" if result["events_loaded"] >= TARGET_EVENTS else " (goal is stated at 10 M)"
    table += [_stats_row(stat, note) for stat in result["stats"]]
    table += [_rollup_row(stat) for stat in result["stats"]]
    table.append(_exactly_once_row(result["verify"]))
    check = result["rollup_check"]
    table.append(
        {
            "what": "rollup drift (`rebuild_hourly_counts --check`)",
            "target": check["output"].splitlines()[-1] if check["output"] else "—",
            "baseline": "raw EventLog rows",
            "ratio": "—",
            "goal": "no drift",
            "result": verdict(check["ok"]),
        }
    )
    return table


def _single_row(phases: dict) -> dict:
    single, hello = phases["single"], phases["hello"]
    ratio = single["rps"] / hello["rps"] if hello["rps"] else 0.0
    ok = ratio >= SINGLE_MIN_RATIO and single["p99_ms"] <= SINGLE_MAX_P99_MS
    return {
        "what": "single-event ingest `POST /api/eventlogs/` vs plain WSGI hello",
        "target": f"{single['rps']:,.0f} req/s; {latency(single)}",
        "baseline": f"{hello['rps']:,.0f} req/s; {latency(hello)}",
        "ratio": f"{ratio:.2f}x",
        "goal": f"≥ {SINGLE_MIN_RATIO:.2f}x and p99 ≤ {SINGLE_MAX_P99_MS:.0f} ms",
        "result": verdict(ok),
    }


def _batch_row(phases: dict, size: int) -> dict:
    http, copy = phases[f"batch{size}"], phases[f"copy{size}"]
    ratio = http["eps"] / copy["eps"] if copy["eps"] else 0.0
    row = {
        "what": f"batch {size} ingest `POST /api/eventlogs/batch/` vs raw COPY, {size} rows each",
        "target": f"{http['eps']:,.0f} events/s ({http['rps']:,.1f} req/s; {latency(http)})",
        "baseline": f"{copy['eps']:,.0f} events/s ({latency(copy)} per COPY+commit)",
        "ratio": f"{ratio:.2f}x",
        "goal": "—",
        "result": "info",
    }
    if size == 1000:
        row["goal"] = f"≥ {BATCH1000_MIN_RATIO:.2f}x"
        row["result"] = verdict(ratio >= BATCH1000_MIN_RATIO)
    return row


def _stats_row(stat: dict, note: str) -> dict:
    http, sql = stat["http"], stat["sql_rollup"]
    return {
        "what": f"`GET /api/stats/{stat['endpoint']}` {stat['days']} days vs its SQL via psycopg",
        "target": f"p50 {ms(http['p50_ms'])} / p95 {ms(http['p95_ms'])} ({http['runs']} req)",
        "baseline": f"p50 {ms(sql['p50_ms'])} / p95 {ms(sql['p95_ms'])} ({sql['runs']} runs)",
        "ratio": f"{http['p95_ms'] / sql['p95_ms']:.1f}x (p95)" if sql["p95_ms"] else "—",
        "goal": f"p95 ≤ {STATS_MAX_P95_MS:.0f} ms{note}",
        "result": verdict(http["p95_ms"] <= STATS_MAX_P95_MS),
    }


def _rollup_row(stat: dict) -> dict:
    rollup, raw = stat["sql_rollup"], stat["sql_raw"]
    ratio = raw["p50_ms"] / rollup["p50_ms"] if rollup["p50_ms"] else 0.0
    return {
        "what": f"{stat['endpoint']} {stat['days']} days: HourlyCount SQL vs raw EventLog SQL",
        "target": f"p50 {ms(rollup['p50_ms'])} ({rollup['runs']} runs)",
        "baseline": f"p50 {ms(raw['p50_ms'])} ({raw['runs']} runs)",
        "ratio": f"{ratio:.1f}x faster",
        "goal": f"≥ {ROLLUP_MIN_RATIO:.0f}x",
        "result": verdict(ratio >= ROLLUP_MIN_RATIO),
    }


def _exactly_once_row(check: dict) -> dict:
    return {
        "what": "exactly once: stored rows for acknowledged uuids vs `accepted` receipts",
        "target": (
            f"{check['stored_rows_for_acknowledged_uuids']:,} rows; "
            f"{check['uuids_stored_more_than_once']} uuid(s) stored twice"
        ),
        "baseline": (
            f"{check['accepted_receipts']:,} accepted; "
            f"{check['statuses'].get('duplicate', 0):,} duplicate receipts"
        ),
        "ratio": "—",
        "goal": "equal, 0 twice",
        "result": verdict(check["ok"]),
    }


def table_markdown(table: list[dict]) -> str:
    lines = [
        "| measurement | target (absolute) | baseline, same run | ratio | goal | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        cells = [row[key] for key in ("what", "target", "baseline", "ratio", "goal", "result")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(result: dict, table: list[dict]) -> str:
    setup = result["settings"]
    machine = result["machine"]
    load = result["load"]
    parts = [
        f"# eventtracker bench — {result['started_at']} ({result['mode']})",
        "",
        f"`{result['command']}` on {machine['cpus']} CPU(s), {machine['memory_gib']:.0f} GiB, "
        f"{machine['postgres']}; Python {machine['python']}. Load average "
        f"{machine['loadavg_start']} at start, {machine['loadavg_end']} at the end "
        "(the machine is shared: other processes' CPU use shows up as noise). "
        f"Commit {machine['git']}. PostgreSQL settings: "
        + ", ".join(f"{name}={value}" for name, value in machine["pg_settings"].items())
        + ".",
        "",
        f"- Data: **{result['events_loaded']:,} events** (2 tenants, 20 event names, 50,000 "
        f"users, one year), loaded in {load['seconds']:.1f} s "
        f"({_load_steps(load)}); HourlyCount: {load['rollup_rows']:,} rows.",
        f"- Server: gunicorn, {setup['workers']} workers x {setup['threads']} threads (gthread), "
        f"project `gunicorn.conf.py`; load generator: {setup['concurrency']} closed-loop clients "
        f"with persistent connections on 127.0.0.1; phases of ≤ {setup['durations']} s.",
        f"- Whole run: {result['elapsed_seconds']:.0f} s.",
        "",
        table_markdown(table),
        "",
        *_phase_details(result),
        "",
        *_verification(result),
        "",
        "## Query plans (`EXPLAIN (ANALYZE, BUFFERS)`) at the loaded size",
        "",
        "The endpoint runs the HourlyCount (rollup) statement; the raw statement is the same "
        "answer from EventLog, shown for the rollup-vs-raw rows.",
        "",
        *_plans(result),
    ]
    return "\n".join(parts) + "\n"


def _load_steps(load: dict) -> str:
    return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in load["steps"].items())


def _phase_details(result: dict) -> list[str]:
    lines = [
        "## Phases",
        "",
        "| phase | requests | events | wall | req/s | events/s | p50 | p95 | p99 | statuses | "
        "client CPU | load avg after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, phase in result["phases"].items():
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(phase["statuses"].items()))
        lines.append(
            f"| {name} | {phase['requests']:,} | {phase['events']:,} | "
            f"{phase['wall_seconds']:.1f} s | {phase['rps']:,.1f} | {phase['eps']:,.0f} | "
            f"{phase['p50_ms']:.1f} | {phase['p95_ms']:.1f} | {phase['p99_ms']:.1f} | "
            f"{statuses} | {phase['client_cpu_seconds']:.1f} s | {phase['loadavg_after']:.2f} |"
        )
    errors = [(name, e) for name, phase in result["phases"].items() for e in phase["errors"][:3]]
    if errors:
        lines += ["", "First errors seen:", ""]
        lines += [f"- {name}: `{error[:200]}`" for name, error in errors]
    return lines


def _verification(result: dict) -> list[str]:
    check = result["verify"]
    replay = result["replay"]
    return [
        "## Exactly-once check",
        "",
        f"- receipts collected: {check['receipts']:,} ({json.dumps(check['statuses'])})",
        f"- distinct acknowledged uuids: {check['acknowledged_uuids']:,}; rows stored for them: "
        f"{check['stored_rows_for_acknowledged_uuids']:,}; `accepted` receipts: "
        f"{check['accepted_receipts']:,}",
        f"- uuids stored more than once: {check['uuids_stored_more_than_once']}; uuids accepted "
        f"more than once: {check['uuids_accepted_more_than_once']}; rows stored for "
        f"unacknowledged uuids: {check['stored_rows_for_unacknowledged_uuids']}",
        f"- replay of already-accepted uuids: {replay['sent']} sent, "
        f"{replay['duplicate']} answered `duplicate` (or 200 for single), "
        f"{replay['other']} otherwise",
        f"- `rebuild_hourly_counts --check`: exit {result['rollup_check']['returncode']}, "
        f"`{result['rollup_check']['output']}`",
    ]


def _plans(result: dict) -> list[str]:
    lines: list[str] = []
    for stat in result["stats"]:
        for source in ("rollup", "raw"):
            plan = stat["plans"][source]
            lines += [
                f"### {stat['endpoint']}, {stat['days']} days, {source} — uses: "
                + (", ".join(plan["scans"]) or "—"),
                "",
                "```sql",
                plan["sql"],
                "```",
                "",
                "```",
                plan["text"],
                "```",
                "",
            ]
    return lines


def rerender(json_path: Path) -> Path:
    """Write the markdown of a saved result again (after a change to this module)."""
    result = json.loads(json_path.read_text())
    md_path = json_path.with_suffix(".md")
    md_path.write_text(markdown(result, rows(result)))
    return md_path


def save(result: dict, text: str) -> tuple[Path, Path]:
    RESULTS.mkdir(exist_ok=True)
    stem = result["started_at"].replace(":", "").replace("-", "")
    md_path = RESULTS / f"{stem}.md"
    json_path = RESULTS / f"{stem}.json"
    md_path.write_text(text)
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return md_path, json_path


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print(rerender(Path(name)))
