"""`make bench-citus`: the same bench on plain PostgreSQL and on Citus, side by side.

    python -m bench.citus --coordinator URL [--coordinator URL …] [--events N] [--tenants N]

Runs `python -m bench` (the whole harness: load, HTTP phases with their baselines in the
same run, stats, exactly-once checks) once on the local PostgreSQL and once on each Citus
coordinator given (a database there with the extension and its workers registered; the
bench database is made on every node and distributed by `migrate`), all with the same
events spread over the same tenants. Then prints one table of the headline figures and,
for each Citus run, how the event logs are spread (rows per shard and per worker) and
whether the stats statements of one tenant ran in one shard (`Task Count: 1` in their
plans). Writes bench/results/<timestamp>-citus.md beside the runs' own files.
"""

import argparse
import datetime as dt
import os
import re
import subprocess
import sys

import orjson
import psycopg

from bench import dataset

RESULTS = dataset.ROOT / "bench" / "results"
PLAIN = "postgres://postgres@127.0.0.1:5432/postgres"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.citus", description=__doc__)
    parser.add_argument("--coordinator", action="append", required=True, help="Citus URL")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=None, help="length of each phase")
    args = parser.parse_args(argv)
    runs = []
    for server in (PLAIN, *args.coordinator):
        result = _bench(server, args)
        runs.append((server, result, _spread(server) if server != PLAIN else None))
    text = _report(runs, args)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-citus.md"
    path.write_text(text)
    print(text)
    print(f"wrote {path.relative_to(dataset.ROOT)}")
    return 0


def _bench(server: str, args) -> dict:
    """One `python -m bench` run against `server`; its JSON result."""
    before = set(RESULTS.glob("*.json"))
    command = [sys.executable, "-m", "bench", "--events", str(args.events)]
    if args.seconds:
        command += ["--seconds", str(args.seconds)]
    env = {**os.environ, "BENCH_SERVER_URL": server, "BENCH_TENANTS": str(args.tenants)}
    # A fixed argv: this interpreter and the bench module.
    subprocess.run(command, cwd=dataset.ROOT, env=env, check=True)  # noqa: S603
    (written,) = set(RESULTS.glob("*.json")) - before
    return orjson.loads(written.read_bytes()) | {"file": written.name}


def _spread(server: str) -> dict:
    """How the bench database's event logs lie on the cluster of `server`."""
    url = re.sub(r"/[^/]*$", f"/{dataset.DB_NAME}", server)
    with psycopg.connect(url) as conn:
        shards = conn.execute(
            "SELECT s.nodename || ':' || s.nodeport, r.result::bigint "
            "FROM run_command_on_shards('events_eventlog', 'SELECT count(*) FROM %s') r "
            "JOIN citus_shards s ON s.shardid = r.shardid"
        ).fetchall()
    per_node: dict[str, int] = {}
    for node, rows in shards:
        per_node[node] = per_node.get(node, 0) + rows
    counts = sorted(rows for _, rows in shards)
    return {"shards": len(counts), "min": counts[0], "max": counts[-1], "per_node": per_node}


def _figures(result: dict) -> dict[str, str]:
    phases = result["phases"]
    stats = {(s["endpoint"], s["days"], s["tz"]): s for s in result["stats"]}
    stats |= {(s["endpoint"], s["days"], s["tz"]): s for s in result["stats_zones"]}

    def rate(name: str) -> str:
        phase = phases[name]
        return f"{phase['eps']:,.0f}/s (p99 {phase['p99_ms']:.0f} ms)"

    def p95(endpoint: str, days: int, tz: str = "UTC") -> str:
        found = stats.get((endpoint, days, tz))
        return f"{found['http']['p95_ms']:.0f} ms" if found else "—"

    return {
        "single-event POST, 16 connections": rate("single"),
        "single-event POST, 1 connection (p50)": f"{phases['single1']['p50_ms']:.1f} ms",
        "plain WSGI hello, 16 connections (baseline)": f"{phases['hello']['rps']:,.0f}/s",
        "batch of 1000, events": rate("batch1000"),
        "raw COPY of 1000 rows (baseline)": f"{phases['copy1000']['eps']:,.0f}/s",
        "event_trend 7 days (p95)": p95("event_trend", 7),
        "event_trend 365 days (p95)": p95("event_trend", 365),
        "event_trend 365 days, Asia/Kolkata (p95)": p95("event_trend", 365, "Asia/Kolkata"),
        "event_frequency 365 days (p95)": p95("event_frequency", 365),
        "load (COPY, indexes, rollup)": f"{result['load']['seconds']:.0f} s",
        "exactly once, no drift": "yes"
        if result["verify"]["ok"] and result["rollup_check"]["ok"]
        else "**no**",
    }


def _single_shard(result: dict) -> str:
    """Of the stats statements' plans the bench captured, how many ran in one shard."""
    plans = [
        plan["text"]
        for entry in result["stats"]
        for plan in entry.get("plans", {}).values()
        if isinstance(plan, dict) and "text" in plan
    ]
    routed = [text for text in plans if "Task Count" in text]
    one = [text for text in routed if not re.search(r"Task Count: (?!1\b)\d+", text)]
    return f"{len(one)} of {len(routed)} stats plans in one shard"


def _report(runs: list, args) -> str:
    names = [
        "PostgreSQL" if spread is None else result["machine"]["postgres"].split(", ", 1)[1]
        for _, result, spread in runs
    ]
    table = [
        "| measurement | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    figures = [_figures(result) for _, result, _ in runs]
    for key in figures[0]:
        table.append(f"| {key} | " + " | ".join(f[key] for f in figures) + " |")
    lines = [
        f"# eventtracker on PostgreSQL and on Citus — {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
        "",
        f"`python -m bench.citus`: {args.events:,} events over {args.tenants} tenants, "
        "each server benched by the same harness in turn on one machine "
        f"({runs[0][1]['machine']['cpus']} CPUs; load average "
        + ", ".join(result["machine"]["loadavg_start"] for _, result, _ in runs)
        + " at the start of each run). Runs: "
        + ", ".join(f"`{result['file']}`" for _, result, _ in runs)
        + ".",
        "",
        *table,
        "",
    ]
    for name, (_, result, spread) in zip(names, runs, strict=True):
        if spread is None:
            continue
        nodes = ", ".join(f"{node} {rows:,}" for node, rows in sorted(spread["per_node"].items()))
        lines.append(
            f"- {name}: event logs in {spread['shards']} shards, {spread['min']:,} to "
            f"{spread['max']:,} rows each; per node: {nodes}; {_single_shard(result)}."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
