"""/api/events/, /api/eventlogs/ (single and batch ingestion, lists), /api/deletions/ and
/api/blocklist/: the events app's API, all tenant-scoped."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import INGEST, READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin, request_actor
from core.openapi import component
from core.rest import RefusedValue
from events.accounting import Reason
from events.blocklist import rules_changed
from events.edge import IngestionMixin
from events.exceptions import Refused, RejectedInput
from events.filters import EventLogFilter
from events.models import BlockRule, DeletionReceipt, Event, EventLog
from events.serializers import (
    BatchQuerySerializer,
    BatchRequestSerializer,
    BatchResponseSerializer,
    BlockRuleSerializer,
    DeletionReceiptSerializer,
    DeletionRequestSerializer,
    EventLogCreateSerializer,
    EventLogSerializer,
    EventSerializer,
    batch_response,
    log_representation,
    row_representation,
)
from events.services import deletion_create, event_delete, event_logs_ingest, stored_log
from events.validation import MAX_BATCH_EVENTS, unstorable_items_refused, validate_batch

DUPLICATE_NAME = "An event with this name already exists."
DUPLICATE_RULE = "The blocklist already has this rule."


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

    def perform_destroy(self, instance):
        # Through the service, not a database cascade: the logs leave a receipt and
        # their share of the rollup, so jobs that follow receipts see the deletion.
        user, key = request_actor(self.request)
        logs = self.scoped(EventLog.objects.all())
        event_delete(tenant=self.tenant, event=instance, logs=logs, created_by=user, api_key=key)

    @staticmethod
    def _save_unique(serializer, **extra) -> None:
        save_unique(serializer, field="name", message=DUPLICATE_NAME, **extra)


def save_unique(serializer, *, field: str, message: str, **extra):
    """Save; a unique-constraint refusal becomes a 400 on `field`. The constraint
    decides, so two concurrent creates cannot both win."""
    try:
        with transaction.atomic():
            return serializer.save(**extra)
    except IntegrityError:
        raise serializers.ValidationError({field: [message]}) from None


class EventLogViewSet(
    IngestionMixin,
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
        user, key = request_actor(request)
        now = timezone.now()
        (receipt,) = event_logs_ingest(
            tenant=self.tenant,
            raw_items=[request.data],
            created_by=user,
            api_key=key,
            now=now,
            enrich=self.enricher(now),
        )
        if receipt.status == "rejected":
            raise RejectedInput(receipt.errors, reason=receipt.reason, counted=True)
        if receipt.status == "accepted":
            answer = row_representation(
                receipt.row, pk=receipt.log_id, event_name=receipt.item.event_name
            )
            return Response(answer, status=status.HTTP_201_CREATED)
        log = stored_log(self.tenant, receipt.uuid)  # a retry: answer what is stored
        return Response(log_representation(log), status=status.HTTP_200_OK)

    @extend_schema(
        request=BatchRequestSerializer,
        parameters=[BatchQuerySerializer],
        responses={
            200: BatchResponseSerializer,
            400: OpenApiResponse(
                {"anyOf": [component(name) for name in ("BatchResponse", "FieldErrors", "Error")]},
                description="Every item rejected, or an atomic batch with a rejected item "
                "(nothing stored): the receipts; a malformed batch: the bad fields or a detail",
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
        envelope, errors = validate_batch(_batch_body(request), now=now)
        if errors:
            raise RejectedInput(errors, reason=errors.reason)
        if len(envelope.events) > MAX_BATCH_EVENTS:
            raise Refused(
                f"A batch may hold at most {MAX_BATCH_EVENTS} events.",
                reason=Reason.TOO_LARGE,
                status=413,
                events=len(envelope.events),
            )
        user, key = request_actor(request)
        receipts = event_logs_ingest(
            tenant=self.tenant,
            raw_items=envelope.events,
            created_by=user,
            api_key=key,
            now=now,
            skew=envelope.skew,
            atomic=query.validated_data["atomic"],
            enrich=self.enricher(now),
        )
        body = batch_response(receipts, skew=envelope.skew)
        stored_any = body["accepted"] or body["duplicate"]
        return Response(
            body, status=status.HTTP_200_OK if stored_any else status.HTTP_400_BAD_REQUEST
        )


def _batch_body(request) -> Any:
    """The batch as sent; one with a value that cannot be stored (a NUL, an integer past
    64 bits) in some items has those items rejected, each receipt naming the value, and
    the others stored, as for any invalid item. Elsewhere in the body, the 400 names it."""
    try:
        return request.data
    except RefusedValue as exc:
        body = unstorable_items_refused(exc.refused.decoded)
        if body is None:
            raise
        return body


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
    every deletion in the tenant (by filter, person erasures, retention purges, deleted
    event types)."""

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


class BlockRuleViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """The tenant's blocklist: events from a matching client address (`ip`: an address
    or CIDR network, IPv4 or IPv6) or User-Agent (`user_agent`: a case-insensitive
    substring) are refused with 403 and counted (`blocked_ip`, `blocked_user_agent`).
    A change applies from the next request on, in every server process."""

    queryset = BlockRule.objects.all()
    serializer_class = BlockRuleSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    filterset_fields = ["kind"]
    search_fields = ["value", "note"]
    ordering_fields = ["id", "kind", "value", "created_at"]
    ordering = ["id"]

    def perform_create(self, serializer):
        self._save(serializer, tenant=self.tenant)

    def perform_update(self, serializer):
        self._save(serializer)

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()
            rules_changed(self.tenant.pk)

    def _save(self, serializer, **extra) -> None:
        with transaction.atomic():
            save_unique(serializer, field="value", message=DUPLICATE_RULE, **extra)
            rules_changed(self.tenant.pk)


_batch = EventLogViewSet.as_view({"post": "batch"}, **EventLogViewSet.batch.kwargs)


@csrf_exempt
def collect(request, name: str):
    """`POST /<name>/e`: the batch route under a name of the tenant's choosing, which
    ad blockers' lists of tracker paths do not hold; its events always count as a web
    page's (bots refused, enriched)."""
    request.web_collect = True
    return _batch(request)


# The batch view checks the body's size, counted and with CORS headers (core.middleware).
collect.checks_body_size = True
