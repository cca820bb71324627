"""The results: one table of targets against same-run baselines, as markdown and JSON."""

import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# The targets (ratios measured in the same run, plus two absolute bounds).
SINGLE_MIN_RATIO = 0.30
SINGLE_MAX_P99_MS = 40.0
SEQUENTIAL_MAX_P50_MS = 3.0
SCALING_MIN_RATIO = 3.0
LOCK_WAIT_MAX_SHARE = 0.05
BATCH1000_MIN_RATIO = 0.60
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
    if "single1" in phases:  # runs from before these phases existed have no such rows
        table += [
            _sequential_row(phases, "single1", "single-event POST"),
            _sequential_row(phases, "list1", "`GET /api/events/`"),
            _scaling_row(phases),
            _busy_row(phases),
            _lock_row(result["activity"]),
        ]
    if phases["single"].get("cpu"):  # measured since bench.cpu exists (Linux)
        table.append(_cpu_row(phases))
    for size in (100, 1000):
        table.append(_batch_row(phases, size))
    note = "" if result["events_loaded"] >= TARGET_EVENTS else " (goal is stated at 10 M)"
    table += [_stats_row(stat, note) for stat in result["stats"]]
    table += [_stats_row(stat, note) for stat in result.get("stats_zones", [])]
    table += [_rollup_row(stat) for stat in result["stats"]]
    table += [_insight_row(case, note) for case in result.get("insights", [])]
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


def _sequential_row(phases: dict, name: str, what: str) -> dict:
    phase, hello = phases[name], phases["hello1"]
    return {
        "what": f"{what}, one connection, sequential, vs the hello the same way",
        "target": f"{phase['rps']:,.0f} req/s; {latency(phase)}",
        "baseline": f"{hello['rps']:,.0f} req/s; {latency(hello)}",
        "ratio": f"{phase['p50_ms'] / hello['p50_ms']:.1f}x (p50)" if hello["p50_ms"] else "—",
        "goal": f"p50 ≤ {SEQUENTIAL_MAX_P50_MS:.0f} ms",
        "result": verdict(phase["p50_ms"] <= SEQUENTIAL_MAX_P50_MS),
    }


def _scaling_row(phases: dict) -> dict:
    many, one = phases["single"], phases["single1"]
    ratio = many["rps"] / one["rps"] if one["rps"] else 0.0
    hello = phases["hello"]["rps"] / phases["hello1"]["rps"] if phases["hello1"]["rps"] else 0.0
    return {
        "what": "single-event POST: many connections vs one (nothing serialises)",
        "target": f"{many['rps']:,.0f} vs {one['rps']:,.0f} req/s",
        "baseline": f"hello: {hello:.1f}x",
        "ratio": f"{ratio:.1f}x",
        "goal": f"≥ {SCALING_MIN_RATIO:.0f}x",
        "result": verdict(ratio >= SCALING_MIN_RATIO),
    }


def _busy_row(phases: dict) -> dict:
    def drop(busy: str, calm: str) -> float:
        return 1 - phases[busy]["rps"] / phases[calm]["rps"] if phases[calm]["rps"] else 0.0

    single, hello = drop("single_busy", "single"), drop("hello_busy", "hello")
    return {
        "what": "single-event POST with one core kept busy: share of throughput lost",
        "target": f"{single:.0%} ({phases['single_busy']['rps']:,.0f} req/s)",
        "baseline": f"hello: {hello:.0%} ({phases['hello_busy']['rps']:,.0f} req/s)",
        "ratio": "—",
        "goal": "no larger a share than the hello's",
        "result": verdict(single <= hello),
    }


def cpu_ms(phase: dict) -> dict[str, float]:
    """CPU milliseconds per request of a phase, by who spent them (bench.cpu), with the
    load generator's own; empty for runs from before it was measured."""
    cpu, requests = phase.get("cpu"), phase["requests"] or 1
    if not cpu:
        return {}
    spent = {
        "server": cpu["server"],
        "PostgreSQL": cpu["postgres"] + cpu["postgres_background"],
        "load generator": phase["client_cpu_seconds"],
    }
    return {who: 1000 * seconds / requests for who, seconds in spent.items()}


def _cpu_row(phases: dict) -> dict:
    single, hello = phases["single"], phases["hello"]

    def shares(phase: dict) -> str:
        return ", ".join(f"{who} {value:.2f}" for who, value in cpu_ms(phase).items())

    return {
        "what": "CPU per request during the many-connection phase, by who spent it (ms)",
        "target": f"single-event POST: {shares(single)}",
        "baseline": f"hello: {shares(hello)}",
        "ratio": f"{sum(cpu_ms(single).values()) / sum(cpu_ms(hello).values()):.1f}x",
        "goal": "—",
        "result": "info",
    }


