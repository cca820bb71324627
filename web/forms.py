"""HTML forms of the dashboard and the demo page. API-key rules are not repeated here:
the key form delegates to the API's own serializer, so both paths accept the same input."""

import datetime as dt
import ipaddress
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from functools import cache

from django import forms
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict
from django.utils import timezone
from rest_framework import serializers

from accounts.models import ApiKey, Tenant, User
from accounts.serializers import ApiKeySerializer, MemberCreateSerializer, SignUpSerializer
from core.zones import zone_names
from stats.serializers import max_range_days

DATE_FORMAT = "%Y-%m-%d"
DEFAULT_RANGE_DAYS = 30
# Events cannot predate 1970 (ingestion refuses them).
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
ORIGIN_SEPARATORS = re.compile(r"[\s,]+")
# An origin, at most a final "/" after it: nothing the CSP header would read as syntax.
ORIGIN = re.compile(
    r"https?://"
    r"(?P<name>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])"  # a name, IPv4 or [IPv6]
    r"(?::(?P<port>[0-9]{1,5}))?/?",
    re.ASCII | re.IGNORECASE,
)
BAD_ORIGIN = (
    "Must be an origin like https://events.example or http://127.0.0.1:8001: http or https, "
    "a host and a port (1-65535) if any; no path, query, fragment or user."
)


def add_serializer_errors(form: forms.Form, errors: Mapping[str, Sequence[object]]) -> None:
    """The errors of the API's serializer, by field, on the form of the same rules; those
    of fields the form has not got (non_field_errors) on the form as a whole."""
    for name, messages in errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, str(message))


@cache
def zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, sorted: the same set the stats API and Tenant.timezone accept."""
    return [(name, name) for name in sorted(zone_names())]


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
        add_serializer_errors(self, serializer.errors)
        return self.cleaned_data


class SignUpForm(forms.Form):
    """A new account with a tenant of its own, by the rules of `POST /auth/users/`: its
    serializer validates it (password validators, a unique normalised username) and
    creates the user, whose manager creates the tenant."""

    # Django's: NFKC-normalised before its length is checked, as the serializer does.
    username = UsernameField(label="Username", max_length=150)
    email = forms.EmailField(label="Email (optional)", required=False)
    password = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False))
    password_again = forms.CharField(
        label="Password, again", widget=forms.PasswordInput(render_value=False)
    )

    def clean(self):
        """Every reason at once: a bad email, a taken username, a weak password and two
        differing passwords each show beside their field on the first answer, not one
        per submit. The serializer checks what the form's own fields let through."""
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", "The two passwords differ.")
        if "username" not in cleaned or password is None:
            return cleaned  # nothing the serializer could check beyond the form's errors
        data = {"username": cleaned["username"], "password": password}
        data["email"] = cleaned.get("email", "")  # a bad one is the form's error already
        self.serializer = SignUpSerializer(data=data)
        if not self.serializer.is_valid():
            errors = self.serializer.errors
            add_serializer_errors(self, {n: m for n, m in errors.items() if n not in self.errors})
            self._check_password(password, username=data["username"], email=data["email"])
        return cleaned

    def _check_password(self, password: str, *, username: str, email: str) -> None:
        """The password validators' verdict, which the serializer gives only once every
        field of its own is valid."""
        if "password" in self.errors:
            return
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            self.add_error("password", exc)

    def save(self) -> User | None:
        """The new user (call after is_valid()); None, with the form's error, when the
        username was taken since it was validated."""
        try:
            return self.serializer.save()
        except serializers.ValidationError as exc:
            add_serializer_errors(self, exc.detail)
            return None


class MemberForm(forms.Form):
    """A new member of the owner's tenant, by the rules of POST /api/members/ (whose
    serializer validates it); the password's validators run where the member is made
    (accounts.services.member_add), and the view shows their verdict on this form."""

    username = UsernameField(label="Username", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False))
    role = forms.ChoiceField(label="Role", choices=User.Role.choices, initial=User.Role.MEMBER)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        serializer = MemberCreateSerializer(data=cleaned)
        if not serializer.is_valid():
            add_serializer_errors(self, serializer.errors)
            return cleaned
        return dict(serializer.validated_data)


class DemoOverrideForm(forms.Form):
    """`?key=&host=`: send the demo's events with another ingest key, to another server
    (end-to-end tests of cross-origin sending). Both only ever reach the page as JSON."""

    key = forms.CharField(required=False, max_length=200)
    host = forms.CharField(required=False, max_length=300)

    def clean_host(self) -> str:
        """The origin the tracker sends to (it appends /api/eventlogs/batch/), which the
        page's Content-Security-Policy adds to connect-src: so a scheme, a host and a port,
        nothing else (a space or a `;` would add a directive to the policy)."""
        host = self.cleaned_data["host"].strip()
        if not host:
            return ""
        found = ORIGIN.fullmatch(host)
        if found is None or not _valid_host(found["name"], found["port"]):
            raise forms.ValidationError(BAD_ORIGIN)
        return host.lower().removesuffix("/")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("host") and not cleaned.get("key"):
            self.add_error("key", "A host needs a key of that server.")
        return cleaned


