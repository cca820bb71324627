"""Platform administration over every tenant: staff users only.

These views are deliberately NOT tenant-scoped (they exist to see across
tenants), so they refuse API keys (no `api_key_roles`: a key is a tenant's
credential) and any user without `is_staff`, and ask a staff member for the permissions
the Django admin asks for the same: to view tenants, to change them.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.response import Response

from accounts.models import Tenant
from accounts.permissions import staff_may
from accounts.services import BlockRefused, tenant_set_active, tenant_update_settings
from platform_admin.selectors import tenants_overview
from platform_admin.serializers import TenantOverviewSerializer


class TenantPermissions(BasePermission):
    """A staff member reads tenants with the permission to view or change them, and
    blocks, unblocks or sets rates with the permission to change them, as in the Django
    admin (superusers have every permission). `is_staff` alone let a staff member the
    admin shows nothing list every tenant and block it."""

    message = "Your staff account lacks the permission to view or change tenants."

    def has_permission(self, request, view) -> bool:
        needed = "view" if request.method in SAFE_METHODS else "change"
        return staff_may(request.user, "tenant", needed)


class TenantAdminViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Every tenant with its activity; `block` / `unblock` switch its API off and on
    (a blocked tenant's requests, ingestion included, answer 403); PATCH sets its own
    rate limits (`ingest_rate`, `read_rate`)."""

    queryset = Tenant.objects.all()
    serializer_class = TenantOverviewSerializer
    permission_classes = [IsAuthenticated, IsAdminUser, TenantPermissions]
    filterset_fields = ["is_active"]
    search_fields = ["name", "slug"]
    ordering_fields = ["id", "name", "created_at", "events_total", "last_event_at"]
    ordering = ["id"]

    def get_queryset(self):
        return tenants_overview(tenants=super().get_queryset())

    def perform_update(self, serializer):
        tenant_update_settings(tenant=serializer.instance, changes=serializer.validated_data)

    @extend_schema(
        request=None,
        responses={
            200: TenantOverviewSerializer,
            400: OpenApiResponse(description="Your own tenant: staff cannot block it"),
        },
    )
    @action(detail=True, methods=["post"])
    def block(self, request, *args, **kwargs):
        """Block the tenant: every API request of its users and keys answers 403."""
        return self._set_active(request, active=False)

    @extend_schema(request=None, responses={200: TenantOverviewSerializer})
    @action(detail=True, methods=["post"])
    def unblock(self, request, *args, **kwargs):
        return self._set_active(request, active=True)

    def _set_active(self, request, *, active: bool) -> Response:
        tenant = self.get_object()
        try:
            tenant_set_active(tenant=tenant, active=active, by=request.user)
        except BlockRefused as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(self.get_serializer(tenant).data)
