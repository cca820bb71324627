"""What the admin's pages of the service's models share: a change form writes only the
fields it changed; pages that write distributed tables write their shards one at a time."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DataError, models, router, transaction
from django.forms.fields import InvalidJSONInput, JSONString

from core import jsonbody
from core.rows import save_columns
from core.sharding import sequential_shard_writes


class LookupValuesAdmin(admin.ModelAdmin):
    """A list whose query string filters by a value the database cannot take answers as
    any bad filter does (a redirect to the unfiltered list, `?e=1`), not a 500. Django
    lets a list filter on any of the model's own fields by the query string
    (`?created_at__year=0`, `?role=<NUL>`); such values passed its checks and failed when
    the list was counted: Python has no year 0, PostgreSQL stores no NUL. Every admin of
    the service derives from this one (Django's groups too, registered again)."""

    def get_changelist_instance(self, request):
        try:  # the list is counted here, with the filters the page's rows use
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError, DataError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class StrictJSONFormField(forms.JSONField):
    """A JSON form field that decodes as the API's bodies do (core.jsonbody): NUL
    characters, lone surrogates, non-finite numbers, integers past 64 bits and nesting
    deeper than 32 levels are a form error. Django's field took them: a 500 when
    PostgreSQL refused the NUL or the Infinity, a RecursionError on deep nesting (also in
    the hidden `initial-` value a change form sends back), a lone surrogate that could not
    be written into the page shown again."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        converted = self._loads(value)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return self._loads(data)
        except ValidationError:
            return InvalidJSONInput(data)

    def has_changed(self, initial, data) -> bool:
        try:
            return super().has_changed(initial, data)
        except ValidationError:  # refused: the form says why; it is no value shown
            return True

    def _loads(self, text: str):
        try:
            return jsonbody.loads(text.encode())
        except (jsonbody.JSONBodyError, UnicodeEncodeError) as exc:
            raise ValidationError(str(exc), code="invalid") from None


class ChangedFieldsAdmin(LookupValuesAdmin):
    """A change form saves only the fields it changed (and those Django stamps,
    `auto_now`), as a PATCH does (core.rest.ChangedColumnsMixin). Django's whole-row save
    put back every other column as the POST had read it: a block, a key's revocation or
    a bump of the tenant's cache version (which revokes cached credentials) committed
    meanwhile was undone by an edit of a name. What counts as changed is what differs
    from the page as shown, not from the row when the POST came (`get_form`). Many-to-
    many fields are saved after, by save_related, as always. JSON fields decode as the
    API's bodies do (StrictJSONFormField)."""

    formfield_overrides = {models.JSONField: {"form_class": StrictJSONFormField}}

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form

        class AsShown(form):
            """Each field sends the value the page showed (a hidden `initial-` input),
            and `changed_data` compares with that, not with the row as read when the
            POST came: a member removed, or a key given an expiry by a rotation, after
            the page was shown is then no change of the staff member's."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                for field in self.fields.values():
                    # A disabled field never changes, and its value is not the page's
                    # to repeat: the user form's password hash would be, in full.
                    field.show_hidden_initial = not field.disabled

        AsShown.__name__ = form.__name__
        return AsShown

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        columns = {field.name for field in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        if changed:
            save_columns(obj, changed)  # a 404 if the row was deleted meanwhile


class SequentialShardsAdmin(LookupValuesAdmin):
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


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows: `SELECT COUNT(*) FROM (… LIMIT CAP + 1)` stops there,
    where Django's count read every row of a table that grows with ingestion."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP + 1].count()

    @property
    def capped(self) -> bool:
        """More rows than counted: the list says "more than 10000" (templates/admin/)."""
        return self.count > self.CAP


class LargeTableAdmin(LookupValuesAdmin):
    """The lists of tables that grow with ingestion (logs, rollups, activity periods):
    each page costs the same at a hundred rows as at a hundred million. Django's list
    counted every row twice (the filtered and the full count), sorted every row by id
    (the primary key is (tenant_id, id): no index has id first), and its date hierarchy
    read every row for their distinct years and months. Here the count stops at
    CappedCountPaginator.CAP, rows come newest first per tenant in the primary key's
    order, and dates are filtered by a list filter (today, the past 7 days, …) that
    reads nothing. No "Show counts" (facets): it counted every row once per filter choice."""

    ordering = ["-tenant_id", "-id"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