def _valid_host(name: str, port: str | None) -> bool:
    """A bracketed name is an IPv6 address; a port is 1-65535."""
    if port is not None and not 1 <= int(port) <= 65535:
        return False
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
    return True


INTERVAL_CHOICES = [
    ("", "no time breakdown"),
    *((i, f"per {i}") for i in ("hour", "day", "week", "month")),
]
FILTER_OPS = [
    ("eq", "="),
    ("neq", "≠"),
    ("contains", "contains"),
    ("gt", ">"),
    ("lt", "<"),
    ("is_set", "is set"),
    ("is_not_set", "is not set"),
]


class InsightRangeForm(StatsRangeForm):
    """The range and zone of an insight page, with the dashboard's defaults."""

    @classmethod
    def for_tenant(cls, query: QueryDict, tenant: Tenant) -> "InsightRangeForm":
        """Bound once submitted (a field of the insight's own in the query); before that
        unbound, showing the defaults (fields' initials, the range's) and no errors."""
        bound = super().for_tenant(query, tenant)
        own = [name for name in cls.declared_fields if name not in bound.data]
        if not any(name in query for name in own):
            return cls(initial=bound.data)
        # A field the address leaves out (a link or bookmark of a few fields) is what the
        # first visit shows in it, as the range's are: not a "This field is required."
        return cls(data=bound.data | {name: query.get(name, cls.shown(name)) for name in own})

    @classmethod
    def shown(cls, name: str) -> str:
        """What the first visit's form shows in field `name`: its initial, else a
        select's first choice, else nothing."""
        field = cls.base_fields[name]
        if field.initial is not None:
            return str(field.initial)
        choices = list(getattr(field, "choices", []))
        return str(choices[0][0]) if choices else ""

    def date_range(self) -> dict:
        return {
            "start": self.cleaned_data["start_date"].isoformat(),
            "end": self.cleaned_data["end_date"].isoformat(),
        }


class QueryBuilderForm(InsightRangeForm):
    """The query builder: one event (or all), one metric, a breakdown, a time bucket and
    one property filter — a query of /api/query, which the page runs and draws."""

    event = forms.CharField(label="Event", required=False, help_text="Blank: every event.")
    metric = forms.ChoiceField(
        label="Metric",
        choices=[
            ("events", "events"),
            ("uniques", "unique users"),
            ("events_per_user", "events per user"),
        ],
    )
    breakdown = forms.CharField(
        label="Breakdown", required=False, help_text="event, distinct_id or data.<key>"
    )
    interval = forms.ChoiceField(label="Over time", choices=INTERVAL_CHOICES, required=False)
    filter_field = forms.CharField(label="Filter on", required=False, help_text="e.g. data.plan")
    filter_op = forms.ChoiceField(label="Operator", choices=FILTER_OPS, required=False)
    filter_value = forms.CharField(label="Value", required=False)

    def query(self) -> dict:
        """The /api/query body of the form (checked by the query language itself)."""
        data = self.cleaned_data
        filters = []
        if data["event"]:
            filters.append(["eq", "event", data["event"]])
        if data["filter_field"]:
            op = data["filter_op"] or "eq"
            condition = [op, data["filter_field"]]
            if op not in ("is_set", "is_not_set"):
                condition.append(_typed(data["filter_value"], op))
            filters.append(condition)
        breakdown = [data["breakdown"]] if data["breakdown"] else []
        if data["interval"]:
            breakdown.append(f"time:{data['interval']}")
        return {
            "metrics": [data["metric"]],
            "breakdown": breakdown,
            "filters": filters,
            "date_range": self.date_range(),
            "tz": data["tz"],
        }


def _typed(value: str, op: str):
    """A filter value as typed: a number when it reads as one (for > and <), else text."""
    if op in ("gt", "lt", "eq", "neq"):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


class FunnelForm(InsightRangeForm):
    steps = forms.CharField(label="Steps", help_text="Event names in order, comma separated.")
    window = forms.CharField(
        label="Within", initial="14d", required=False, help_text="e.g. 30m, 12h, 14d; blank: 14d"
    )
    order = forms.ChoiceField(
        label="Order",
        choices=[("ordered", "in order"), ("strict", "strictly"), ("any", "any order")],
    )

    def query(self) -> dict:
        data = self.cleaned_data
        return {
            "steps": [step.strip() for step in data["steps"].split(",") if step.strip()],
            "window": data["window"] or "14d",
            "order": data["order"],
            "date_range": self.date_range(),
            "tz": data["tz"],
        }


class RetentionForm(InsightRangeForm):
    cohort = forms.CharField(label="Users who did")
    returning = forms.CharField(label="Came back to", required=False, help_text="Blank: any event.")
    period = forms.ChoiceField(label="Period", choices=[(p, p) for p in ("day", "week", "month")])
    periods = forms.IntegerField(label="Periods", min_value=1, max_value=52, initial=8)

    def query(self) -> dict:
        data = self.cleaned_data
        return {
            "cohort": {"event": data["cohort"]},
            "return": {"event": data["returning"] or None},
            "period": data["period"],
            "periods": data["periods"],
            "date_range": self.date_range(),
            "tz": data["tz"],
        }
