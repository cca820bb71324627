"""The insight routes: `/api/query`, `/api/funnels` (and the users of a step),
`/api/retention` and a saved insight's results, each answered as JSON, a streamed CSV
or a PNG chart; and the resources `/api/insights/`, `/api/dashboards/` (with their
share links) and `/api/annotations/`."""

import datetime as dt
import json
import math
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from django.db import transaction
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from accounts.permissions import EVERY_ROLE, READ, READ_ONLY, READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin, request_actor, tenant_stamp
from core import jsonbody
from core.csvcells import CSVLines
from core.ranges import MICROSECOND
from events.models import EventLog
from events.usersets import tenant_sets
from insights.boards import over_dashboard
from insights.engine import run_query
from insights.funnels import (
    Funnel,
    funnel_window,
    journey_value_key,
    parse_funnel,
    run_funnel,
    user_journeys,
    value_key,
)
from insights.models import Dashboard, DashboardTile, Insight
from insights.retention import Retention, parse_retention, run_retention
from insights.serializers import (
    MAX_VALUE_LENGTH,
    AnnotationSerializer,
    DashboardParameterSerializer,
    DashboardSerializer,
    FunnelUserSerializer,
    FunnelUsersQuerySerializer,
    InsightBodySerializer,
    InsightLinkQuerySerializer,
    InsightQuerySerializer,
    InsightSerializer,
)
from insights.spec import Query, QueryError, parse_query
from stats.buckets import TooManyBuckets
from stats.charts.spec import ChartSpec
from stats.models import Annotation
from stats.serializers import ChartSizeSerializer
from stats.views import BAD_QUERY, StatsView

EXAMPLE_QUERY = {
    "metrics": ["events", "uniques"],
    "breakdown": ["data.plan", "time:day"],
    "filters": [["eq", "event", "purchase"], ["gte", "data.amount", 10]],
    "date_range": "30d",
    "tz": "Asia/Kolkata",
    "limit": 5,
}
EXAMPLE_ANSWER = {
    "query": EXAMPLE_QUERY,
    "tz": "Asia/Kolkata",
    "date_range": {"start": "2026-10-28T00:00:00+05:30", "end": "2026-11-27T00:00:00+05:30"},
    "columns": ["data.plan", "time:day", "events", "uniques"],
    "rows": [{"data.plan": "pro", "time:day": "2026-10-28", "events": 12, "uniques": 9}],
    "total": {"events": 310, "uniques": 141},
    "series": {"count": 3, "shown": 3, "other": 0},
}


EXAMPLE_FUNNEL = {
    "steps": [
        {"event": "signup"},
        {"event": "purchase", "filters": [["gt", "data.amount", 10]]},
    ],
    "window": "14d",
    "order": "ordered",
    "date_range": "30d",
}
EXAMPLE_FUNNEL_ANSWER = {
    "query": EXAMPLE_FUNNEL,
    "tz": "UTC",
    "date_range": {"start": "2026-10-28T00:00:00+00:00", "end": "2026-11-27T00:00:00+00:00"},
    "steps": [
        {
            "step": 1,
            "event": "signup",
            "users": 120,
            "conversion_from_first": 1.0,
            "conversion_from_previous": 1.0,
            "dropped": 0,
            "median_seconds": None,
            "p90_seconds": None,
        },
        {
            "step": 2,
            "event": "purchase",
            "users": 30,
            "conversion_from_first": 0.25,
            "conversion_from_previous": 0.25,
            "dropped": 90,
            "median_seconds": 5400.0,
            "p90_seconds": 259200.0,
            "dropped_users": "https://…/api/funnels/users?q=…&step=2",
        },
    ],
}


EXAMPLE_RETENTION = {
    "cohort": {"event": "signup", "type": "first"},
    "return": {"event": "purchase"},
    "period": "week",
    "periods": 4,
    "date_range": "30d",
}
EXAMPLE_RETENTION_ANSWER = {
    "query": EXAMPLE_RETENTION,
    "tz": "UTC",
    "date_range": {"start": "2026-10-28T00:00:00+00:00", "end": "2026-11-27T00:00:00+00:00"},
    "period": "week",
    "cohorts": [
        {"cohort": "2026-10-26", "users": 40, "values": [40, 12, 9, 7, 6], "shares": [1.0, 0.3]},
        {"cohort": "2026-11-23", "users": 25, "values": [25], "shares": [1.0]},
    ],
    "average": {"values": [65, 12, 9, 7, 6], "shares": [1.0, 0.3, 0.225, 0.175, 0.15]},
}


