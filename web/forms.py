"""HTML forms of the dashboard and the demo page. API-key rules are not repeated here:
the key form delegates to the API's own serializer, so both paths accept the same input."""

import datetime as dt
import re
import zoneinfo
from functools import cache
from urllib.parse import urlsplit

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict
from django.utils import timezone
from djoser.serializers import UserCreateSerializer

from accounts.models import ApiKey, Tenant, User
from accounts.serializers import ApiKeySerializer, MemberCreateSerializer
from stats.serializers import max_range_days

DATE_FORMAT = "%Y-%m-%d"
DEFAULT_RANGE_DAYS = 30
# Events cannot predate 1970 (ingestion refuses them).
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
ORIGIN_SEPARATORS = re.compile(r"[\s,]+")


@cache
def zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, sorted: the same set the stats API and Tenant.timezone accept."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        input_formats=[DATE_FORMAT],
        widget=forms.DateInput(attrs={"type": "date"}, format=DATE_FORMAT),
        validators=[MinValueValidator(EARLIEST_DATE), MaxValueValidator(LATEST_DATE)],
    )


class StatsRangeForm(forms.Form):
    """The dashboard's GET filter: an inclusive day range and the zone days are cut in."""

    start_date = _date_field("From")
    end_date = _date_field("To (included)")
    tz = forms.ChoiceField(label="Time zone", choices=zone_choices)

    @classmethod
    def for_tenant(cls, query: QueryDict, tenant: Tenant) -> "StatsRangeForm":
        """Bound to the query, with the last 30 days in the tenant's zone for what it
        leaves out, so the first visit shows data without a submit."""
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.timezone)).date()
        defaults = {
            "start_date": (today - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat(),
            "end_date": today.isoformat(),
            "tz": tenant.timezone,
        }
        return cls(data={name: query.get(name, default) for name, default in defaults.items()})

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date is before the start date.")
        elif start and end and (end - start).days + 1 > max_range_days():
            self.add_error("end_date", f"A range may span at most {max_range_days()} days.")
        return cleaned


class ApiKeyCreateForm(forms.Form):
    """Name, role and origins of a new key; validated by ApiKeySerializer (origins
    normalised and deduplicated there), whose validated data `cleaned_data` becomes."""

    name = forms.CharField(label="Name", max_length=100)
    role = forms.ChoiceField(label="Role", choices=ApiKey.Role.choices, initial=ApiKey.Role.INGEST)
    allowed_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="For ingest keys used in web pages: one origin per line or comma "
        "separated, e.g. https://shop.example, https://*.example.com or *.",
    )

    def clean_allowed_origins(self) -> list[str]:
        return [o for o in ORIGIN_SEPARATORS.split(self.cleaned_data["allowed_origins"]) if o]

    def clean(self):
        if self.errors:
            return self.cleaned_data
        serializer = ApiKeySerializer(data=self.cleaned_data)
        if serializer.is_valid():
            return dict(serializer.validated_data)
        for name, messages in serializer.errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, str(message))
        return self.cleaned_data


class SignUpForm(forms.Form):
    """A new account with a tenant of its own, by the rules of `POST /auth/users/`:
    djoser's serializer validates it (password validators, a unique username) and creates
    the user, whose manager creates the tenant."""

    username = forms.CharField(label="Username", max_length=150)
    email = forms.EmailField(label="Email (optional)", required=False)
    password = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False))
    password_again = forms.CharField(
        label="Password, again", widget=forms.PasswordInput(render_value=False)
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned["password"] != cleaned["password_again"]:
            self.add_error("password_again", "The two passwords differ.")
            return cleaned
        data = {name: cleaned[name] for name in ("username", "email", "password")}
        self.serializer = UserCreateSerializer(data=data)
        if not self.serializer.is_valid():
            for name, messages in self.serializer.errors.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, str(message))
        return cleaned

    def save(self):
        """The new user (call after is_valid())."""
        return self.serializer.save()


class MemberForm(forms.Form):
    """A new member of the owner's tenant, by the rules of POST /api/members/ (whose
    serializer validates it); the password's validators run where the member is made
    (accounts.services.member_add), and the view shows their verdict on this form."""

    username = forms.CharField(label="Username", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False))
    role = forms.ChoiceField(label="Role", choices=User.Role.choices, initial=User.Role.MEMBER)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        serializer = MemberCreateSerializer(data=cleaned)
        if not serializer.is_valid():
            for name, messages in serializer.errors.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, str(message))
            return cleaned
        return dict(serializer.validated_data)


class DemoOverrideForm(forms.Form):
    """`?key=&host=`: send the demo's events with another ingest key, to another server
    (end-to-end tests of cross-origin sending). Both only ever reach the page as JSON."""

    key = forms.CharField(required=False, max_length=200)
    host = forms.CharField(required=False, max_length=300)

    def clean_host(self) -> str:
        """A base URL the tracker appends /api/eventlogs/batch/ to: http(s), a host, no
        query, fragment or user."""
        host = self.cleaned_data["host"].strip()
        if not host:
            return ""
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError("Must be a base URL like https://events.example.")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise forms.ValidationError("Must have no query, fragment or user.")
        return host

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("host") and not cleaned.get("key"):
            self.add_error("key", "A host needs a key of that server.")
        return cleaned
