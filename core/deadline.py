"""A time limit for the queries of one request: stats must not hold a database
connection for minutes. When it is hit, the query fails and the request answers 503
with Retry-After (core.exceptions.exception_handler).

PostgreSQL: `statement_timeout` for the session, reset afterwards (connections are
reused between requests), with `work_mem` (EVENTTRACKER["STATS_WORK_MEM"]) and JIT
off for the same time. SQLite: a progress handler that interrupts the statement once
the deadline has passed.
"""

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from functools import wraps

from django import db
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse

from core.exceptions import UNAVAILABLE_RETRY_AFTER, database_unavailable

SQLITE_CHECK_EVERY = 1000  # virtual machine instructions between two deadline checks
UNAVAILABLE_PAGE = "The statistics took too long or the database is unavailable; try again."


@contextmanager
def statement_deadline(milliseconds: int | None) -> Iterator[None]:
    """Each query in the block may run at most `milliseconds` (None or 0: no limit)."""
    if not milliseconds:
        yield
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One round trip: the deadline, and memory for the hash tables of a stats
            # query (distinct users per group) instead of sorts spilled to disk; no JIT
            # compilation, which costs more than it saves on queries of a second or less.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('work_mem', %s, false), set_config('jit', 'off', false)",
                [str(milliseconds), settings.EVENTTRACKER["STATS_WORK_MEM"]],
            )
        try:
            # Inside a transaction, a canceled statement aborts it: a savepoint keeps the
            # outer transaction (and the reset below) usable. Autocommit needs none.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                yield
        finally:
            _reset_statement_timeout()
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        deadline = time.monotonic() + milliseconds / 1000
        raw = connection.connection
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_CHECK_EVERY)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
    else:
        yield


def _reset_statement_timeout() -> None:
    """Back to the server's defaults for the next request on this connection; if the
    connection broke (what may have ended the block), close it: the setting goes too."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout; RESET work_mem; RESET jit")
    except db.Error:
        connection.close()


def with_statement_deadline(view):
    """The same for a plain Django view function (the dashboard), which answers a plain
    503 page with Retry-After when the database is too slow or unreachable."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            with statement_deadline(settings.EVENTTRACKER["STATS_STATEMENT_TIMEOUT_MS"]):
                return view(request, *args, **kwargs)
        except db.Error as exc:
            if not database_unavailable(exc):
                raise
            retry = str(UNAVAILABLE_RETRY_AFTER)
            return HttpResponse(UNAVAILABLE_PAGE, status=503, headers={"Retry-After": retry})

    return wrapped


class StatementDeadlineMixin:
    """For read-heavy API views: the queries of the view itself (after authentication,
    so a refused request costs nothing extra) run under
    EVENTTRACKER["STATS_STATEMENT_TIMEOUT_MS"]."""

    _deadline: ExitStack | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._deadline = ExitStack()
        milliseconds = settings.EVENTTRACKER["STATS_STATEMENT_TIMEOUT_MS"]
        self._deadline.enter_context(statement_deadline(milliseconds))

    def handle_exception(self, exc):
        # The failure passes through the deadline first, so that a savepoint it opened is
        # rolled back before anything else touches the connection.
        self._end_deadline(exc)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        self._end_deadline(None)
        return super().finalize_response(request, response, *args, **kwargs)

    def _end_deadline(self, exc: BaseException | None) -> None:
        if self._deadline is not None:
            deadline, self._deadline = self._deadline, None
            deadline.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
