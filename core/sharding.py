"""Keys and placement of a database sharded by tenant (Citus, distributed PostgreSQL).

Every tenant-owned table (models with a `distribution_column`, which
accounts.tenancy.ShardedByTenant sets to `tenant_id`) has the primary key
`(tenant_id, id)`, and a relation between two of them is `(tenant_id, x_id) →
(tenant_id, id)`: the `TenantKeys` migration operation makes them so on PostgreSQL,
plain or Citus alike (one schema, tested on both), and does nothing on SQLite. Django
still sees `id` as the primary key; within a tenant it is unique all the same.

On a Citus coordinator `distribute()` (`manage.py distribute`, and every `migrate`
through the post_migrate signal) then places the tables, idempotently:
- the tenant-owned tables are distributed by `tenant_id`, co-located, so a tenant's
  rows of every table live in one shard group and a join of them stays on one node;
- the tables they point at (tenants, users, API keys) and everything those point at
  or are pointed at by (tokens, groups, permissions, content types, the admin log)
  become reference tables, copied to every node;
- the rest (sessions, job state, Django's migration record) stays on the coordinator.
"""

from collections.abc import Iterator, Sequence

import psycopg
from django.apps import apps
from django.db import NotSupportedError, connections, migrations, models, router, transaction
from psycopg import sql

CITUS = "citus"
# A reference table's foreign keys to local tables would otherwise turn those into
# "citus local" tables, which cannot be distributed any more (their identity column).
_NO_LOCAL_REFERENCE_KEYS = "SET LOCAL citus.enable_local_reference_table_foreign_keys = off"


