"""`make bench-charts`: API key verification and chart drawing, timed in-process.

Targets (issue "API keys, the seed-000 API, …"): key verification ≤ 1 ms; chart p95
uncached ≤ 250 ms and cached ≤ 20 ms. Runs on a fresh temporary SQLite database by
default, or on `--database-url` (which it migrates and fills: use a scratch database).
Prints one markdown table; the baseline of each chart row is the JSON selector call
that feeds it, measured in the same run.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="eventtracker-bench-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["PII_DATABASE_URL"] = f"sqlite:///{scratch}/pii.sqlite3"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventtracker.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    rows = run(events=args.events, runs=args.runs)
    print(table(rows))


def run(*, events: int, runs: int) -> list[tuple[str, dict, dict | None]]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    tenant, secret = _fill(events)
    return [
        ("API key verification (one lookup + compare)", _time_key(secret, runs * 20), None),
        *_time_charts(tenant, runs),
    ]


def _fill(events: int):
    from django.utils import timezone

    from accounts.models import Tenant
    from accounts.services import api_key_create
    from events.rollups import fold_counters
    from events.services import event_logs_ingest
    from events.validation import EventInput

    tenant = Tenant.objects.create(name="bench", slug=Tenant.unique_slug("bench"))
    now = timezone.now()
    names = [f"event_{n:02d}" for n in range(12)]
    for start in range(0, events, 1000):
        items = [
            EventInput(
                names[i % len(names)],
                timestamp=now - dt.timedelta(minutes=37 * i % (60 * 24 * 60)),
                distinct_id=f"user{i % 5000}",
            )
            for i in range(start, min(start + 1000, events))
        ]
        event_logs_ingest(tenant=tenant, items=items, created_by=None, now=now)
    fold_counters()  # as the jobs process does every few seconds
    _, secret = api_key_create(tenant=tenant, name="bench", role="read")
    return tenant, secret


def _time_key(secret: str, runs: int) -> dict:
    from accounts.authentication import ApiKeyAuthentication

    verify = ApiKeyAuthentication()._verify
    return _timings(lambda: verify(secret), runs)


def _time_charts(tenant, runs: int) -> list[tuple[str, dict, dict]]:
    from zoneinfo import ZoneInfo

    from core.collector import freeze_loaded
    from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
    from stats import selectors
    from stats.charts.render import cached_png, draw_chart
    from stats.charts.spec import ChartSpec

    tz = ZoneInfo("UTC")
    today = dt.datetime.now(dt.UTC).date()
    scoped = {
        "logs": EventLog.objects.filter(tenant=tenant),
        "rollup": HourlyCountTotal.objects.filter(tenant=tenant),
    }
    daily = DailyCountTotal.objects.filter(tenant=tenant)  # as the routes read them
    queries: dict[str, Callable[[], object]] = {
        "event_trend": lambda: selectors.event_trend(
            **scoped,
            daily=daily,
            events=Event.objects.filter(tenant=tenant),
            start=today - dt.timedelta(days=59),
            end=today,
            tz=tz,
        ),
        "event_frequency": lambda: selectors.event_frequency(
            events=Event.objects.filter(tenant=tenant),
            rollup=scoped["rollup"],
            daily=daily,
            start=None,
            end=None,
            tz=tz,
        ),
        "hourly_distribution": lambda: selectors.hourly_distribution(
            **scoped, events=Event.objects.filter(tenant=tenant), start=None, end=None, tz=tz
        ),
    }
    drawn = {kind: (ChartSpec(kind=kind), query()) for kind, query in queries.items()}
    for spec, data in drawn.values():
        draw_chart(spec, data)  # the first draw imports matplotlib and loads fonts
    # As each gunicorn worker does once it has loaded the app (gunicorn.conf.py): what
    # is loaded now stays out of the collector's full passes.
    freeze_loaded()
    rows = []
    for kind, query in queries.items():
        spec, data = drawn[kind]
        uncached = _timings(lambda: draw_chart(spec, data), runs)  # noqa: B023
        key = ("bench", kind)
        cached_png(key, lambda: draw_chart(spec, data))  # noqa: B023
        cached = _timings(lambda: cached_png(key, lambda: b""), runs * 10)  # noqa: B023
        rows.append((f"{kind} chart, uncached (draw)", uncached, _timings(query, runs)))
        rows.append((f"{kind} chart, cached", cached, None))
    return rows


def _timings(call: Callable[[], object], runs: int) -> dict:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        call()
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return {
        "runs": runs,
        "p50": statistics.median(samples),
        "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
    }


def table(rows) -> str:
    lines = [
        "| measurement | p50 ms | p95 ms | baseline (its JSON query) p50 / p95 ms |",
        "|---|---|---|---|",
    ]
    for name, timing, baseline in rows:
        base = f"{baseline['p50']:.2f} / {baseline['p95']:.2f}" if baseline else "—"
        lines.append(f"| {name} | {timing['p50']:.3f} | {timing['p95']:.3f} | {base} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
