"""The tenant and the logged-in user as the API shows them; API keys never with their
secret, except once on creation and rotation."""

from django.db import models
from django.utils import timezone
from djoser.serializers import (
    SetUsernameSerializer,
    TokenCreateSerializer,
    UserCreateSerializer,
    UserSerializer,
)
from rest_framework import serializers

from accounts.models import ApiKey, AuthToken, Tenant, User
from accounts.origins import normalise_origin_pattern
from accounts.services import MAX_ROTATION_GRACE, USERNAME_TAKEN, UsernameTaken, user_sign_up
from core.rest import (
    ChangedColumnsMixin,
    FixedFieldsMixin,
    JSONBooleanField,
    JSONStringField,
    StrictFieldsMixin,
    WholeNumberField,
)

MAX_ORIGINS = 50


class NormalisedUsernameField(serializers.CharField):
    """A username as the model stores it: NFKC-normalised (User.normalize_username), so
    a login finds the user whose name was normalised as it signed up."""

    def to_internal_value(self, data):
        return User.normalize_username(super().to_internal_value(data))


class UsernameField(NormalisedUsernameField):
    """A username being set, as the model will store it: NFKC-normalised first
    (User.normalize_username: `mia` with a fullwidth m is `mia`), then checked against
    the model's rules, its length and the names taken. Checked before normalising, a
    look-alike of a taken name reached the unique index (a 500), and 150 ligatures `ffi`
    (U+FB03) grew to 450 characters."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", User._meta.get_field("username").max_length)
        kwargs.setdefault("validators", [User.username_validator])
        super().__init__(**kwargs)

    def run_validators(self, value):
        super().run_validators(value)  # a name the model refuses is never looked up
        # Case-sensitive, as the unique index: `Mia` and `mia` are two users.
        if User.objects.filter(username=value).exists():
            raise serializers.ValidationError(USERNAME_TAKEN, code="unique")


class SignUpSerializer(StrictFieldsMixin, UserCreateSerializer):
    """`POST /auth/users/` (and the dashboard's sign-up): djoser's, with the username
    normalised before it is checked, and unknown fields refused (`is_staff`, `tenant`
    or `role` were dropped silently)."""

    username = UsernameField()

    def perform_create(self, validated_data):
        # djoser's answered a name taken since validation with a bare "Unable to create
        # account."; the user's activation by email is not offered here.
        try:
            return user_sign_up(**validated_data)
        except UsernameTaken as exc:
            raise serializers.ValidationError({"username": [str(exc)]}) from None


class CurrentUserSerializer(
    FixedFieldsMixin, StrictFieldsMixin, ChangedColumnsMixin, UserSerializer
):
    """`/auth/users/me/`: djoser's fields in seed 001's order (email, username, id), the
    order sign-up answers in. Only the email changes here: any other field sent is a 400,
    not dropped with a 200. It writes only that column (ChangedColumnsMixin, before
    djoser's update): djoser's whole-row save put back the `is_active` read at the start
    of the request, and so undid a removal made meanwhile."""

    fixed_fields_message = (
        "Cannot be changed here: only the email can (the username with set_username)."
    )

    class Meta(UserSerializer.Meta):
        fields = ("email", "username", "id")


class NewUsernameSerializer(StrictFieldsMixin, SetUsernameSerializer):
    """`POST /auth/users/set_username/`: `new_username` by the rules of sign-up (djoser
    stored it as sent, so `admin` with a fullwidth a could stand next to the staff user)."""

    username = UsernameField()  # djoser renames it new_username


class LoginSerializer(StrictFieldsMixin, TokenCreateSerializer):
    """`POST /auth/token/login/`: both fields required, so a missing one is named
    instead of answering "Unable to log in with provided credentials."; the username
    normalised as on sign-up (mia with a fullwidth m logs in as `mia`)."""

    password = serializers.CharField(style={"input_type": "password"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"] = NormalisedUsernameField()  # djoser's is optional


class ApiKeySerializer(
    FixedFieldsMixin, StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer
):
    """An API key as listed: never its secret, which only creation and rotation return.
    A write may set the name, the allowed origins and the expiry; the role only once."""

    fixed_fields_message = "Read-only: a key's name, allowed_origins and expires_at can change."

    display = serializers.SerializerMethodField(help_text="How the key begins, for recognition.")
    is_usable = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "role",
            "prefix",
            "display",
            "allowed_origins",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "replaced_by",
            "is_usable",
        ]
        read_only_fields = [
            "id",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
            "replaced_by",
        ]
        # What the browsable API's form starts from (DRF's `null` was refused when sent).
        extra_kwargs = {"allowed_origins": {"initial": list}}

    def get_display(self, key: ApiKey) -> str:
        return f"et_{key.prefix}_…"

    def get_is_usable(self, key: ApiKey) -> bool:
        return key.is_usable(now=timezone.now())

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value

    def validate_allowed_origins(self, value):
        """Each entry normalised (accounts.origins), or a 400 naming the bad one."""
        if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
            raise serializers.ValidationError("Must be a list of origins (strings).")
        if len(value) > MAX_ORIGINS:
            raise serializers.ValidationError(f"At most {MAX_ORIGINS} origins.")
        patterns = []
        for origin in value:
            try:
                patterns.append(normalise_origin_pattern(origin))
            except ValueError as exc:
                raise serializers.ValidationError(
                    f"'{origin}' is not an origin like https://shop.example, "
                    f"https://*.example.com, *.example.com or *: {exc}"
                ) from None
        return list(dict.fromkeys(patterns))

    def validate_role(self, value):
        if self.instance is not None and value != self.instance.role:
            raise serializers.ValidationError(
                "A key's role is fixed when it is created: create a new key with the role "
                "wanted (POST /api/keys/), then revoke this one."
            )
        return value


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """Creation and rotation answer: the listing fields plus `key`, shown this once."""

    key = serializers.CharField(read_only=True, help_text="The secret. It is shown only once.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class RotateSerializer(StrictFieldsMixin, serializers.Serializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_ROTATION_GRACE.total_seconds()),
        default=0,
        help_text="How long the old key keeps working (0: revoked at once; at most 7 days).",
    )


class TenantSerializer(serializers.ModelSerializer):
    """The caller's tenant: what `create_api_key --tenant` and the admin need (the slug),
    and the settings that shape what the API answers."""

    class Meta:
        model = Tenant
        fields = [
            "id",
            "slug",
            "name",
            "timezone",
            "is_active",
            "auto_create_events",
            "retention_days",
            "ingest_rate",
            "read_rate",
            "session_minutes",
            "respect_dnt",
            "created_at",
        ]
        read_only_fields = fields


class TenantSettingsSerializer(FixedFieldsMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """What a tenant's owner changes (PATCH /api/tenant/), with the model's own rules (the
    admin form's: an IANA zone, retention and visit bounds). Values must have their JSON
    type: "false" or 1 for a boolean, "30" for a number, is a 400 naming the field."""

    fixed_fields_message = (
        "Read-only here: the rates and blocking are the platform administrator's "
        "(/api/admin/tenants/); the id, slug and created_at never change."
    )
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: JSONBooleanField,
        models.CharField: JSONStringField,
        models.PositiveIntegerField: WholeNumberField,
        models.PositiveSmallIntegerField: WholeNumberField,
    }

    class Meta:
        model = Tenant
        fields = TenantSerializer.Meta.fields
        read_only_fields = ["id", "slug", "is_active", "ingest_rate", "read_rate", "created_at"]


class AuthTokenSerializer(serializers.ModelSerializer):
    """One of the user's login tokens: never its key (only a hash is stored)."""

    current = serializers.SerializerMethodField(
        help_text="True for the token this request was sent with."
    )

    class Meta:
        model = AuthToken
        fields = ["id", "prefix", "created_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, token: AuthToken) -> bool:
        sent_with = getattr(self.context.get("request"), "auth", None)
        return isinstance(sent_with, AuthToken) and sent_with.pk == token.pk


class MemberSerializer(FixedFieldsMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """A user of the tenant: an owner changes their role, removes them (`is_active`
    false) or brings a removed member back (`is_active` true) here; the user changes
    their own account at /auth/users/me/."""

    fixed_fields_message = "Cannot be changed here; only the role and is_active can."

    deactivated_by_staff = serializers.BooleanField(
        read_only=True,
        help_text="Deactivated by the platform's staff: only they can reactivate the account "
        "(is_active true is a 403 here).",
    )

    is_active = JSONBooleanField(
        required=False, help_text="false: removed from the team (logged out everywhere)."
    )
    # "" for a member added without one. Declared: a read-only model field loses
    # allow_blank, and the schema said `format: email`, which "" is not.
    email = serializers.EmailField(
        read_only=True, allow_blank=True, max_length=254, label="Email address"
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "role",
            "is_active",
            "deactivated_by_staff",
            "date_joined",
        ]
        read_only_fields = ["id", "username", "email", "deactivated_by_staff", "date_joined"]


class MemberCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """A new member: their login and role (default member). The password must pass the
    same validators as a sign-up's."""

    username = UsernameField()  # the rules of sign-up
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, default="")
    role = serializers.ChoiceField(choices=User.Role.choices, default=User.Role.MEMBER)
