"""Django admin for people (personal data, in the pii database)."""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters

from accounts.models import Tenant
from accounts.tenancy import scope_to_tenants
from core.admin_mixins import ChangedFieldsAdmin, LargeTableAdmin
from people.models import Person
from people.serializers import PROFILE_FIELDS, PROPERTIES_NOT_AN_OBJECT, distinct_id_problem


class PersonAdminForm(forms.ModelForm):
    """tenant_id is a plain integer (no foreign key crosses the databases): the form
    checks that the tenant exists, as a foreign key would."""

    class Meta:
        model = Person
        fields = ["tenant_id", *PROFILE_FIELDS]

    def clean_properties(self) -> dict:
        properties = self.cleaned_data["properties"]
        if not isinstance(properties, dict):  # null reached the NOT NULL column: a 500
            raise forms.ValidationError(PROPERTIES_NOT_AN_OBJECT)
        return properties

    def clean_distinct_id(self) -> str:
        distinct_id = self.cleaned_data["distinct_id"]
        if (problem := distinct_id_problem(distinct_id)) is not None:
            raise forms.ValidationError(problem)
        return distinct_id

    def clean_tenant_id(self) -> int:
        tenant_id = self.cleaned_data["tenant_id"]
        if not Tenant.objects.filter(pk=tenant_id).exists():
            raise forms.ValidationError(f"No tenant has the id {tenant_id}.")
        return tenant_id

    def clean(self):
        # The email's unique constraint is on email_key, which the form does not hold, so
        # Django's own constraint check passes over it: check the email here.
        cleaned = super().clean()
        tenant_id = cleaned.get("tenant_id", self.instance.tenant_id)
        email = cleaned.get("email")
        if tenant_id is not None and email:
            others = scope_to_tenants(Person.objects.all(), [tenant_id])
            others = others.exclude(pk=self.instance.pk)
            if others.with_email(email).exists():
                self.add_error("email", "A person of this tenant has this email already.")
        return cleaned


class TenantIdFilter(admin.SimpleListFilter):
    """People by tenant, the choices read from the tenants: Django's filter of a plain
    integer field read every person for the distinct tenant ids among them."""

    title = "tenant"
    parameter_name = "tenant_id"

    def lookups(self, request, model_admin):
        return list(Tenant.objects.order_by("name", "pk").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            tenant_id = int(self.value())
        except ValueError:
            raise IncorrectLookupParameters(f"No tenant has the id {self.value()!r}.") from None
        return scope_to_tenants(queryset, [tenant_id])


@admin.register(Person)
class PersonAdmin(LargeTableAdmin, ChangedFieldsAdmin):
    """People live in the pii database; the router sends these queries there. A store
    may have millions: the list reads as few rows as the logs' (LargeTableAdmin)."""

    form = PersonAdminForm

    list_display = ["distinct_id", "tenant_id", "email", "username", "created_at"]
    list_filter = [TenantIdFilter]
    search_fields = ["distinct_id", "email", "username", "first_name", "last_name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        """A person's tenant and distinct_id are fixed once they exist, as through the
        API: moving one would hand their profile to another tenant, and renaming one would
        part it from its events (which an erasure or an export then missed)."""
        fixed = ["tenant_id", "distinct_id"] if obj is not None else []
        return [*fixed, *super().get_readonly_fields(request, obj)]
