"""REST framework policy pieces named once in settings.REST_FRAMEWORK.

Parser, renderer, pagination, search bound and the strict-serializer mixin:
everything every API view shares, nothing domain-specific. The exception
handler is in core.exceptions (it imports DRF's views, which load this module).
"""

import copy
import re

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.functional import cached_property
from rest_framework import exceptions, serializers
from rest_framework.filters import SearchFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils import html, model_meta

from core import jsonbody
from core.rows import save_columns

MAX_PAGE_SIZE = 1000
# Far past any list, and within the databases' 64-bit OFFSET (a larger one was a 500).
MAX_OFFSET = 10**12
MAX_SEARCH_TERMS = 20


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "too_large"


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_detail = "A request body needs a Content-Length header."
    default_code = "length_required"


class StrictJSONParser(BaseParser):
    """JSON parser that never lets bad input become a 500 (see core.jsonbody)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            # Bounded read: a chunked body without Content-Length cannot exhaust memory.
            body = stream.read(limit + 1) if stream is not None else b""
        except RequestDataTooBig:
            raise PayloadTooLarge() from None
        if len(body) > limit:
            raise PayloadTooLarge()
        request = (parser_context or {}).get("request")
        content_length = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            return jsonbody.loads_body(body, content_length)
        except jsonbody.ValueRefused as exc:
            raise RefusedValue(exc) from None
        except jsonbody.JSONBodyError as exc:
            raise exceptions.ParseError(str(exc)) from None


class RefusedValue(exceptions.ValidationError):
    """400: a readable body holding a value that cannot be stored (jsonbody.ValueRefused),
    named as a field error is (`{"events[0].distinct_id": ["Strings may not …"]}`).
    `refused` keeps the body as decoded, for a view that refuses only the items holding
    one (a batch: events.views)."""

    def __init__(self, refused: jsonbody.ValueRefused):
        super().__init__({refused.where: [str(refused)]})
        self.refused = refused


class FastJSONRenderer(JSONRenderer):
    """orjson rendering; DRF's encoder for types orjson does not know, and for indented
    answers (the browsable API asks for an indent; so may `Accept: …; indent=2`)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)


class FormatNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but a `?format=` (or `.suffix`) the route cannot render is a
    400 naming `format` and listing the route's formats, not DRF's bare 404 "Not found."
    (the route exists; the parameter is what is wrong). So is an empty `?format=` (DRF
    reads it as none), and one given twice (DRF takes the last), as for every other
    parameter (StrictQueryMixin)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if format_suffix is None:
            given = request.query_params.getlist(self.settings.URL_FORMAT_OVERRIDE)
            if len(given) > 1:
                raise exceptions.ValidationError({"format": [SingleValuedQueryMixin._REPEATED]})
            if given == [""]:
                raise exceptions.ValidationError({"format": [StrictQueryMixin._BLANK]})
        return super().select_renderer(request, renderers, format_suffix)

    def filter_renderers(self, renderers, format):
        found = [renderer for renderer in renderers if renderer.format == format]
        if not found:
            formats = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
            message = f"'{format}' is not a format of this route; it answers {formats}."
            raise exceptions.ValidationError({"format": [message]})
        return found


class StrictFieldsMixin:
    """Serializer mixin: unknown input fields are a 400, not silently dropped."""

    # Sent by the browsable API's HTML forms, never meant as data.
    _FORM_KEYS = frozenset({"csrfmiddlewaretoken"})
    _UNKNOWN = "Unknown field."

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = set(data.keys()) - set(self.fields) - self._FORM_KEYS
            if unknown:
                raise serializers.ValidationError(
                    {name: [self._UNKNOWN] for name in sorted(unknown)}
                )
        return super().to_internal_value(data)


class PostFormMixin:
    """View mixin for a POST that takes other fields than its answer shows: the browsable
    API builds its POST form from get_serializer_class(), which then gives
    `post_serializer_class` (a member's password, an import's files; the form showed only
    what the answer has). The view answers with its own serializer_class explicitly."""

    post_serializer_class: type[serializers.Serializer] | None = None

    def get_serializer_class(self):
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST" and self.post_serializer_class:
            return self.post_serializer_class
        return super().get_serializer_class()


class ChangedColumnsMixin:
    """ModelSerializer mixin: an update writes only the columns the request changed (and
    those Django stamps, `auto_now`). DRF's saves the whole row as read at the start of
    the request, putting back whatever another request changed meanwhile: an API key
    revoked while its name was edited came back usable, a dashboard's revoked share
    link came back."""

    def update(self, instance, validated_data):
        serializers.raise_errors_on_nested_writes("update", self, validated_data)
        relations = model_meta.get_field_info(instance).relations
        many = {name: value for name, value in validated_data.items() if _to_many(relations, name)}
        columns = [name for name in validated_data if name not in many]
        for name in columns:
            setattr(instance, name, validated_data[name])
        if columns:
            save_columns(instance, columns)
        for name, value in many.items():
            getattr(instance, name).set(value)
        return instance


