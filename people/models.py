"""Personal data of a tenant's end users, kept in its own database ("pii").

Nothing here points at the default database and nothing there points here:
a person's events name them only by `distinct_id`, so either side can be
erased, exported or moved without the other (see eventtracker.dbrouters).
"""

import re
import unicodedata
import uuid

from django.core.exceptions import ValidationError
from django.db import models

from accounts.tenancy import ShardedByTenant
from events.models import DISTINCT_ID_MAX_LENGTH

PHONE_MAX_LENGTH = 16  # "+" and E.164's 15 digits
PHONE_RE = re.compile(r"\+?[0-9]{4,15}")
# Case folding may lengthen an email (ß → ss, İ → i̇): room for three times EmailField's 254.
EMAIL_KEY_MAX_LENGTH = 3 * 254


def new_distinct_id() -> str:
    return str(uuid.uuid4())


def validate_phone(value: str) -> None:
    if not PHONE_RE.fullmatch(value):
        raise ValidationError("Enter a phone number: 4 to 15 digits, optionally after a '+'.")


def email_key(email: str) -> str:
    """The email with case and Unicode forms ignored (Unicode caseless matching), computed
    here and not by the database: SQLite's lower() folds ASCII only, and PostgreSQL's and
    Python's lowercase differ (İ), so a database expression could not agree with itself
    across backends, nor with what the lookup sends."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", email).casefold())


class PersonQuerySet(models.QuerySet):
    def with_email(self, email: str) -> "PersonQuerySet":
        """Case-insensitive match, on the same key as the unique constraint."""
        return self.filter(email_key=email_key(email))


class Person(ShardedByTenant):
    """A tenant's end user (a store's customer): the profile behind a `distinct_id`.

    `tenant_id` is a plain integer, not a foreign key: tenants live in the default
    database and no constraint can span two databases. The tenancy mixin scopes
    by it like by a `tenant` foreign key.
    """

    tenant_id = models.BigIntegerField()
    distinct_id = models.CharField(max_length=DISTINCT_ID_MAX_LENGTH, default=new_distinct_id)
    email = models.EmailField(blank=True, default="")
    # Set from `email` on every save: what uniqueness and lookups by email compare.
    email_key = models.CharField(
        max_length=EMAIL_KEY_MAX_LENGTH, blank=True, default="", editable=False
    )
    username = models.CharField(max_length=150, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    phone = models.CharField(
        max_length=PHONE_MAX_LENGTH, blank=True, default="", validators=[validate_phone]
    )
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "distinct_id"], name="person_unique_distinct_id_per_tenant"
            ),
            # An email is optional, and unique (ignoring case) among a tenant's people.
            models.UniqueConstraint(
                fields=["tenant_id", "email_key"],
                condition=~models.Q(email_key=""),
                name="person_unique_email_key_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=["tenant_id", "created_at"], name="person_tenant_created")]

    def __str__(self) -> str:
        return self.distinct_id

    def save(self, *args, **kwargs):
        self.email_key = email_key(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_key"}
        super().save(*args, **kwargs)
