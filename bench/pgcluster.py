"""A private, throw-away PostgreSQL cluster for tests that must crash the database.

`initdb` into a fresh temp folder, `pg_ctl start` on a free 127.0.0.1 port, no Unix
socket, trust authentication. Crashing or restarting it disturbs nobody: the shared
server on 5432 is never touched. The server binaries are Debian's
(/usr/lib/postgresql/<version>/bin); initdb and postgres refuse to run as root, so
as root every server command runs as the `postgres` OS user (runuser).
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.server import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "60",
    "shared_buffers": "32MB",
    # A kill -9 keeps the kernel's page cache, so fsync only matters for power loss,
    # which this cluster does not simulate; off keeps a 2-core machine responsive.
    "fsync": "off",
    "logging_collector": "off",
}


def server_bin() -> Path:
    """The newest installed server's bin folder; a clear error when there is none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise RuntimeError(
            f"No PostgreSQL server binaries ({BIN_GLOB}/postgres): "
            "install Debian's postgresql package."
        )
    return max(found, key=lambda path: int(path.parent.parent.name)).parent


class PrivatePostgres:
    """One cluster in its own temp folder; `url` is its `postgres` database."""

    def __init__(self) -> None:
        self.bin = server_bin()
        self.base = Path(tempfile.mkdtemp(prefix="eventtracker-chaos-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0

    def __enter__(self) -> "PrivatePostgres":
        try:
            self._initdb()
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")

    def stop_fast(self) -> None:
        """`pg_ctl stop -m fast`: sessions are disconnected, open transactions rolled back."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def crash(self) -> None:
        """kill -9 the postmaster, wait for its backends to notice and exit (kill -9 the
        stragglers: they all belong to this cluster). The next start runs crash recovery."""
        postmaster = self.postmaster_pid()
        backends = children_of(postmaster)
        os.kill(postmaster, signal.SIGKILL)
        wait_gone([postmaster, *backends], seconds=10)
        for pid in backends:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        wait_gone(backends, seconds=10)
        # The dead postmaster may linger as a zombie until pid 1 reaps it, and
        # kill(pid, 0) still finds a zombie: the new postmaster would take the lock
        # file for a live one. Every process of the cluster is gone, so drop it.
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    def remove(self) -> None:
        """Stop (immediate: nothing here is worth a checkpoint) and delete the folder."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def _initdb(self) -> None:
        if self._as_postgres:
            shutil.chown(self.base, user="postgres", group="postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        conf = "".join(f"{name} = {value}\n" for name, value in SETTINGS.items())
        conf += f"port = {self.port}\n"
        with (self.data / "postgresql.auto.conf").open("a", encoding="utf-8") as file:
            file.write(conf)

    def _run(self, tool: str, *args, check: bool = True) -> None:
        argv = [str(self.bin / tool), *map(str, args)]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        # Fixed argv (Debian's binaries, paths chosen here), no shell.
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if check and done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}\n{log}")


def children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid …": comm may hold spaces, so split after the ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def wait_gone(pids: list[int], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