class TenantKeys(migrations.operations.base.Operation):
    """Primary keys `(tenant_id, id)` for `tables`, and each relation (table, column,
    referenced table) as a foreign key `(tenant_id, column) → (tenant_id, id)`, on
    PostgreSQL; nothing on other databases. Reversible, except once Citus has
    distributed the tables. The relations' fields say
    `db_constraint=False` in the migration state: this operation owns the constraint."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, tables: Sequence[str], relations: Sequence[tuple[str, str, str]] = ()):
        self.tables = list(tables)
        self.relations = [tuple(relation) for relation in relations]

    def deconstruct(self):
        return self.__class__.__qualname__, [self.tables, self.relations], {}

    def state_forwards(self, app_label, state) -> None:
        pass

    def describe(self) -> str:
        return f"Primary keys (tenant_id, id) on {', '.join(self.tables)}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not self._applies(app_label, schema_editor):
            return
        for table, column, _ in self.relations:
            for name in _constraints(schema_editor, table, columns=[column], foreign_key=True):
                schema_editor.execute(_drop(schema_editor, table, name))
        for table in self.tables:
            _replace_primary_key(schema_editor, table, ["tenant_id", "id"])
        for table, column, target in self.relations:
            _add_foreign_key(
                schema_editor, table, ["tenant_id", column], target, ["tenant_id", "id"]
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not self._applies(app_label, schema_editor):
            return
        if is_citus(schema_editor.connection.alias):
            # Keys without the distribution column cannot exist on a distributed table,
            # and Citus cannot make a table with an identity column local again.
            raise NotSupportedError(
                "Tenant keys cannot be reversed on Citus: restore a dump taken before."
            )
        for table, column, _ in self.relations:
            columns = ["tenant_id", column]
            for name in _constraints(schema_editor, table, columns=columns, foreign_key=True):
                schema_editor.execute(_drop(schema_editor, table, name))
        for table in self.tables:
            _replace_primary_key(schema_editor, table, ["id"])
        for table, column, target in self.relations:
            _add_foreign_key(schema_editor, table, [column], target, ["id"])

    def _applies(self, app_label: str, schema_editor) -> bool:
        connection = schema_editor.connection
        return connection.vendor == "postgresql" and router.allow_migrate(
            connection.alias, app_label
        )


def _constraints(schema_editor, table: str, *, columns: list[str], **kind) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["columns"] == columns and all(bool(info[k]) == v for k, v in kind.items())
    ]


def _drop(schema_editor, table: str, constraint: str) -> str:
    quote = schema_editor.quote_name
    return f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(constraint)}"


def _replace_primary_key(schema_editor, table: str, columns: list[str]) -> None:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    for name, info in found.items():
        if info["primary_key"]:
            schema_editor.execute(_drop(schema_editor, table, name))
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(table + '_pkey')} "
        f"PRIMARY KEY ({', '.join(map(quote, columns))})"
    )


def _add_foreign_key(schema_editor, table, columns: list[str], target, target_columns) -> None:
    quote = schema_editor.quote_name
    name = f"{table}_{columns[-1]}_fk"
    # Deferred like Django's own: rows of one transaction may arrive in any order.
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} "
        f"FOREIGN KEY ({', '.join(map(quote, columns))}) "
        f"REFERENCES {quote(target)} ({', '.join(map(quote, target_columns))}) "
        "DEFERRABLE INITIALLY DEFERRED"
    )


# -- placement on Citus -------------------------------------------------------------------


def citus_version(cursor) -> str | None:
    """The version of the citus extension in the database of `cursor` (Django's or
    psycopg's), None where it is not installed."""
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = %s", [CITUS])
    row = cursor.fetchone()
    return None if row is None else row[0]


def is_citus(using: str = "default") -> bool:
    """Whether the database `using` is a Citus coordinator (the extension is installed)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return citus_version(cursor) is not None


_sharded: dict[tuple[str, str], bool] = {}


def is_sharded(using: str = "default") -> bool:
    """`is_citus`, asked once per process for each database (by alias and name)."""
    key = (using, connections[using].settings_dict["NAME"])
    if key not in _sharded:
        _sharded[key] = is_citus(using)
    return _sharded[key]


def placement(using: str = "default") -> tuple[list[str], list[str]]:
    """(reference tables in an order that creates each after those it points at,
    distributed tables with the one every other is co-located with first) of the
    models the database `using` holds."""
    models_here = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed
        and not model._meta.proxy
        and router.allow_migrate_model(using, model)
    ]
    distributed = [model for model in models_here if distribution_column(model)]
    reference = _reference_closure(models_here, distributed)
    tables = lambda ms: [m._meta.db_table for m in ms]  # noqa: E731
    return tables(_referenced_first(reference)), tables(_referenced_first(distributed))


def distribution_column(model: type[models.Model]) -> str | None:
    """The column a model's table is distributed by on Citus; None: not distributed."""
    return getattr(model, "distribution_column", None)


def _targets(model) -> Iterator[type[models.Model]]:
    for field in model._meta.concrete_fields:
        if field.is_relation:
            yield field.related_model


def _reference_closure(models_here, distributed) -> list[type[models.Model]]:
    """Every table a distributed or reference table points at, and every other table
    that points at a reference table: with foreign keys between them, a table cannot
    stay on the coordinator alone."""
    reference = {target for model in distributed for target in _targets(model)}
    reference -= set(distributed)
    while True:
        grown = set(reference)
        grown |= {target for model in reference for target in _targets(model)}
        grown |= {
            model
            for model in models_here
            if model not in distributed and any(t in reference for t in _targets(model))
        }
        if grown == reference:
            return sorted(reference, key=lambda model: model._meta.db_table)
        reference = grown


def _referenced_first(group: list[type[models.Model]]) -> list[type[models.Model]]:
    ordered: list[type[models.Model]] = []

    def visit(model) -> None:
        if model in ordered:
            return
        for target in _targets(model):
            if target in group and target is not model:
                visit(target)
        ordered.append(model)

    for model in group:
        visit(model)
    return ordered


def distribute(using: str = "default") -> list[str]:
    """Make the Citus coordinator `using` hold the tables as `placement` says; tables
    already placed are left alone. Returns what it did, one line per table."""
    reference, distributed = placement(using)
    columns = {model._meta.db_table: distribution_column(model) for model in apps.get_models()}
    done: list[str] = []
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
        placed = {table for (table,) in cursor.fetchall()}
        cursor.execute(_NO_LOCAL_REFERENCE_KEYS)
        for table in reference:
            if table not in placed:
                cursor.execute("SELECT create_reference_table(%s)", [table])
                done.append(f"{table}: reference table")
        for table in distributed:
            if table not in placed:
                # The first is co-located with nothing; every other one with it.
                colocate = "none" if table == distributed[0] else distributed[0]
                cursor.execute(
                    "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
                    [table, columns[table], colocate],
                )
                done.append(f"{table}: distributed by {columns[table]}")
    return done


def sequential_shard_writes(using: str = "default") -> None:
    """In a transaction that writes a reference table (tenants, users, keys) after a
    statement that wrote several shards of a distributed table, Citus needs the shard
    writes one connection at a time, or it refuses the reference write: call first
    thing in such a transaction. Nothing happens on other databases."""
    if is_sharded(using):
        with connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")


def sequential_before_reference_delete(sender, using: str, **_) -> None:
    """pre_delete receiver: before a row of a reference table goes (a user, an API key, a
    tenant), Django clears or deletes the rows of distributed tables that point at it,
    in every shard (`created_by` of the event logs, say); the row's own delete then
    needs those shard writes made one at a time."""
    if distribution_column(sender) is None:
        sequential_shard_writes(using)


def distribute_after_migrate(app_config, using: str, verbosity=1, stdout=None, **_) -> None:
    """post_migrate receiver: a migrated Citus database gets its tables placed (new
    tables of the migrations included); any other database is left as it is. The
    signal comes once per app with models, after all migrations: act on the last."""
    last = [config for config in apps.get_app_configs() if config.models_module is not None]
    if app_config is not last[-1] or not is_citus(using):
        return
    for line in distribute(using):
        if verbosity >= 1 and stdout is not None:
            stdout.write(f"  Placed {line}\n")


def create_database(settings_dict: dict, name: str) -> None:
    """(Re)create the database `name` beside the one `settings_dict` names (a Django
    database setting) — on every node when that is a Citus coordinator, with the
    extension and the workers registered, as Citus keeps its node list per database.
    For test and scratch databases: an existing `name` is dropped first."""
    drop_database(settings_dict, name)
    params, workers = _nodes(settings_dict)
    for node in [params, *(workers or [])]:
        with psycopg.connect(dbname="postgres", autocommit=True, **node) as server:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if workers is not None:
            with psycopg.connect(dbname=name, autocommit=True, **node) as new:
                new.execute("CREATE EXTENSION citus")
    if workers is not None:
        with (
            psycopg.connect(dbname=settings_dict["NAME"], autocommit=True, **params) as main,
            psycopg.connect(dbname=name, autocommit=True, **params) as new,
        ):
            # Adding a node copies the roles to it, which are shared by every database
            # of the node: two processes registering at once (pytest's workers) collide
            # ("tuple concurrently updated"), so they take turns, under a lock of the
            # database they both start from (held until `main` closes).
            main.execute("SELECT pg_advisory_lock(hashtext('eventtracker.citus_add_node'))")
            new.execute(
                "SELECT citus_set_coordinator_host(%s, %s)",
                [params["host"] or "localhost", int(params["port"] or 5432)],
            )
            for node in workers:
                new.execute("SELECT citus_add_node(%s, %s)", [node["host"], node["port"]])


def drop_database(settings_dict: dict, name: str) -> None:
    """Drop the database `name` that `create_database` made, from every node."""
    params, workers = _nodes(settings_dict)
    for node in [params, *(workers or [])]:
        with psycopg.connect(dbname="postgres", autocommit=True, **node) as server:
            server.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _nodes(settings_dict: dict) -> tuple[dict, list[dict] | None]:
    """(connection parameters of the server, its Citus workers' or None if not Citus)."""
    params = {
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
    }
    with (
        psycopg.connect(dbname=settings_dict["NAME"], autocommit=True, **params) as main,
        main.cursor() as cursor,
    ):
        if citus_version(cursor) is not None:
            rows = main.execute(
                "SELECT nodename, nodeport FROM pg_dist_node "
                "WHERE groupid > 0 AND noderole = 'primary' ORDER BY groupid"
            ).fetchall()
            return params, [params | {"host": host, "port": port} for host, port in rows]
    return params, None
