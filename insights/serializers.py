"""Parameters and answers of the insight routes, and the saved insights, dashboards and
annotations."""

from django.urls import reverse
from rest_framework import serializers

from accounts.tenancy import TenantScopedPrimaryKeyRelatedField
from core.rest import ChangedColumnsMixin, StrictFieldsMixin, StrictQueryMixin
from core.rows import save_columns
from insights.boards import PARSERS, tiles_of
from insights.models import Dashboard, DashboardTile, Insight
from insights.spec import QueryError, parse_date_range, parse_zone
from stats.models import Annotation
from stats.serializers import ChartSizeSerializer

# The longest breakdown value a dropped-users link carries (as JSON): a request line is
# at most 4 KiB once encoded, the funnel's own JSON included.
MAX_VALUE_LENGTH = 200
# A dashboard's tiles are all computed for its shared page: as many as a screen shows
# (Mixpanel and PostHog stop at about as many).
MAX_TILES = 50


class FunnelUsersQuerySerializer(StrictQueryMixin, serializers.Serializer):
    _FORM_KEYS = StrictQueryMixin._FORM_KEYS | {"limit", "offset"}  # the pagination's

    q = serializers.CharField(help_text="The funnel as JSON (what POST /api/funnels takes).")
    step = serializers.IntegerField(min_value=2, max_value=20, help_text="A step, from 2.")
    status = serializers.ChoiceField(
        choices=["dropped", "converted"],
        default="dropped",
        help_text="dropped: reached the step before, not this one; converted: reached it.",
    )
    value = serializers.CharField(
        required=False,
        max_length=MAX_VALUE_LENGTH,
        help_text="With a breakdown: only the users of this value, as JSON (a row's `value`).",
    )


class InsightQuerySerializer(StrictQueryMixin, ChartSizeSerializer):
    """The query string of a POSTed insight: a chart's size (and DRF's `format`); any
    other parameter, or one given twice, is a 400 naming it, as on the stats routes."""


class InsightLinkQuerySerializer(InsightQuerySerializer):
    """An insight as a link (GET): `q` too, read by the view (insights.views.decoded_q)."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The insight as JSON (what POST takes as its body).",
    )


class DashboardParameterSerializer(InsightQuerySerializer):
    """A saved insight's results: a chart's size, and the dashboard to read it over."""

    dashboard = serializers.IntegerField(
        required=False, min_value=1, help_text="Read over this dashboard's range and zone."
    )


class FunnelUserSerializer(serializers.Serializer):
    distinct_id = serializers.CharField()


class InsightBodySerializer(serializers.Serializer):
    """An insight's JSON body, free-form: insights.spec and insights.funnels read it and
    name its bad parts. (The browsable API's form starts from this empty object.)"""


KIND_CHARTS = {
    Insight.Kind.QUERY: (Insight.Chart.LINE, Insight.Chart.BAR, Insight.Chart.TABLE),
    Insight.Kind.FUNNEL: (Insight.Chart.FUNNEL, Insight.Chart.TABLE),
    Insight.Kind.RETENTION: (Insight.Chart.HEATMAP, Insight.Chart.TABLE),
}


class InsightSerializer(StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer):
    """A saved query, funnel or retention table: `definition` is what its route takes
    (checked as the route checks it: a bad part is a 400 naming
    `definition.<path>`); `chart` one the kind can be drawn as (default: lines for a
    query with a time breakdown, else bars; a funnel's bars; a retention heat map)."""

    results = serializers.SerializerMethodField(help_text="Its answer, computed now.")

    class Meta:
        model = Insight
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "definition",
            "chart",
            "results",
            "created_at",
            "modified_at",
        ]
        read_only_fields = ["id", "created_at", "modified_at"]
        extra_kwargs = {"chart": {"required": False}}

    def get_results(self, insight: Insight) -> str:
        request = self.context.get("request")
        path = reverse("insight-results", kwargs={"pk": insight.pk})
        return request.build_absolute_uri(path) if request else path

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        definition = attrs.get("definition", getattr(self.instance, "definition", None))
        try:
            parsed = PARSERS[kind](definition)
        except QueryError as exc:
            raise serializers.ValidationError({f"definition.{exc.path}": [exc.message]}) from None
        chart = attrs.get("chart") or getattr(self.instance, "chart", None)
        if "chart" not in attrs and (self.instance is None or "kind" in attrs):
            chart = _default_chart(kind, parsed)
        if chart not in KIND_CHARTS[kind]:
            allowed = ", ".join(KIND_CHARTS[kind])
            raise serializers.ValidationError({"chart": [f"A {kind} is drawn as {allowed}."]})
        attrs["chart"] = chart
        return attrs


