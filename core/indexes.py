"""Index operations for migrations that build without blocking writes on PostgreSQL.

A plain CREATE INDEX on the logs table holds off every ingest request for as long as the
build takes (tens of seconds per 10 M rows). On PostgreSQL (Citus included) these build
and drop CONCURRENTLY, so the migration that uses them must say `atomic = False`; on
SQLite they are the plain operations.
"""

from django.db import NotSupportedError
from django.db.migrations import AddIndex, RemoveIndex


def _online(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    if schema_editor.connection.in_atomic_block:
        raise NotSupportedError("A concurrent index build needs a migration with atomic = False.")
    return True


def _concurrently(operation, schema_editor, state, app_label: str, index, *, add: bool) -> None:
    """Build (`add`) or drop `index` of the operation's model, as it is in `state`."""
    model = state.apps.get_model(app_label, operation.model_name)
    if operation.allow_migrate_model(schema_editor.connection.alias, model):
        change = schema_editor.add_index if add else schema_editor.remove_index
        change(model, index, concurrently=True)


class AddIndexOnline(AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not _online(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return _concurrently(self, schema_editor, to_state, app_label, self.index, add=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not _online(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return _concurrently(self, schema_editor, from_state, app_label, self.index, add=False)


class RemoveIndexOnline(RemoveIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not _online(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        return _concurrently(self, schema_editor, from_state, app_label, index, add=False)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not _online(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        return _concurrently(self, schema_editor, to_state, app_label, index, add=True)
