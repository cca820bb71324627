"""The admin's change form writes only the fields the staff member changed."""

from django.contrib import admin


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
