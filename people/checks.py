"""System checks of the people app (`manage.py check`, every runserver and migrate, and
the start of the WSGI app: core.checks.serve_checked)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from core.checks import SETTINGS


@register(SETTINGS)
def pii_database_apart(app_configs, **kwargs) -> list[Error]:
    """The pii database must not be the default one: the README promises personal data
    apart from the events (access, backups, retention), and the router counts on it."""
    default, pii = (settings.DATABASES.get(alias) for alias in ("default", "pii"))
    if default is None or pii is None or _where(default) != _where(pii):
        return []
    return [
        Error(
            "PII_DATABASE_URL names the same database as DATABASE_URL.",
            hint="Give personal data a database of its own (README: People and privacy).",
            id="people.E001",
        )
    ]


def _where(database: dict[str, Any]) -> tuple:
    """What identifies a database: its server and name (a SQLite file by its path)."""
    name = str(database.get("NAME", ""))
    if database.get("ENGINE", "").endswith("sqlite3") and name != ":memory:":
        name = str(Path(name).resolve())
    return (database.get("HOST") or "", str(database.get("PORT") or ""), name)
