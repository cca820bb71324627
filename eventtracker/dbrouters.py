"""Database routing: personal data in the "pii" database, everything else in "default".

(Not `core.routers`: that module holds the DRF URL router.)
"""

PII_DATABASE = "pii"
PII_APPS = frozenset({"people"})


class PiiRouter:
    """Sends the people app to the "pii" alias (reads, writes, migrations) and keeps
    every other app out of it, so `migrate --database pii` creates only people's tables
    and personal data cannot land in the default database by accident."""

    def db_for_read(self, model, **hints) -> str | None:
        return PII_DATABASE if model._meta.app_label in PII_APPS else None

    def db_for_write(self, model, **hints) -> str | None:
        return PII_DATABASE if model._meta.app_label in PII_APPS else None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # No relation may cross the two databases (a foreign key there cannot be enforced).
        in_pii = {obj._meta.app_label in PII_APPS for obj in (obj1, obj2)}
        return False if len(in_pii) == 2 else None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool:
        return (app_label in PII_APPS) == (db == PII_DATABASE)