SAVED_RESULTS = {
    (200, "application/json"): OpenApiResponse(
        OpenApiTypes.OBJECT, description="As its route answers (query, funnel, retention)."
    ),
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
    304: OpenApiResponse(description="PNG only: `If-None-Match` matched the chart's ETag"),
    400: BAD_QUERY,
    404: OpenApiResponse(description="No such insight (or dashboard) of this tenant"),
}


class CSVRenderer(BaseRenderer):
    """`text/csv` (`?format=csv`): the view streams the rows itself; errors are JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise TypeError("The query view streams its CSV; nothing else is rendered as CSV.")


def csv_lines(answer: dict) -> Iterator[str]:
    """The answer's rows as CSV, a header first; with a comparison, a `period` column
    tells the current rows from the previous period's."""
    writer = CSVLines()
    periods = [("current", answer)]
    if "previous" in answer:
        periods.append(("previous", answer["previous"]))
    header = answer["columns"]
    yield writer.line((["period"] if len(periods) > 1 else []) + header)
    for period, part in periods:
        for row in part["rows"]:
            cells = [row[column] for column in header]
            yield writer.line(([period] if len(periods) > 1 else []) + cells)


FUNNEL_COLUMNS = (
    "step",
    "event",
    "users",
    "conversion_from_first",
    "conversion_from_previous",
    "dropped",
    "median_seconds",
    "p90_seconds",
)


def funnel_csv_lines(answer: dict) -> Iterator[str]:
    """A funnel's steps as CSV; with a breakdown, a `breakdown` column first and the
    steps of each value."""
    writer = CSVLines()
    groups = [(None, answer["steps"])]
    if "breakdown" in answer:
        groups = [(group["value"], group["steps"]) for group in answer["breakdown"]]
    prefix = ["breakdown"] if "breakdown" in answer else []
    yield writer.line([*prefix, *FUNNEL_COLUMNS])
    for value, steps in groups:
        for step in steps:
            cells = [step[column] for column in FUNNEL_COLUMNS]
            yield writer.line(([value] if prefix else []) + cells)


def retention_csv_lines(answer: dict) -> Iterator[str]:
    """One line per cohort: its first day, its users, then the returns per period."""
    writer = CSVLines()
    width = max((len(row["values"]) for row in answer["cohorts"]), default=1)
    yield writer.line(["cohort", "users", *(f"period_{n}" for n in range(width))])
    for row in answer["cohorts"]:
        yield writer.line([row["cohort"], row["users"], *row["values"]])


def _caption(date_range: dict, tz: ZoneInfo) -> str:
    """The range a chart covers, e.g. "2024-01-01 to 2024-01-31, Asia/Kolkata" (the end
    shown is the last moment included)."""
    start, end = date_range["start"], date_range["end"]
    if start is None and end is None:
        return f"all time, {tz.key}"
    shown_end = None
    if end is not None:
        last = dt.datetime.fromisoformat(end) - MICROSECOND
        shown_end = f"{last:%Y-%m-%d}"
    if start is None:
        return f"until {shown_end}, {tz.key}"
    shown_start = start[:10]
    return (
        f"{shown_start} to {shown_end}, {tz.key}" if shown_end else f"from {shown_start}, {tz.key}"
    )


def insight_schema(*, name: str, example: dict, answer: dict):
    """The OpenAPI of an insight route: POST the JSON, or GET it as `q`; JSON, CSV, PNG."""
    return extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description=f"GET only: the {name} as JSON (what POST takes as its body).",
            ),
            OpenApiParameter(
                "format", str, enum=["json", "csv", "png"], description="Answer's format"
            ),
            ChartSizeSerializer,
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=(
                    f"The answer, with the {name} echoed back. As `text/csv` or `image/png` "
                    "(`?format=`, a `.csv` or `.png` suffix, or `Accept`): its rows, or its "
                    "chart, with an `ETag`."
                ),
                examples=[OpenApiExample(name, value=answer)],
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            304: OpenApiResponse(description="PNG only: `If-None-Match` matched the chart's ETag"),
            400: BAD_QUERY,
        },
        examples=[OpenApiExample(name, value=example, request_only=True)],
    )


def decoded_q(request) -> Any:
    """The JSON of a GET's `q` parameter (an insight as a link)."""
    raw = request.query_params.get("q")
    if raw is None:
        raise ValidationError({"q": ['The query as JSON, e.g. q={"metrics":["events"]}.']})
    try:
        return jsonbody.loads(raw.encode())
    except jsonbody.JSONBodyError as exc:
        raise ValidationError({"q": [str(exc)]}) from None


