"""`/api/query`: the query language (insights.spec) over the tenant's logs, answered as
JSON, a streamed CSV or a PNG chart."""

import csv
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import orjson
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from accounts.permissions import EVERY_ROLE, READ
from core import jsonbody
from events.models import EventLog
from insights.engine import run_query
from insights.spec import QueryError, parse_query
from stats.buckets import TooManyBuckets
from stats.charts.spec import ChartSpec
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


class CSVRenderer(BaseRenderer):
    """`text/csv` (`?format=csv`): the view streams the rows itself; errors are JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise TypeError("The query view streams its CSV; nothing else is rendered as CSV.")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(answer: dict) -> Iterator[str]:
    """The answer's rows as CSV, a header first; with a comparison, a `period` column
    tells the current rows from the previous period's."""
    writer = csv.writer(_Echo())
    periods = [("current", answer)]
    if "previous" in answer:
        periods.append(("previous", answer["previous"]))
    header = answer["columns"]
    yield writer.writerow((["period"] if len(periods) > 1 else []) + header)
    for period, part in periods:
        for row in part["rows"]:
            cells = [_cell(row[column]) for column in header]
            yield writer.writerow(([period] if len(periods) > 1 else []) + cells)


def _caption(date_range: dict, tz: ZoneInfo) -> str:
    """The range a chart covers, e.g. "2024-01-01 to 2024-01-31, Asia/Kolkata" (the end
    shown is the last moment included)."""
    start, end = date_range["start"], date_range["end"]
    if start is None and end is None:
        return f"all time, {tz.key}"
    shown_end = None
    if end is not None:
        last = dt.datetime.fromisoformat(end) - dt.timedelta(microseconds=1)
        shown_end = f"{last:%Y-%m-%d}"
    if start is None:
        return f"until {shown_end}, {tz.key}"
    shown_start = start[:10]
    return (
        f"{shown_start} to {shown_end}, {tz.key}" if shown_end else f"from {shown_start}, {tz.key}"
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


@extend_schema(
    parameters=[
        OpenApiParameter(
            "q",
            OpenApiTypes.STR,
            description="GET only: the query as JSON (what POST takes as its body), for links.",
        ),
        OpenApiParameter("format", str, enum=["json", "csv", "png"], description="Answer's format"),
        ChartSizeSerializer,
    ],
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        (200, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="The rows, the total, the query echoed back.",
            examples=[OpenApiExample("uniques by plan per day", value=EXAMPLE_ANSWER)],
        ),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
        304: OpenApiResponse(description="PNG only: `If-None-Match` matched the chart's ETag"),
        400: BAD_QUERY,
    },
    examples=[OpenApiExample("uniques by plan per day", value=EXAMPLE_QUERY, request_only=True)],
)
class QueryView(StatsView):
    """Any count over the tenant's events: metrics (`events`, `uniques`,
    `events_per_user`, `sum`/`avg`/`min`/`max` of a numeric data property) broken down
    by event, data properties and time buckets, with filters, over a date range in any
    time zone. POST the query as JSON, or GET it as `?q=<JSON>`. A bad query answers
    400 naming the path of its bad part (`filters[2][1]`)."""

    queryset = EventLog.objects.all()
    renderer_classes = [*StatsView.renderer_classes, CSVRenderer]
    api_key_roles = {"GET": READ, "HEAD": READ, "OPTIONS": READ, "POST": READ}
    user_roles = {"default": EVERY_ROLE}  # a query changes nothing: viewers may POST one
    chart_kind = "query"

    def get(self, request, *args, **kwargs):
        raw = request.query_params.get("q")
        if raw is None:
            raise ValidationError({"q": ['The query as JSON, e.g. q={"metrics":["events"]}.']})
        try:
            decoded = jsonbody.loads(raw.encode())
        except jsonbody.JSONBodyError as exc:
            raise ValidationError({"q": [str(exc)]}) from None
        return self.answer(decoded)

    def post(self, request, *args, **kwargs):
        return self.answer(request.data)

    def answer(self, raw) -> Response:
        size = ChartSizeSerializer(data=self.request.query_params)
        size.is_valid(raise_exception=True)
        try:
            query = parse_query(raw)
            tz = query.tz or ZoneInfo(self.tenant.timezone)
            answer = run_query(query, logs=self.get_queryset(), tz=tz, now=timezone.now())
        except QueryError as exc:
            raise ValidationError({exc.path: [exc.message]}) from None
        except TooManyBuckets as exc:
            index = next(i for i, dim in enumerate(query.breakdown) if dim.interval)
            raise ValidationError({f"breakdown[{index}]": [str(exc)]}) from None
        if isinstance(self.request.accepted_renderer, CSVRenderer):
            response = StreamingHttpResponse(csv_lines(answer), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="query.csv"'
            return response
        self.parsed = query
        self.caption = _caption(answer["date_range"], tz)
        options = {"q": orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode(), **size.data}
        return self.respond(answer, tz=tz, query=options, source="raw")

    def chart_spec(self, tz: ZoneInfo, query: dict) -> ChartSpec:
        return ChartSpec(
            kind="query",
            width=query["width"],
            height=query["height"],
            interval=self.parsed.time.interval if self.parsed.time else "day",
            tz=tz.key,
            caption=self.caption,
        )

    def finalize_response(self, request, response, *args, **kwargs):
        # A CSV is only ever the streamed rows; any other answer asked as CSV is JSON.
        if isinstance(getattr(request, "accepted_renderer", None), CSVRenderer) and not (
            isinstance(response, StreamingHttpResponse)
        ):
            json_renderer = self.renderer_classes[0]()
            request.accepted_renderer = json_renderer
            request.accepted_media_type = json_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
