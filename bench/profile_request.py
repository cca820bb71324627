"""Where the time of one request goes: `python -m bench.profile_request [case] [--requests N]`.

Runs requests in this process through Django's WSGI handler, the callable gunicorn calls
(no gunicorn, no network; Django's test client would add its own signal handlers to
every request), against the database the last `make bench` / `make bench-quick` left
behind, and prints, per request: wall time and this process's CPU time (the rest is
waiting for PostgreSQL), the SQL statements Django logged, the share of profiled time
spent waiting for PostgreSQL, and cProfile's top functions. Cases:
single (POST /api/eventlogs/), batch100, batch1000, list (GET /api/events/), trend7,
trend365, frequency7, frequency365. Ingest cases add events to the bench database (it is
scratch data).
"""

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import time

import orjson

from bench import dataset
from bench.loadgen import Phase, make_event

CASES = (
    "single",
    "batch100",
    "batch1000",
    "list",
    "trend7",
    "trend365",
    "frequency7",
    "frequency365",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_request", description=__doc__)
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--requests", type=int, default=0, help="profiled requests")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    os.environ.update(dataset.django_env())
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "eventtracker.settings"
    import django

    django.setup()
    request = _request_factory(args.case)
    count = args.requests or (200 if args.case == "single" else 10)
    # Warm-up: imports, connection, caches (a single event's name is one of 20 at random,
    # and one this process has not stored goes to the view).
    for _ in range(100 if args.case == "single" else 3):
        request()
    _queries(request)
    begin, begin_cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        request()
    wall = (time.perf_counter() - begin) / count * 1000
    cpu = (time.process_time() - begin_cpu) / count * 1000
    print(
        f"{args.case}: {wall:.2f} ms per request, {cpu:.2f} ms of it this process's CPU, "
        f"unprofiled, {count} requests"
    )
    _profile(request, count, args.top)


def _request_factory(case: str):
    from django.core.wsgi import get_wsgi_application

    from accounts.models import AuthToken, User

    application = get_wsgi_application()
    _, token = AuthToken.objects.create_token(User.objects.get(username="bench-0-user"))
    rng = random.Random(1)  # noqa: S311 - test payloads, not secrets
    phase = Phase(
        kind="batch",
        port=0,
        path="",
        duration=0,
        max_requests=0,
        concurrency=1,
        event_names=dataset.EVENT_NAMES,
    )
    today = dt.datetime.now(dt.UTC).date()

    def call(method: str, path: str, body: bytes = b"") -> None:
        """One request as gunicorn hands it to the application, with the bench's headers."""
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Token {token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        statuses: list[str] = []
        response = application(environ, _recorder(statuses))
        content = b"".join(response)
        response.close()
        if int(statuses[0].split()[0]) not in (200, 201):
            raise RuntimeError(f"{path}: {statuses[0]} {content[:300]!r}")

    if case == "single":
        return lambda: call(
            "POST",
            "/api/eventlogs/",
            orjson.dumps(make_event(rng, phase, dt.datetime.now(dt.UTC))),
        )
    if case == "list":
        return lambda: call("GET", "/api/events/")
    if case.startswith("batch"):
        size = int(case.removeprefix("batch"))

        def batch() -> None:
            now = dt.datetime.now(dt.UTC)
            events = [make_event(rng, phase, now) for _ in range(size)]
            call("POST", "/api/eventlogs/batch/", orjson.dumps({"events": events}))

        return batch
    endpoint = "event_trend" if case.startswith("trend") else "event_frequency"
    days = int(case.removeprefix("trend").removeprefix("frequency"))
    start = today - dt.timedelta(days=days - 1)
    return lambda: call("GET", f"/api/stats/{endpoint}?start_date={start}&end_date={today}")


def _recorder(statuses: list[str]):
    """A WSGI start_response that keeps the status line."""

    def start_response(status: str, headers, exc_info=None) -> None:
        statuses.append(status)

    return start_response


def _queries(request) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        request()
    total = sum(float(query["time"]) for query in captured.captured_queries) * 1000
    print(
        f"{len(captured.captured_queries)} SQL statements logged by Django, {total:.1f} ms in "
        "the database (not the ingest write: core.sql.server_side_cursor is not logged):"
    )
    for query in captured.captured_queries:
        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:110]}")


def _profile(request, count: int, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        request()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    waiting = sum(
        row[3]
        for (filename, _, name), row in stats.stats.items()
        if "psycopg" in filename and name in ("wait", "_execute_send")
    )
    print(
        f"profiled: {total / count * 1000:.2f} ms per request; waiting for PostgreSQL "
        f"(psycopg wait + send): {waiting / total:.0%}"
    )
    out = io.StringIO()
    own = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    out.write("The project's own functions, by cumulative time:\n")
    own.print_stats(r"/(accounts|events|stats|eventtracker)/[a-z_]+\.py", top)
    out.write("Everything, by time spent in the function itself:\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
