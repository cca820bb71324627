"""/api/keys/: the tenant's API keys, managed by logged-in users only; /api/tenant/: the
caller's tenant; /api/tokens/, /auth/token/login/ and /auth/token/logout/: the user's own login
tokens."""

import datetime as dt

from django.contrib.auth.password_validation import ValidationError as PasswordError
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from djoser import utils as djoser_utils
from djoser.conf import settings as djoser_settings
from djoser.views import TokenCreateView, UserViewSet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, AuthToken, User
from accounts.permissions import (
    OWNER_WRITES,
    READ_ONLY,
    YourselfOrPermittedStaff,
    staff_may,
)
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    AuthTokenSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    RotateSerializer,
    TenantSerializer,
    TenantSettingsSerializer,
)
from accounts.services import (
    ExpiryRefused,
    MemberRemoved,
    RotationRefused,
    StaffDeactivated,
    TeamError,
    UsernameTaken,
    api_key_check_expiry,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    member_add,
    member_check_leaving,
    member_remove,
    member_update,
    tenant_update_settings,
    user_password_set,
    username_set,
)
from accounts.tenancy import TenantScopedMixin, request_tenant
from core.rest import PostFormMixin


class TenantView(APIView):
    """The tenant of the credential: its id, slug (what `create_api_key --tenant` takes),
    name, time zone and settings. Users and read or admin keys read it; its owners change
    its settings (PATCH; no PUT: every field is optional, so a PUT would be a PATCH)."""

    api_key_roles = READ_ONLY  # PATCH: a user login
    user_roles = OWNER_WRITES
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses={200: TenantSerializer})
    def get(self, request, *args, **kwargs):
        return Response(TenantSerializer(request_tenant(request)).data)

    @extend_schema(request=TenantSettingsSerializer, responses={200: TenantSerializer})
    def patch(self, request, *args, **kwargs):
        """Change the tenant's name, timezone, auto_create_events, retention_days,
        session_minutes or respect_dnt; seen by the very next request in every process
        (each reads its tenant's row afresh: accounts.credentials)."""
        tenant = request_tenant(request)
        body = TenantSettingsSerializer(tenant, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        tenant = tenant_update_settings(tenant=tenant, changes=body.validated_data)
        return Response(TenantSerializer(tenant).data)


class MemberViewSet(PostFormMixin, TenantScopedMixin, viewsets.ModelViewSet):
    """The tenant's team: its users and their roles (owner, member, viewer). Everyone in
    the tenant reads it; owners add members (POST, with a username and a password),
    change a role (PATCH `role`), remove a member (DELETE, or PATCH `is_active` false:
    deactivated, logged out everywhere) and bring a removed one back (PATCH `is_active`
    true). A tenant keeps at least one active owner. User logins only."""

    queryset = User.objects.all()
    serializer_class = MemberSerializer
    post_serializer_class = MemberCreateSerializer
    user_roles = OWNER_WRITES
    search_fields = ["username", "email"]
    ordering_fields = ["id", "username", "date_joined"]
    ordering = ["id"]
    filterset_fields = ["role", "is_active"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def create(self, request, *args, **kwargs):
        body = MemberCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            member = member_add(tenant=self.tenant, **body.validated_data)
        except PasswordError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        except TeamError as exc:  # taken since validation, by a concurrent request
            raise serializers.ValidationError({"username": [str(exc)]}) from None
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        try:
            member_update(member=serializer.instance, **serializer.validated_data)
        except StaffDeactivated as exc:
            raise PermissionDenied(str(exc)) from None
        except MemberRemoved as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None
        except TeamError as exc:  # the last active owner's demotion or removal
            field = "is_active" if serializer.validated_data.get("is_active") is False else "role"
            raise serializers.ValidationError({field: [str(exc)]}) from None

    @extend_schema(responses={204: OpenApiResponse(description="Removed from the team")})
    def destroy(self, request, *args, **kwargs):
        try:
            member_remove(member=self.get_object())
        except TeamError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your login tokens (one per login), newest first: when each was made and last used,
    and which one this request carries. DELETE revokes one (a lost device's, say).
    Logged-in users only; each sees only their own."""

    own_account = True  # every role manages its own logins
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


class AccountViewSet(UserViewSet):
    """Your account: sign up, `me` (read, change, delete with `current_password`),
    set_password, set_username. A tenant's last active owner cannot delete their
    account (400, as for DELETE /api/members/<id>)."""

    lookup_value_regex = r"[0-9]+"  # so /auth/users/reset_password/ is no user's id
    # The list: yourself, or every user for staff who may view users (get_queryset), in a
    # stable order.
    search_fields = ["username", "email"]
    ordering_fields = ["id", "username", "date_joined"]
    ordering = ["id"]

    # djoser's routes that work by email are not routed (a router lists only callable
    # actions): this service sends none, and they answered 500 for a known address and
    # 204 for an unknown one.
    activation = None
    resend_activation = None
    reset_password = None
    reset_password_confirm = None
    reset_username = None
    reset_username_confirm = None

    def get_queryset(self):
        # Others are listed and found only for staff with the admin's permission for the
        # method (YourselfOrPermittedStaff; djoser hid them from non-staff only): for
        # anyone else another's account is a 404, as djoser answers a refusal here.
        queryset = super().get_queryset()
        needed = YourselfOrPermittedStaff.NEEDED.get(self.request.method, "view")
        if not staff_may(self.request.user, "user", needed):
            queryset = queryset.filter(pk=self.request.user.pk)
        return queryset

    def get_object(self):
        # OPTIONS /auth/users/me/: DRF's metadata looks up the object a PUT would change
        # by the URL's id, which `me` has not got (an AssertionError, a 500).
        if (self.lookup_url_kwarg or self.lookup_field) not in self.kwargs:
            return self.get_instance()
        return super().get_object()

    # djoser's set_password and set_username save the whole user row, read when the
    # request was authenticated: a member removed meanwhile (is_active false) came back
    # active. These write only the changed column. Both answer 204 without a body (the
    # schema would otherwise show their request serializer as a 200's).
    @extend_schema(responses={204: None})
    @action(["post"], detail=False)
    def set_password(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_set(user=request.user, password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    @action(["post"], detail=False)
    def set_username(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]  # sent as new_username
        try:
            username_set(user=request.user, username=username)
        except UsernameTaken as exc:  # since validation, by a concurrent request
            raise serializers.ValidationError({"new_username": [str(exc)]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @transaction.atomic
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        self.get_serializer(instance, data=request.data).is_valid(raise_exception=True)
        try:
            member_check_leaving(member=instance)  # before djoser's logout, not after
        except TeamError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None
        if instance == request.user:
            djoser_utils.logout_user(request)
        self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(post=extend_schema(responses={200: djoser_settings.SERIALIZERS.token}))
class LoginView(TokenCreateView):
    """`POST /auth/token/login/`: djoser's, with its answer in the schema, `{"auth_token":
    …}` (drf-spectacular would show the request's serializer, username and password)."""


class TokenLogoutView(APIView):
    """`POST /auth/token/logout/`: revoke the token this request carries (the user's
    other logins stay)."""

    own_account = True

    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotRotatable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This key cannot be rotated."
    default_code = "not_rotatable"


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
    user_roles = OWNER_WRITES
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

    def perform_update(self, serializer):
        """A new expiry is checked against the key's locked row (a rotated key's grace is
        not extended, an expired key not revived), and saved in the same transaction."""
        if "expires_at" not in serializer.validated_data:
            serializer.save()
            return
        with transaction.atomic():
            try:
                api_key_check_expiry(
                    key=serializer.instance, expires_at=serializer.validated_data["expires_at"]
                )
            except ExpiryRefused as exc:
                raise serializers.ValidationError({"expires_at": [str(exc)]}) from None
            serializer.save()

    @extend_schema(responses={204: OpenApiResponse(description="Revoked")})
    def destroy(self, request, *args, **kwargs):
        api_key_revoke(key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=RotateSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            409: OpenApiResponse(description="The key was already replaced, revoked or expired"),
        },
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, *args, **kwargs):
        """A new key with the same name, role, origins and expiry; the old one keeps
        working for `grace_seconds`. A key already replaced, revoked or expired: 409."""
        old = self.get_object()
        options = RotateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        grace = dt.timedelta(seconds=options.validated_data["grace_seconds"])
        try:
            key, secret = api_key_rotate(key=old, grace=grace, created_by=request.user)
        except RotationRefused as exc:
            raise NotRotatable(str(exc)) from exc
        return self._created(key, secret)

    @staticmethod
    def _created(key: ApiKey, secret: str) -> Response:
        key.key = secret
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)
