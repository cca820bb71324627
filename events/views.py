from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from accounts.tenancy import TenantScopedMixin
from events.filters import EventLogFilter
from events.models import Event, EventLog
from events.serializers import EventLogCreateSerializer, EventLogSerializer, EventSerializer
from events.services import event_logs_ingest
from events.validation import validate_event
from eventtracker.rest import StrictJSONParser

DUPLICATE_NAME = "An event with this name already exists."


@extend_schema_view(
    create=extend_schema(
        responses={
            201: EventSerializer,
            400: OpenApiResponse(description="Bad input or duplicate name"),
        }
    ),
)
class EventViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """The tenant's event definitions. `?search=` looks in name and description."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at", "modified_at"]
    ordering = ["id"]

    def perform_create(self, serializer):
        self._save_unique(serializer, tenant=self.tenant)

    def perform_update(self, serializer):
        self._save_unique(serializer)

    @staticmethod
    def _save_unique(serializer, **extra) -> None:
        # The unique constraint decides, so two concurrent creates cannot both win.
        try:
            with transaction.atomic():
                serializer.save(**extra)
        except IntegrityError:
            raise serializers.ValidationError({"name": [DUPLICATE_NAME]}) from None


class EventLogViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Event logs: append-only occurrences of the tenant's events."""

    queryset = EventLog.objects.all()
    serializer_class = EventLogSerializer
    filterset_class = EventLogFilter
    parser_classes = [StrictJSONParser]
    search_fields: list[str] = []
    ordering_fields = ["id", "timestamp", "received_at"]
    ordering = ["id"]

    def scope_queryset(self, queryset):
        return queryset.select_related("event")

    def get_serializer_class(self):
        if self.action == "create":
            return EventLogCreateSerializer
        return EventLogSerializer

    @extend_schema(
        request=EventLogCreateSerializer,
        responses={
            201: EventLogSerializer,
            200: OpenApiResponse(EventLogSerializer, description="Repeat of a stored uuid"),
            400: OpenApiResponse(description="Field errors"),
        },
    )
    def create(self, request, *args, **kwargs):
        now = timezone.now()
        item, errors = validate_event(request.data, now=now)
        if errors:
            raise serializers.ValidationError(errors)
        (receipt,) = event_logs_ingest(
            tenant=self.tenant, items=[item], created_by=request.user, now=now
        )
        if receipt.status == "rejected":
            raise serializers.ValidationError(receipt.errors)
        log = self.get_queryset().get(uuid=receipt.uuid)
        code = status.HTTP_201_CREATED if receipt.status == "accepted" else status.HTTP_200_OK
        return Response(EventLogSerializer(log).data, status=code)
