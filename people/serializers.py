"""People (profiles) and the answers of their erasure and event deletion."""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.rest import ChangedColumnsMixin, StrictFieldsMixin, StrictQueryMixin
from people.models import Person, validate_phone

# Separators people type in phone numbers; dropped before validation ("+1 (555) 010-9999").
PHONE_SEPARATORS = re.compile(r"[\s().-]")


# What a profile holds, as the API and the admin edit it.
PROFILE_FIELDS = [
    "distinct_id",
    "email",
    "username",
    "first_name",
    "last_name",
    "phone",
    "properties",
]


class PhoneField(serializers.CharField):
    """A phone number as a string of digits with an optional leading "+". Accepts a JSON
    number too (seed 002 sends one) and drops spaces, dots, dashes and parentheses."""

    def to_internal_value(self, data):
        # A sign is not a separator: -12345678 (or "-123…") is no phone number.
        if isinstance(data, float | bool) or (isinstance(data, int) and data < 0):
            self.fail("invalid")
        if isinstance(data, str) and data.strip().startswith("-"):
            self.fail("invalid")
        value = PHONE_SEPARATORS.sub("", super().to_internal_value(data))
        if value:
            try:
                validate_phone(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value


class PersonSerializer(StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer):
    """A person's profile. `distinct_id` is generated when not given and cannot change
    afterwards (events name the person by it). Uniqueness of distinct_id and email per
    tenant is checked by the database; the view turns a refusal into a 400."""

    phone = PhoneField(required=False, allow_blank=True, max_length=32)

    class Meta:
        model = Person
        fields = [*PROFILE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "distinct_id": {"required": False, "trim_whitespace": False},
            # What the browsable API's form starts from (DRF's `null` was refused when sent).
            "properties": {"initial": dict},
        }
        validators = []

    def validate_distinct_id(self, value: str) -> str:
        if self.instance is not None and value != self.instance.distinct_id:
            raise serializers.ValidationError("Cannot be changed; create another person instead.")
        if (problem := distinct_id_problem(value)) is not None:
            raise serializers.ValidationError(problem)
        return value

    def validate_properties(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(PROPERTIES_NOT_AN_OBJECT)
        return value


PROPERTIES_NOT_AN_OBJECT = "Must be a JSON object."


def distinct_id_problem(value: str) -> str | None:
    """Why `value` cannot be a person's distinct_id (the API's and the admin's rule). It is
    a segment of the person's URLs: `.` and `..` are not, since clients and proxies resolve
    them as dot segments (`/api/people/../export` is sent as `/api/export`), which would
    leave the profile with no address to export or erase it by."""
    if not value or "/" in value or any(not char.isprintable() for char in value):
        return "Must be non-empty, printable, and without '/' (it is part of the URL)."
    if value in {".", ".."}:
        return "May not be '.' or '..' (it is part of the URL, where they mean a folder)."
    return None


class PersonListQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """`GET /api/people/`: the parameters its filter, search, ordering and pages read
    (their values are theirs to check); any other, or one given twice, is a 400 naming
    it: a misspelt `?emial=` listed every person, `?search=a&search=b` searched the last."""

    _FORM_KEYS = StrictQueryMixin._FORM_KEYS | {"limit", "offset"}  # the pagination's
    blank_is_absent = True  # a paged list: its filters are every list's

    email = serializers.CharField(required=False, help_text="One person's email, any case.")
    search = serializers.CharField(required=False, help_text="Text in any text field.")
    ordering = serializers.CharField(required=False)


class NoQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """A route of /api/people/ that reads no query parameter (`format` aside)."""


class PersonDeleteQuerySerializer(StrictQueryMixin, serializers.Serializer):
    erase_events = serializers.BooleanField(
        default=False,
        help_text="Also delete every event of this distinct_id (GDPR erasure); answers "
        "a receipt instead of 204.",
    )


class ErasureSerializer(serializers.Serializer):
    """The answer to an erasure: whose, how many events went, when, and the receipt."""

    person = serializers.CharField(help_text="The distinct_id erased.")
    events_deleted = serializers.IntegerField()
    at = serializers.DateTimeField()
    receipt = serializers.IntegerField(help_text="The DeletionReceipt's id (/api/deletions/).")


class UserEventsDeletedSerializer(serializers.Serializer):
    """Seed 002's answer to deleting one user's events, with the receipt's fields."""

    message = serializers.CharField(help_text='"<n> events were deleted"')
    id = serializers.IntegerField()
    reason = serializers.CharField()
    filter = serializers.DictField()
    events_deleted = serializers.IntegerField()
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()