def _lock_row(activity: dict) -> dict:
    share = activity["lock_wait_share"]
    top = ", ".join(f"{label} {n}" for label, n in list(activity["states"].items())[:3])
    return {
        "what": "busy backends waiting on a lock during the many-connection single phase",
        "target": f"{share:.1%} of {activity['busy_backend_samples']:,} backend samples",
        "baseline": f"most frequent: {top}",
        "ratio": "—",
        "goal": f"< {LOCK_WAIT_MAX_SHARE:.0%}",
        "result": verdict(share < LOCK_WAIT_MAX_SHARE),
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
        "what": f"`GET /api/stats/{stat['endpoint']}` {stat['days']} days{_in_zone(stat)} "
        "vs its SQL via psycopg",
        "target": f"p50 {ms(http['p50_ms'])} / p95 {ms(http['p95_ms'])} ({http['runs']} req)",
        "baseline": f"p50 {ms(sql['p50_ms'])} / p95 {ms(sql['p95_ms'])} ({sql['runs']} runs)",
        "ratio": f"{http['p95_ms'] / sql['p95_ms']:.1f}x (p95)" if sql["p95_ms"] else "—",
        "goal": f"p95 ≤ {STATS_MAX_P95_MS:.0f} ms{note}",
        "result": verdict(http["p95_ms"] <= STATS_MAX_P95_MS),
    }


def _insight_row(case: dict, note: str) -> dict:
    if "error" in case:
        return {
            "what": case["name"],
            "target": f"failed: {case['error'][:120]}",
            "baseline": "—",
            "ratio": "—",
            "goal": f"p95 ≤ {case['goal_ms']:.0f} ms{note}",
            "result": verdict(False),
        }
    http, sql = case["http"], case["sql"]
    return {
        "what": f"{case['name']} vs the same numbers in raw SQL via psycopg",
        "target": f"p50 {ms(http['p50_ms'])} / p95 {ms(http['p95_ms'])} ({http['runs']} req)",
        "baseline": f"p50 {ms(sql['p50_ms'])} / p95 {ms(sql['p95_ms'])} ({sql['runs']} runs)",
        "ratio": f"{http['p95_ms'] / sql['p95_ms']:.1f}x (p95)" if sql["p95_ms"] else "—",
        "goal": f"p95 ≤ {case['goal_ms']:.0f} ms{note}",
        "result": verdict(http["p95_ms"] <= case["goal_ms"]),
    }


def _in_zone(stat: dict) -> str:
    """ " in <zone> (raw rows)" for a case outside UTC, naming what the endpoint read."""
    tz = stat.get("tz", "UTC")
    return "" if tz == "UTC" else f" in {tz} ({stat.get('x_stats_source', '?')} rows)"


def _rollup_row(stat: dict) -> dict:
    rollup, raw = stat["sql_rollup"], stat["sql_raw"]
    ratio = raw["p50_ms"] / rollup["p50_ms"] if rollup["p50_ms"] else 0.0
    return {
        "what": f"{stat['endpoint']} {stat['days']} days: rollup SQL vs raw EventLog SQL",
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
        f"- Data: **{result['events_loaded']:,} events** "
        f"({result['machine'].get('tenants', 2)} tenants, 20 event names, 50,000 "
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
        *_activity(result),
        "## Query plans (`EXPLAIN (ANALYZE, BUFFERS)`) at the loaded size",
        "",
        "The endpoint runs the rollup statements (DailyCount for whole days, HourlyCount "
        "around the range's edges); the raw statement is the same answer from EventLog, "
        "shown for the rollup-vs-raw rows.",
        "",
        *_plans(result),
    ]
    return "\n".join(parts) + "\n"


def _activity(result: dict) -> list[str]:
    activity = result.get("activity")
    if not activity:
        return []
    lines = [
        "## pg_stat_activity during the many-connection single phase",
        "",
        f"{activity['samples']:,} samples every 5 ms; each busy backend counted per sample.",
        "",
        "| state: wait | backend samples | share |",
        "|---|---|---|",
    ]
    busy = activity["busy_backend_samples"] or 1
    for label, n in activity["states"].items():
        lines.append(f"| {label} | {n:,} | {n / busy:.1%} |")
    return [*lines, ""]


def _load_steps(load: dict) -> str:
    return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in load["steps"].items())


def _phase_details(result: dict) -> list[str]:
    lines = [
        "## Phases",
        "",
        "| phase | requests | events | wall | req/s | events/s | p50 | p95 | p99 | statuses | "
        "client CPU | CPU per request: server / PostgreSQL / clients | load avg after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, phase in result["phases"].items():
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(phase["statuses"].items()))
        shares = cpu_ms(phase).values()
        per_request = " / ".join(f"{value:.2f}" for value in shares) + " ms" if shares else "—"
        lines.append(
            f"| {name} | {phase['requests']:,} | {phase['events']:,} | "
            f"{phase['wall_seconds']:.1f} s | {phase['rps']:,.1f} | {phase['eps']:,.0f} | "
            f"{phase['p50_ms']:.1f} | {phase['p95_ms']:.1f} | {phase['p99_ms']:.1f} | "
            f"{statuses} | {phase['client_cpu_seconds']:.1f} s | {per_request} | "
            f"{phase['loadavg_after']:.2f} |"
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
                ";\n\n".join(plan["sql"]),
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
