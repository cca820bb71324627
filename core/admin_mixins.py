"""What the admin's pages of the service's models share: a change form writes only the
fields it changed; pages that write distributed tables write their shards one at a time."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import admin
from django.db import router, transaction

from core.sharding import sequential_shard_writes


class ChangedFieldsAdmin(admin.ModelAdmin):
    """A change form saves only the fields it changed (and those Django stamps,
    `auto_now`), as a PATCH does (core.rest.ChangedColumnsMixin). Django's whole-row save
    put back every other column as the POST had read it: a block, a key's revocation or
    a bump of the tenant's cache version (which revokes cached credentials) committed
    meanwhile was undone by an edit of a name. A field on the form that another request
    changed after the page was shown still differs from what the form sends, and is
    written: the form's value wins there, as the staff member saw and sent it. Many-to-
    many fields are saved after, by save_related, as always."""

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        columns = {field.name for field in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        stamped = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
        if changed:
            obj.save(update_fields=[*changed, *stamped])


class SequentialShardsAdmin(admin.ModelAdmin):
    """The change and delete pages of a distributed table's rows, whose saves and deletes
    then write a reference table (the tenant's cache or blocklist version). Django reads
    the row by id alone in the page's transaction, in every shard at once; Citus then
    refused the reference write (a 500): the transaction asks for one shard at a time
    before that read. Nothing changes on other databases."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with self.sequential_shards():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with self.sequential_shards():
            return super().delete_view(request, object_id, extra_context)

    @contextmanager
    def sequential_shards(self) -> Iterator[None]:
        """A transaction whose shard writes go one at a time (core.sharding)."""
        using = router.db_for_write(self.model)
        with transaction.atomic(using=using):
            sequential_shard_writes(using)
            yield
