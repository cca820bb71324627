"""Writing some columns of a row read earlier, for every writer: the API's serializers,
the admin's change forms and the services."""

from django.db import DatabaseError, models, transaction
from django.http import Http404


def save_columns(instance: models.Model, columns: list[str]) -> None:
    """Write `columns` of `instance` (and those Django stamps, `auto_now`) and no other.
    Http404 (a 404 on every route, as for a request that came after) when its row was
    deleted since it was read: Django's "did not affect any rows" was a 500, and a
    whole-row save before it put the deleted row back."""
    stamped = [f.name for f in instance._meta.concrete_fields if getattr(f, "auto_now", False)]
    try:
        # A savepoint: the failed save marks its transaction for rollback, and the row is
        # looked for after it.
        with transaction.atomic(using=instance._state.db):
            instance.save(update_fields=[*columns, *stamped])
    except DatabaseError:
        # _meta, not type(): request.user may be a lazy proxy of the row.
        if instance._meta.model._base_manager.filter(pk=instance.pk).exists():
            raise
        raise Http404("Not found.") from None
