"""Who spent a phase's CPU: the server (a gunicorn master and its workers), the bench
database's PostgreSQL backends, and PostgreSQL's own processes (WAL writer,
checkpointer, …), read from /proc before and after the phase. With the load generator's
share (each client measures its own), a request's CPU is accounted for by who spent it,
which is what "where the time goes" needs on a machine where all of them share two cores.
Linux only: elsewhere nothing is measured and the report leaves the columns empty.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC = Path("/proc")
GROUPS = ("server", "postgres", "postgres_background")


def _stat(pid: str) -> tuple[int, str, float] | None:
    """(parent pid, command name, CPU seconds in user and system mode) of a process."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _title(pid: str) -> str:
    """A PostgreSQL process's title: `postgres: 15/main: user database host(port) state`
    for a backend, `postgres: 15/main: walwriter` and the like for the server's own."""
    try:
        return (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def snapshot(server_pid: int | None, database: str) -> dict[str, dict[str, float]]:
    """CPU seconds so far of every process of each group, by pid."""
    groups: dict[str, dict[str, float]] = {group: {} for group in GROUPS}
    if not PROC.is_dir():
        return groups
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or (stat := _stat(entry.name)) is None:
            continue
        parent, name, seconds = stat
        if server_pid is not None and server_pid in (int(entry.name), parent):
            groups["server"][entry.name] = seconds
        elif name == "postgres":
            title = _title(entry.name)
            if f" {database} " in title:
                groups["postgres"][entry.name] = seconds
            elif "(" not in title:  # no client address: the server's own processes
                groups["postgres_background"][entry.name] = seconds
    return groups


@contextmanager
def cpu_spent(server_pid: int | None, database: str) -> Iterator[dict[str, float]]:
    """Fills the yielded dict, at the end of the block, with the CPU seconds each group
    spent during it (a process started meanwhile counts whole; one that ended is lost)."""
    spent: dict[str, float] = {}
    before = snapshot(server_pid, database)
    yield spent
    after = snapshot(server_pid, database)
    for group in GROUPS:
        spent[group] = sum(
            seconds - before[group].get(pid, 0.0) for pid, seconds in after[group].items()
        )