def _to_many(relations, name: str) -> bool:
    return name in relations and relations[name].to_many


class SingleValuedQueryMixin:
    """For a query-string serializer: a parameter given twice is a 400 naming it, not the
    last value read silently (`?erase_events=true&erase_events=false`)."""

    _REPEATED = "Given more than once."

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            repeated = sorted(name for name in data if len(data.getlist(name)) > 1)
            if repeated:
                raise serializers.ValidationError({name: [self._REPEATED] for name in repeated})
        return super().to_internal_value(data)


class StrictQueryMixin(SingleValuedQueryMixin, StrictFieldsMixin):
    """For a route's query-string serializer: an unknown parameter is a 400 naming it,
    not ignored (a misspelt `start_dat`, or another product's `day=13&month=3`, would
    answer every day as if it had been read), and so is one given twice. DRF's `format`
    chooses the rendering."""

    _FORM_KEYS = frozenset({"format"})
    _UNKNOWN = "Unknown parameter."
    _BLANK = "May not be blank: leave the parameter out for its default."
    # A list's filters read an empty one as no filter, as an HTML form's empty field.
    blank_is_absent = False

    def to_internal_value(self, data):
        # DRF reads an empty value of an optional field as no value at all (`?tz=` was
        # the tenant's zone, `?event_name=` every event), while the same empty value of a
        # required one is a 400: an empty parameter is a 400 naming it, whichever it is.
        if hasattr(data, "keys") and not self.blank_is_absent:
            blank = sorted(name for name in data if self._is_blank(name, data))
            if blank:
                raise serializers.ValidationError({name: [self._BLANK] for name in blank})
        return super().to_internal_value(data)

    def _is_blank(self, name: str, data) -> bool:
        field = self.fields.get(name)
        if field is None or field.read_only or getattr(field, "allow_blank", False):
            return False
        values = data.getlist(name) if hasattr(data, "getlist") else [data[name]]
        return any(isinstance(value, str) and value == "" for value in values)


class FixedFieldsMixin:
    """Serializer mixin: read-only fields sent as input are a 400 naming them, with
    `fixed_fields_message` saying what may be changed instead (DRF drops them silently,
    so a PATCH of one answered 200 and changed nothing)."""

    fixed_fields_message = "Read-only."

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            fixed = sorted(name for name in data if self._is_read_only(name))
            if fixed:
                message = self.fixed_fields_message
                raise serializers.ValidationError({name: [message] for name in fixed})
        return super().to_internal_value(data)

    def _is_read_only(self, name: str) -> bool:
        field = self.fields.get(name)
        return field is not None and field.read_only


class NulFreeDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, refusing a NUL as every CharField does: Python 3.11's
    datetime.fromisoformat, which Django's parse_datetime tries first, reads
    "2026-11-10T00:00:00Z" followed by a NUL as that instant."""

    def to_internal_value(self, value):
        if isinstance(value, str) and "\x00" in value:
            raise serializers.ValidationError(ProhibitNullCharactersValidator.message)
        return super().to_internal_value(value)


class WrittenAsField(serializers.Field):
    """A mixin for DRF's date and time fields: the text must also match `written_as` (a
    regular expression, whole) and says so with `shown_as`. strptime alone reads one-digit
    fields ("2024-5-1") and any Unicode digit, where the documented form is zero-padded
    ASCII."""

    written_as: re.Pattern
    shown_as: str

    def to_internal_value(self, value):
        if isinstance(value, str) and not self.written_as.fullmatch(value):
            self.fail("invalid", format=self.shown_as)
        return super().to_internal_value(value)

    def fail(self, key, **kwargs):
        # DRF names the format by its strptime pattern ("hh:mm:ss" for %H:%M:%S) when a
        # text of the right shape is no date (a 13th month), or not text: one name for it.
        if "format" in kwargs:
            kwargs["format"] = self.shown_as
        super().fail(key, **kwargs)


class DayField(WrittenAsField, serializers.DateField):
    """A day, written YYYY-MM-DD."""

    written_as = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    shown_as = "YYYY-MM-DD"

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)


class WholeNumberField(serializers.IntegerField):
    """An integer sent as a JSON number: DRF would also read "3", 3.0 and true as one;
    ingestion's own fields refuse them (events.validation), and so does this."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data):
        if not jsonbody.is_integer(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A boolean sent as JSON true or false: DRF would also read "yes", "off", 1 and "0".
    A form (the browsable API's, or any form-encoded body) has only text: there, DRF's
    reading of "true" and "false" (and "on", "1", …) holds."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and html.is_html_input(getattr(self.root, "initial_data", None)):
            return super().to_internal_value(data)
        self.fail("invalid")


class JSONStringField(serializers.CharField):
    """Text sent as a JSON string: DRF would also read 12 or 1.5 as one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CachedFieldsMixin:
    """For ModelSerializers on hot paths whose fields depend on neither the instance nor
    the context (a serializer that varies its fields per request must not use it).

    - ModelSerializer maps the model's fields anew for every serializer; this maps them
      once per class and deep-copies them, as DRF itself does for declared fields.
    - A DateTimeField looks the current time zone up for every value it writes; here it
      takes the one current when the serializer is built (what it would find: nothing
      activates another in between). A list of 20 events looked 40 times. A serializer
      kept for the process (events.serializers' log representation) writes in the zone
      current at its first use: the default, UTC, as nothing here activates another.
    - DRF walks the fields anew for every instance to find the readable ones; here they
      are listed once per serializer.

    Together a fifth of the CPU of listing 20 events."""

    def get_fields(self):
        cls = type(self)
        prototype = cls.__dict__.get("_prototype_fields")
        if prototype is None:
            prototype = super().get_fields()
            cls._prototype_fields = prototype  # a race only computes it twice
        fields = copy.deepcopy(prototype)
        for field in fields.values():
            if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
                field.timezone = field.default_timezone()
        return fields

    # Django's cached_property, as DRF's `fields`: functools' takes a lock shared by every
    # instance of the class on Python 3.11.
    @cached_property
    def _readable_fields(self) -> tuple:
        return tuple(field for field in self.fields.values() if not field.write_only)


class BoundedSearchFilter(SearchFilter):
    """DRF's `?search=` with at most MAX_SEARCH_TERMS terms. Each term adds a nested AND
    to the WHERE clause; past ~900 SQLite refuses the expression tree (a 500)."""

    def get_search_terms(self, request):
        try:
            terms = super().get_search_terms(request)
        except exceptions.ValidationError as exc:  # a NUL: named, as every 400 names its field
            raise exceptions.ValidationError({self.search_param: exc.detail}) from None
        if len(terms) > MAX_SEARCH_TERMS:
            message = f"At most {MAX_SEARCH_TERMS} search terms."
            raise exceptions.ValidationError({self.search_param: [message]})
        return terms


class HeaderLimitOffsetPagination(LimitOffsetPagination):
    """Lists stay plain JSON arrays (seed 001 prints `[]`); paging lives in headers:
    `Link: <…>; rel="next"` and `X-Total-Count`. `?limit` above the cap is a 400."""

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request):
        return self._non_negative_int(request, self.limit_query_param, self.default_limit, 1)

    def get_offset(self, request):
        return self._non_negative_int(request, self.offset_query_param, 0, 0)

    def _non_negative_int(self, request, name: str, default: int, minimum: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise exceptions.ValidationError({name: ["A whole number is required."]}) from None
        maximum = self.max_limit if name == self.limit_query_param else MAX_OFFSET
        if not minimum <= value <= maximum:
            message = f"Must be at least {minimum} and at most {maximum}."
            raise exceptions.ValidationError({name: [message]})
        return value

    def paginate_queryset(self, queryset, request, view=None):
        """DRF's, but the page is read first: a page shorter than the limit holds the end
        of the list, so its total needs no count query (most lists of a tenant fit one
        page: one round trip instead of two)."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        page = list(queryset[self.offset : self.offset + self.limit])
        if len(page) < self.limit and (page or self.offset == 0):
            self.count, self.count_exact = self.offset + len(page), True
        else:
            self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return page

    def get_count(self, queryset) -> int:
        """The total, counted no further than LIST_COUNT_CAP rows past the page: counting
        a tenant's millions of event logs would cost more than the page itself. Beyond
        it the answer says `X-Total-Count-At-Least` instead of `X-Total-Count`. A list
        computed in Python (a funnel's users) is counted whole."""
        if isinstance(queryset, list):
            self.count_exact = True
            return len(queryset)
        cap = self.get_offset(self.request) + self.limit + settings.EVENTTRACKER["LIST_COUNT_CAP"]
        count = queryset[:cap].count()  # SELECT count(*) FROM (SELECT … LIMIT cap)
        self.count_exact = count < cap
        return count

    def get_paginated_response(self, data):
        links = []
        if (next_url := self.get_next_link()) is not None:
            links.append(f'<{next_url}>; rel="next"')
        if (previous_url := self.get_previous_link()) is not None:
            links.append(f'<{previous_url}>; rel="prev"')
        exact = getattr(self, "count_exact", True)
        headers = {"X-Total-Count" if exact else "X-Total-Count-At-Least": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema):
        return schema