def _default_chart(kind: str, parsed) -> str:
    if kind == Insight.Kind.QUERY:
        return Insight.Chart.LINE if parsed.time is not None else Insight.Chart.BAR
    return KIND_CHARTS[kind][0]


class DashboardSerializer(StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer):
    """Ordered tiles of the tenant's insights (`insights`: their ids, in order), read over
    `date_range` and `tz` when set (else each insight's own). `share_url`: the read-only
    link, when shared (POST …/share to share, DELETE to revoke)."""

    insights = TenantScopedPrimaryKeyRelatedField(
        queryset=Insight.objects.all(), many=True, required=False
    )
    share_url = serializers.SerializerMethodField()

    class Meta:
        model = Dashboard
        fields = [
            "id",
            "name",
            "description",
            "insights",
            "date_range",
            "tz",
            "share_url",
            "created_at",
            "modified_at",
        ]
        read_only_fields = ["id", "share_url", "created_at", "modified_at"]

    def to_representation(self, dashboard: Dashboard):
        data = super().to_representation(dashboard)
        cached = getattr(dashboard, "_prefetched_objects_cache", {})
        tiles = cached["tiles"] if "tiles" in cached else tiles_of(dashboard)
        data["insights"] = [tile.insight_id for tile in tiles]
        return data

    def to_internal_value(self, data):
        # Counted before each id is looked up (a query apiece).
        insights = data.get("insights") if isinstance(data, dict) else None
        if isinstance(insights, list) and len(insights) > MAX_TILES:
            raise serializers.ValidationError(
                {"insights": [f"At most {MAX_TILES} tiles on a dashboard."]}
            )
        return super().to_internal_value(data)

    def get_share_url(self, dashboard: Dashboard) -> str | None:
        if dashboard.share_token is None:
            return None
        request = self.context.get("request")
        path = reverse("share", kwargs={"token": dashboard.share_token})
        return request.build_absolute_uri(path) if request else path

    def validate_date_range(self, value):
        if value is None:
            return value
        try:
            parse_date_range(value)
        except QueryError as exc:
            raise serializers.ValidationError(exc.message) from None
        return value

    def validate_tz(self, value: str) -> str:
        if value:
            try:
                parse_zone(value)
            except QueryError as exc:
                raise serializers.ValidationError(exc.message) from None
        return value

    def create(self, validated_data):
        insights = validated_data.pop("insights", [])
        dashboard = super().create(validated_data)
        _set_tiles(dashboard, insights)
        return dashboard

    def update(self, dashboard, validated_data):
        insights = validated_data.pop("insights", None)
        dashboard = super().update(dashboard, validated_data)
        if insights is not None:
            _set_tiles(dashboard, insights)
            if not validated_data:  # only the tiles: the stamp still says when
                save_columns(dashboard, [])
        return dashboard


def _set_tiles(dashboard: Dashboard, insights: list[Insight]) -> None:
    # One DELETE with the tenant in its condition (one shard on Citus): the collector
    # behind QuerySet.delete() would delete by id alone, as a pre_delete receiver is
    # connected for every model, and tiles have no relations or signals to honour.
    tiles = tiles_of(dashboard)
    tiles._raw_delete(tiles.db)
    DashboardTile.objects.bulk_create(
        DashboardTile(
            tenant_id=dashboard.tenant_id, dashboard=dashboard, insight=insight, position=index
        )
        for index, insight in enumerate(insights)
    )


class AnnotationSerializer(StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer):
    """A dated note (`at`: an ISO 8601 datetime, naive means UTC) shown as a marker on
    every time chart of the tenant whose range holds it."""

    class Meta:
        model = Annotation
        fields = ["id", "at", "text", "created_at"]
        read_only_fields = ["id", "created_at"]
