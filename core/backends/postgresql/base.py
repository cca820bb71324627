"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` on a reused connection before the first
query of every request: one of three round trips of a single-event ingest, and a sixth
of its database time (bench). A connection the server has ended — a restart, a
terminated backend, an idle timeout — is one the server has written to: its termination
notice, then end of file. So between queries (when nothing else is due), a socket with
something to read is the sign of a dead connection, and a quiet one is as usable as
`SELECT 1` would find it. This backend polls the socket without waiting and pings only
when it is not quiet. A connection cut without a word (a network partition) stalls
`SELECT 1` just as it stalls the request's own query; TCP keepalives bound both.
"""

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.pool
            or self.connection is None
            or not self.health_check_enabled
            or self.health_check_done
        ):
            return
        if self.server_spoke() and not self.is_usable():
            self.close()
        self.health_check_done = True

    def server_spoke(self) -> bool:
        """Whether the server has sent anything since the last answer was read (or the
        connection is closed): only then can the connection be dead."""
        try:
            fileno = self.connection.fileno()
        except psycopg.Error:
            return True
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
