"""/api/keys/: the tenant's API keys, managed by logged-in users only; /api/tenant/: the
caller's tenant."""

import datetime as dt

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.permissions import READ
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    RotateSerializer,
    TenantSerializer,
)
from accounts.services import api_key_create, api_key_revoke, api_key_rotate
from accounts.tenancy import TenantScopedMixin, request_tenant


class TenantView(APIView):
    """The tenant of the credential: its id, slug (what `create_api_key --tenant` takes),
    name, time zone and settings. Users and read or admin keys."""

    api_key_roles = {"GET": READ, "HEAD": READ, "OPTIONS": READ}

    @extend_schema(responses={200: TenantSerializer})
    def get(self, request, *args, **kwargs):
        return Response(TenantSerializer(request_tenant(request)).data)


class ApiKeyViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The tenant's API keys, managed by logged-in users (API keys cannot manage keys).
    DELETE revokes a key (it stays listed, unusable); `rotate` issues a replacement."""

    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    search_fields = ["name", "prefix"]
    ordering_fields = ["id", "name", "created_at", "last_used_at"]
    ordering = ["id"]
    filterset_fields = ["role"]

    @extend_schema(responses={201: ApiKeyCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = api_key_create(
            tenant=self.tenant, created_by=request.user, **serializer.validated_data
        )
        return self._created(key, secret)

    @extend_schema(responses={204: OpenApiResponse(description="Revoked")})
    def destroy(self, request, *args, **kwargs):
        api_key_revoke(key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RotateSerializer, responses={201: ApiKeyCreatedSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, *args, **kwargs):
        """A new key with the same name, role and origins; the old one keeps working
        for `grace_seconds`."""
        old = self.get_object()
        options = RotateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        grace = dt.timedelta(seconds=options.validated_data["grace_seconds"])
        key, secret = api_key_rotate(key=old, grace=grace, created_by=request.user)
        return self._created(key, secret)

    @staticmethod
    def _created(key: ApiKey, secret: str) -> Response:
        key.key = secret
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)
