"""Django admin for tenants, users and API keys (keys are created with their secret shown once)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.validators import MinValueValidator
from django.db import models, transaction

from accounts.models import ApiKey, AuthToken, Tenant, User
from accounts.serializers import ApiKeySerializer
from accounts.services import (
    BlockRefused,
    ExpiryRefused,
    TeamError,
    api_key_check_expiry,
    api_key_create,
    api_key_revoke,
    member_check_leaving,
    members_check_leaving,
    tenant_set_active,
    user_tokens_revoke,
)
from core.admin_mixins import ChangedFieldsAdmin, LookupValuesAdmin


@admin.register(Tenant)
class TenantAdmin(ChangedFieldsAdmin):
    """Tenants are blocked and unblocked by the actions, through the service the platform
    admin API uses (staff cannot block their own tenant), never by editing the flag."""

    list_display = [
        "name",
        "slug",
        "is_active",
        "timezone",
        "auto_create_events",
        "retention_days",
        "ingest_rate",
        "read_rate",
        "created_at",
    ]
    list_filter = ["is_active", "auto_create_events"]
    search_fields = ["name", "slug"]
    readonly_fields = ["is_active"]
    actions = ["block", "unblock"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # A positive integer field gives its form field min_value=0, whose check runs first
        # and hides the model's own minimum: retention_days=-3 was refused as "greater
        # than or equal to 0" though 0 is refused too. The form says the real bound.
        minimums = [v.limit_value for v in db_field.validators if isinstance(v, MinValueValidator)]
        if minimums and isinstance(db_field, models.IntegerField):
            kwargs.setdefault("min_value", max(minimums))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # Actions without allowed_permissions are offered to, and run for, anyone who may
    # view the list: a staff member allowed only to view tenants blocked them.
    @admin.action(
        description="Block the selected tenants (403 on every API request)",
        permissions=["change"],
    )
    def block(self, request, queryset):
        self._set_active(request, queryset, active=False)

    @admin.action(description="Unblock the selected tenants", permissions=["change"])
    def unblock(self, request, queryset):
        self._set_active(request, queryset, active=True)

    def has_delete_permission(self, request, obj=None) -> bool:
        """Tenants are blocked, never deleted here: their users are protected, and their
        logs and counters go only through deletions with receipts (the page could never
        succeed, and "Delete selected" was an action that always failed)."""
        return False

    def _set_active(self, request, queryset, *, active: bool) -> None:
        """All the selected tenants, or none (with the refusal shown)."""
        try:
            with transaction.atomic():
                tenants = [
                    tenant_set_active(tenant=tenant, active=active, by=request.user)
                    for tenant in queryset
                ]
        except BlockRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        names = ", ".join(tenant.name for tenant in tenants)
        self.message_user(request, f"{'Unblocked' if active else 'Blocked'}: {names}.")


class UserAdminForm(UserChangeForm):
    """Refuses what would leave a tenant without an active owner (demoting, deactivating or
    moving its last one), by the rule /api/members/ and the dashboard apply."""

    def clean(self):
        cleaned = super().clean()
        stored = self.instance  # the form's values are set on it only after clean()
        if stored.is_active and stored.role == User.Role.OWNER and not self._stays_owner(cleaned):
            try:
                member_check_leaving(member=stored)  # in the admin's transaction: locks
            except TeamError as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned

    def _stays_owner(self, cleaned: dict) -> bool:
        stored = self.instance
        moved = cleaned.get("tenant", stored.tenant) != stored.tenant
        role = cleaned.get("role", stored.role)
        return cleaned.get("is_active", True) and role == User.Role.OWNER and not moved


@admin.register(User)
class UserAdmin(ChangedFieldsAdmin, DjangoUserAdmin):
    """A tenant keeps at least one active owner: the change form and deletion refuse to
    remove its last one, as the API does."""

    form = UserAdminForm
    list_display = ["username", "email", "tenant", "role", "is_staff", "is_active"]
    list_filter = ["tenant", "role", "is_staff", "is_active"]
    list_select_related = ["tenant"]
    search_fields = ["username", "email", "tenant__name"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Tenant", {"fields": ["tenant", "role", "deactivated_by_staff"]}),
    )
    readonly_fields = ["deactivated_by_staff"]
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Tenant", {"fields": ["tenant", "role"]}))

    def get_deleted_objects(self, objs, request):
        """The last active owners of a tenant are listed as protected: the page says why,
        and Django deletes nothing while any is."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        users = list(objs)
        with transaction.atomic():
            try:
                members_check_leaving(members=users)
            except TeamError as exc:
                protected = [*protected, *(f"{user}: {exc}" for user in self._owners(users))]
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        """A user deactivated, or moved to another tenant, is logged out everywhere, as
        removing a member from the team does: a token reactivated later, or one that
        would now read the other tenant's data, is no login anyone made. A user
        deactivated here stays so until reactivated here: the tenant's owners cannot
        bring them back (`deactivated_by_staff`)."""
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            # Whom the staff deactivate, only the staff reactivate (accounts.services).
            User.objects.filter(pk=obj.pk).update(deactivated_by_staff=not obj.is_active)
        deactivated = "is_active" in form.changed_data and not obj.is_active
        if not change or not (deactivated or "tenant" in form.changed_data):
            return
        if revoked := user_tokens_revoke(user=obj):
            messages.info(request, f"{obj.username}: {revoked} login token(s) revoked.")

    def delete_model(self, request, obj):
        self.delete_queryset(request, User.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            try:  # checked again, locked: an owner may have left since the page was shown
                members_check_leaving(members=list(queryset.select_related("tenant")))
            except TeamError as exc:
                raise PermissionDenied(str(exc)) from None
            for user in queryset:
                user.delete()  # one by one, as before: each makes cached credentials stale

    @staticmethod
    def _owners(users: list[User]) -> list[User]:
        return [user for user in users if user.role == User.Role.OWNER and user.is_active]


class ApiKeyAdminForm(forms.ModelForm):
    """Checked by ApiKeySerializer, as POST and PATCH /api/keys/ check it (origins
    normalised, expiry in the future); on a change only the fields changed, as a PATCH."""

    API_FIELDS = ("name", "role", "allowed_origins", "expires_at")

    def clean(self):
        cleaned = super().clean()
        change = self.instance.pk is not None
        sent = {
            name: cleaned[name]
            for name in self.API_FIELDS
            if name in cleaned and (not change or name in self.changed_data)
        }
        serializer = ApiKeySerializer(self.instance if change else None, data=sent, partial=change)
        if serializer.is_valid():
            cleaned.update(serializer.validated_data)
            if change and "expires_at" in sent:
                # The admin's change view is one transaction: the row stays locked until
                # the save, as PATCH /api/keys/<id> checks it.
                try:
                    api_key_check_expiry(key=self.instance, expires_at=sent["expires_at"])
                except ExpiryRefused as exc:
                    self.add_error("expires_at", str(exc))
            return cleaned
        for name, errors in serializer.errors.items():
            for error in errors:
                self.add_error(name if name in self.fields else None, str(error))
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(ChangedFieldsAdmin):
    """Keys are created here like through the API: the secret is shown once, in a message.
    A key's tenant and role are fixed once it exists, as in the API."""

    form = ApiKeyAdminForm

    list_display = ["name", "tenant", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant", "role"]
    list_select_related = ["tenant"]
    search_fields = ["name", "prefix", "tenant__name"]
    fields = ["tenant", "name", "role", "allowed_origins", "expires_at", "revoked_at"]
    readonly_fields = ["revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["tenant", "role"] if obj is not None else []
        return [*fixed, *super().get_readonly_fields(request, obj)]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = api_key_create(
            tenant=obj.tenant,
            name=obj.name,
            role=obj.role,
            created_by=request.user,
            expires_at=obj.expires_at,
            allowed_origins=obj.allowed_origins,
        )
        obj.pk, obj.prefix = key.pk, key.prefix
        messages.warning(request, f"API key created. Copy it now, it is not shown again: {secret}")

    def has_delete_permission(self, request, obj=None) -> bool:
        """Keys are revoked (the action above), as through the API, never deleted: the
        row stays, saying when, and the receipts and logs that name the key keep it."""
        return False

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)


@admin.register(AuthToken)
class AuthTokenAdmin(LookupValuesAdmin):
    """Users' login tokens: who, when, and the first characters only (only a hash of
    each key is stored). Deleting one logs that login out; none is made here."""

    list_display = ["prefix", "user", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "prefix"]
    fields = ["prefix", "user", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(LookupValuesAdmin, DjangoGroupAdmin):
    """Django's, answering a bad filter value as every list here does."""
