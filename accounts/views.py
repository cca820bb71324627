"""/api/keys/: the tenant's API keys, managed by logged-in users only; /api/tenant/: the
caller's tenant; /api/tokens/ and /auth/token/logout/: the user's own login tokens."""

import datetime as dt

from django.contrib.auth.signals import user_logged_out
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, AuthToken
from accounts.permissions import READ
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    AuthTokenSerializer,
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


class AuthTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your login tokens (one per login), newest first: when each was made and last used,
    and which one this request carries. DELETE revokes one (a lost device's, say).
    Logged-in users only; each sees only their own."""

    queryset = AuthToken.objects.none()  # for the schema; requests read get_queryset()
    serializer_class = AuthTokenSerializer
    search_fields: list[str] = []
    ordering_fields = ["created_at", "last_used_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator, no user
            return AuthToken.objects.none()
        return AuthToken.objects.filter(user=self.request.user)

    @extend_schema(responses={204: OpenApiResponse(description="Revoked")})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)


class TokenLogoutView(APIView):
    """`POST /auth/token/logout/`: revoke the token this request carries (the user's
    other logins stay)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
