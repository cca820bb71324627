from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import INGEST, READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin, request_actor
from events.filters import EventLogFilter
from events.models import DeletionReceipt, Event, EventLog
from events.serializers import (
    BatchQuerySerializer,
    BatchRequestSerializer,
    BatchResponseSerializer,
    DeletionReceiptSerializer,
    DeletionRequestSerializer,
    EventLogCreateSerializer,
    EventLogSerializer,
    EventSerializer,
    batch_response,
)
from events.services import deletion_create, event_logs_ingest, event_logs_ingest_batch
from events.validation import MAX_BATCH_EVENTS, validate_batch, validate_event
from eventtracker.metrics import count_ingested
from eventtracker.rest import PayloadTooLarge, StrictJSONParser

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
    api_key_roles = READ_OR_ADMIN_WRITES
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
    api_key_roles = {**READ_OR_ADMIN_WRITES, "create": INGEST, "batch": INGEST}
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
            count_ingested({"rejected": 1})
            raise serializers.ValidationError(errors)
        user, key = request_actor(request)
        (receipt,) = event_logs_ingest(
            tenant=self.tenant, items=[item], created_by=user, api_key=key, now=now
        )
        count_ingested({receipt.status: 1})
        if receipt.status == "rejected":
            raise serializers.ValidationError(receipt.errors)
        if receipt.status == "accepted":
            log = receipt.row.to_log(pk=receipt.log_id, event_name=item.event_name)
            return Response(EventLogSerializer(log).data, status=status.HTTP_201_CREATED)
        log = self.get_queryset().get(uuid=receipt.uuid)  # a retry: answer what is stored
        return Response(EventLogSerializer(log).data, status=status.HTTP_200_OK)

    @extend_schema(
        request=BatchRequestSerializer,
        parameters=[BatchQuerySerializer],
        responses={
            200: BatchResponseSerializer,
            400: OpenApiResponse(
                BatchResponseSerializer,
                description="Malformed batch, every item rejected, or an atomic batch with a "
                "rejected item (nothing stored)",
            ),
            413: OpenApiResponse(description="More than 1000 events or more than 1 MiB"),
        },
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request, *args, **kwargs):
        """Up to 1000 events in one request; one receipt per item, in order. A 2xx is
        sent only after the commit; items with a stored uuid are reported `duplicate`."""
        query = BatchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        envelope, errors = validate_batch(request.data, now=now)
        if errors:
            raise serializers.ValidationError(errors)
        if len(envelope.events) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(f"A batch may hold at most {MAX_BATCH_EVENTS} events.")
        user, key = request_actor(request)
        receipts = event_logs_ingest_batch(
            tenant=self.tenant,
            raw_items=envelope.events,
            created_by=user,
            api_key=key,
            now=now,
            skew=envelope.skew,
            atomic=query.validated_data["atomic"],
        )
        body = batch_response(receipts, skew=envelope.skew)
        count_ingested({status: body[status] for status in ("accepted", "duplicate", "rejected")})
        stored_any = body["accepted"] or body["duplicate"]
        return Response(
            body, status=status.HTTP_200_OK if stored_any else status.HTTP_400_BAD_REQUEST
        )


@extend_schema_view(
    create=extend_schema(
        request=DeletionRequestSerializer,
        responses={
            201: DeletionReceiptSerializer,
            400: OpenApiResponse(description="No filter, or a bad one"),
        },
    ),
)
class DeletionViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Deletions of event logs by filter. POST deletes the matching logs (and their share
    of the rollup) in one transaction and answers its receipt; GET lists the receipts of
    every deletion in the tenant (by filter, person erasures, retention purges)."""

    queryset = DeletionReceipt.objects.all()
    serializer_class = DeletionReceiptSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    filterset_fields = ["reason"]
    search_fields: list[str] = []
    ordering_fields = ["id", "created_at", "events_deleted"]
    ordering = ["id"]

    def get_serializer_class(self):
        if self.action == "create":
            return DeletionRequestSerializer
        return DeletionReceiptSerializer

    def create(self, request, *args, **kwargs):
        body = DeletionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        query = body.validated_data
        logs = self.scoped(EventLog.objects.all()).between(query.get("start"), query.get("end"))
        if "event_name" in query:
            logs = logs.filter(event__name=query["event_name"])
        if "distinct_id" in query:
            logs = logs.filter(distinct_id=query["distinct_id"])
        user, key = request_actor(request)
        receipt = deletion_create(
            tenant=self.tenant,
            logs=logs,
            reason=DeletionReceipt.Reason.FILTER,
            filters=dict(body.data),
            created_by=user,
            api_key=key,
        )
        return Response(DeletionReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)