class InsightView(StatsView):
    """Base of the insight routes: the insight as a POST body or a GET's `q`, parsed
    (`parse`), computed over the tenant's logs (`compute`) and answered as JSON, a
    streamed CSV (`csv_lines`) or a PNG chart of `chart_kind`. A bad part of the
    insight answers 400 naming its path."""

    queryset = EventLog.objects.all()
    renderer_classes = [*StatsView.renderer_classes, CSVRenderer]
    api_key_roles = {**READ_ONLY, "POST": READ}
    user_roles = {"default": EVERY_ROLE}  # an insight changes nothing: viewers may POST one
    serializer_class = InsightBodySerializer
    query_serializer_class = InsightQuerySerializer  # POST's query string
    link_serializer_class = InsightLinkQuerySerializer  # GET's
    csv_name = "insight.csv"

    def parse(self, raw: Any) -> Any:
        raise NotImplementedError

    def compute(self, parsed: Any, *, tz: ZoneInfo) -> dict:
        raise NotImplementedError

    def csv_lines(self, answer: dict) -> Iterator[str]:
        raise NotImplementedError

    def interval(self, parsed: Any) -> str:
        return "day"

    def get(self, request, *args, **kwargs):
        params = self.query()
        return self.answer(decoded_q(request), params)

    def post(self, request, *args, **kwargs):
        return self.answer(request.data, self.query())

    def query(self) -> dict:
        """The query string, checked: unknown parameters and repeated ones are 400s."""
        reads_link = self.request.method in ("GET", "HEAD")
        serializer_class = self.link_serializer_class if reads_link else self.query_serializer_class
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, raw, params: dict) -> Response:
        size = {"width": params["width"], "height": params["height"]}
        try:
            parsed = self.parse(raw)
            tz = parsed.tz or ZoneInfo(self.tenant.timezone)
            answer = self.compute(parsed, tz=tz)
        except QueryError as exc:
            raise ValidationError({exc.path: [exc.message]}) from None
        if isinstance(self.request.accepted_renderer, CSVRenderer):
            # The charset is said: text/csv alone means US-ASCII (RFC 2046), and names
            # and property values are UTF-8.
            response = StreamingHttpResponse(
                self.csv_lines(answer), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{self.csv_name}"'
            return response
        self.chart_interval = self.interval(parsed)
        self.caption = _caption(answer["date_range"], tz)
        options = {"q": orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode(), **size}
        return self.respond(answer, tz=tz, query=options, source="raw")

    def chart_spec(self, tz: ZoneInfo, query: dict) -> ChartSpec:
        return ChartSpec(
            kind=self.chart_kind,
            width=query["width"],
            height=query["height"],
            interval=self.chart_interval,
            tz=tz.key,
            caption=self.caption,
        )

    def chart_range(self, query: dict, tz: ZoneInfo, data) -> tuple:
        bounds = data["date_range"]
        return tuple(None if b is None else dt.datetime.fromisoformat(b) for b in bounds.values())

    def finalize_response(self, request, response, *args, **kwargs):
        # A CSV is only ever the streamed rows; any other answer asked as CSV is JSON.
        if isinstance(getattr(request, "accepted_renderer", None), CSVRenderer) and not (
            isinstance(response, StreamingHttpResponse)
        ):
            json_renderer = self.renderer_classes[0]()
            request.accepted_renderer = json_renderer
            request.accepted_media_type = json_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


@insight_schema(name="query", example=EXAMPLE_QUERY, answer=EXAMPLE_ANSWER)
class QueryView(InsightView):
    """Any count over the tenant's events: metrics (`events`, `uniques`,
    `events_per_user`, `sum`/`avg`/`min`/`max` of a numeric data property) broken down
    by event, data properties and time buckets, with filters, over a date range in any
    time zone. POST the query as JSON, or GET it as `?q=<JSON>`. A bad query answers
    400 naming the path of its bad part (`filters[2][1]`)."""

    chart_kind = "query"
    csv_name = "query.csv"

    def parse(self, raw: Any) -> Query:
        return parse_query(raw)

    def compute(self, parsed: Query, *, tz: ZoneInfo) -> dict:
        try:
            return run_query(
                parsed,
                logs=self.get_queryset(),
                tz=tz,
                now=timezone.now(),
                sets=tenant_sets(self.scoped),
            )
        except TooManyBuckets as exc:
            index = next(i for i, dim in enumerate(parsed.breakdown) if dim.interval)
            raise QueryError(f"breakdown[{index}]", str(exc)) from None

    def csv_lines(self, answer: dict) -> Iterator[str]:
        return csv_lines(answer)

    def interval(self, parsed: Query) -> str:
        return parsed.time.interval if parsed.time else "day"


@insight_schema(name="funnel", example=EXAMPLE_FUNNEL, answer=EXAMPLE_FUNNEL_ANSWER)
class FunnelView(InsightView):
    """How many users go through 2-20 steps (events, each with optional filters) in
    order (`ordered`, `strict`, or `any`) within a conversion `window` (1m-90d): per
    step the users, the conversion from the first and the previous step, the median
    and p90 time from the previous step, and the users who dropped off (`dropped_users`:
    a link that lists them). `breakdown`: the same per value of a property of the
    first step's event."""

    chart_kind = "funnel"
    csv_name = "funnel.csv"

    def parse(self, raw: Any) -> Funnel:
        return parse_funnel(raw)

    def compute(self, parsed: Funnel, *, tz: ZoneInfo) -> dict:
        answer = run_funnel(parsed, logs=self.get_queryset(), tz=tz, now=timezone.now())
        link = self.request.build_absolute_uri(reverse("funnel-users"))
        q = orjson.dumps(parsed.echo).decode()

        def dropped_users(step: dict, **narrowed: str) -> str:
            return f"{link}?{urlencode({'q': q, 'step': step['step'], **narrowed})}"

        for step in answer["steps"][1:]:
            step["dropped_users"] = dropped_users(step)
        # A row past `limit` sums the values beyond it: it has no one value to link; nor
        # has a value too long for a link.
        for row in answer.get("breakdown", [])[: parsed.limit]:
            value = value_key(row["value"])
            if len(value) > MAX_VALUE_LENGTH:
                continue
            for step in row["steps"][1:]:
                step["dropped_users"] = dropped_users(step, value=value)
        return answer

    def csv_lines(self, answer: dict) -> Iterator[str]:
        return funnel_csv_lines(answer)


@insight_schema(name="retention", example=EXAMPLE_RETENTION, answer=EXAMPLE_RETENTION_ANSWER)
class RetentionView(InsightView):
    """Of the users who did `cohort.event` in a period (their first time, or any time),
    how many did `return.event` (any event when null) in each of the `periods` periods
    after (day, week or month): one row per cohort, the classic triangle."""

    chart_kind = "retention"
    csv_name = "retention.csv"

    def parse(self, raw: Any) -> Retention:
        return parse_retention(raw)

    def compute(self, parsed: Retention, *, tz: ZoneInfo) -> dict:
        return run_retention(parsed, logs=self.get_queryset(), tz=tz, now=timezone.now())

    def csv_lines(self, answer: dict) -> Iterator[str]:
        return retention_csv_lines(answer)

    def interval(self, parsed: Retention) -> str:
        return parsed.period


class FunnelUsersView(TenantScopedMixin, generics.ListAPIView):
    """The distinct_ids of a funnel's users at one step (`q`: the funnel as JSON, `step`):
    `status=dropped` (default) those who reached the step before and not this one,
    `converted` those who reached it; with `value` (JSON), only those whose breakdown
    value it is; sorted, paginated (`limit`, `offset`)."""

    queryset = EventLog.objects.all()
    api_key_roles = READ_ONLY
    filter_backends: list = []
    serializer_class = FunnelUserSerializer

    @extend_schema(parameters=[FunnelUsersQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        params = FunnelUsersQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            funnel = parse_funnel(decoded_q(request))
            tz = funnel.tz or ZoneInfo(self.tenant.timezone)
            window = funnel_window(funnel, tz=tz, now=timezone.now())
        except QueryError as exc:
            raise ValidationError({exc.path: [exc.message]}) from None
        step = params.validated_data["step"]
        if step > len(funnel.steps):
            raise ValidationError({"step": [f"The funnel has {len(funnel.steps)} steps."]})
        value = params.validated_data.get("value")
        wanted = None if value is None else _breakdown_value_key(funnel, value)
        journeys = user_journeys(funnel, logs=self.get_queryset(), window=window)
        if wanted is not None:
            journeys = {
                user: journey
                for user, journey in journeys.items()
                if journey_value_key(funnel, journey) == wanted
            }
        if params.validated_data["status"] == "dropped":
            users = [u for u, j in journeys.items() if len(j.instants) == step - 1]
        else:
            users = [u for u, j in journeys.items() if len(j.instants) >= step]
        rows = [{"distinct_id": user} for user in sorted(users)]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(page)


def _breakdown_value_key(funnel: Funnel, value: str) -> str:
    """The value_key of a `value` parameter (JSON), or a 400."""
    if funnel.breakdown is None:
        raise ValidationError({"value": ["The funnel has no breakdown."]})
    try:
        # The standard library's parser: a data value may be an integer past 64 bits.
        # No value is NaN or infinite (ingestion refuses them): json.loads reads NaN,
        # Infinity and 1e999 as floats, which would match nothing.
        return value_key(json.loads(value, parse_constant=_not_json, parse_float=_finite))
    except (ValueError, RecursionError):
        raise ValidationError({"value": ["Is not JSON: a breakdown row's value."]}) from None


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not JSON.")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond the numbers a value holds.")
    return number


class SavedInsightView(InsightView):
    """A saved insight's answer, computed now: JSON, CSV (`.csv`) or its chart (`.png`);
    `?dashboard=<id>` reads it over that dashboard's date range and zone. Another
    tenant's insight is a 404."""

    kinds = {"query": QueryView, "funnel": FunnelView, "retention": RetentionView}
    http_method_names = ["get", "head", "options"]  # the insight is saved: nothing to POST

    link_serializer_class = DashboardParameterSerializer

    @extend_schema(parameters=[DashboardParameterSerializer], responses=SAVED_RESULTS)
    def get(self, request, *args, pk: int, **kwargs):
        params = self.query()
        insight = get_object_or_404(self.scoped(Insight.objects.all()), pk=pk)
        definition = dict(insight.definition)
        if (dashboard_id := params.get("dashboard")) is not None:
            dashboard = get_object_or_404(self.scoped(Dashboard.objects.all()), pk=dashboard_id)
            definition = over_dashboard(definition, dashboard)
        return self.answer_as(insight.kind, definition, params)

    def answer_as(self, kind: str, definition: dict, params: dict) -> Response:
        self.kind_view = self.kinds[kind]
        self.chart_kind = self.kind_view.chart_kind
        self.csv_name = self.kind_view.csv_name
        return self.answer(definition, params)

    def parse(self, raw):
        return self.kind_view.parse(self, raw)

    def compute(self, parsed, *, tz):
        return self.kind_view.compute(self, parsed, tz=tz)

    def csv_lines(self, answer):
        return self.kind_view.csv_lines(self, answer)

    def interval(self, parsed):
        return self.kind_view.interval(self, parsed)


class MadeByTheRequest(TenantScopedMixin):
    """Creates rows of the request's tenant, made by its user (None for an API key), in
    one transaction with what the serializer writes beside them (a dashboard's tiles)."""

    def perform_create(self, serializer) -> None:
        with transaction.atomic():
            serializer.save(
                **tenant_stamp(self.queryset.model, self.tenant),
                created_by=request_actor(self.request)[0],
            )


class InsightViewSet(MadeByTheRequest, viewsets.ModelViewSet):
    """The tenant's saved insights: a name, a `kind` (query, funnel, retention), its
    `definition` (the body its route takes) and `chart`; `results` links to its answer."""

    queryset = Insight.objects.all()
    serializer_class = InsightSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    filterset_fields = ["kind"]
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at", "modified_at"]
    ordering = ["id"]


class DashboardViewSet(MadeByTheRequest, viewsets.ModelViewSet):
    """The tenant's dashboards: ordered tiles of insights (`insights`, their ids), over a
    dashboard-wide `date_range` and `tz` when set. `POST …/share` makes a read-only
    link (`share_url`, no login: `/share/<token>`); `DELETE …/share` revokes it."""

    queryset = Dashboard.objects.all()
    serializer_class = DashboardSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at", "modified_at"]
    ordering = ["id"]

    def scope_queryset(self, queryset):
        # The tiles of every listed dashboard, read within the tenant (one shard on Citus).
        tiles = self.scoped(DashboardTile.objects.all())
        return queryset.prefetch_related(Prefetch("tiles", queryset=tiles))

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    @extend_schema(request=None, responses={200: DashboardSerializer, 204: None})
    @action(detail=True, methods=["post", "delete"])
    def share(self, request, pk=None):
        dashboard = self.get_object()
        if request.method == "DELETE":
            dashboard.share_token = None
            dashboard.save(update_fields=["share_token", "modified_at"])
            return Response(status=status.HTTP_204_NO_CONTENT)
        if dashboard.share_token is None:
            dashboard.share_token = secrets.token_urlsafe(24)
            dashboard.save(update_fields=["share_token", "modified_at"])
        return Response(self.get_serializer(dashboard).data)


class AnnotationViewSet(MadeByTheRequest, viewsets.ModelViewSet):
    """Dated notes of the tenant ("launched v2"), drawn on every time chart whose range
    holds them."""

    queryset = Annotation.objects.all()
    serializer_class = AnnotationSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    search_fields = ["text"]
    ordering_fields = ["id", "at"]
    ordering = ["at", "id"]
