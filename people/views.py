"""/api/people/: profiles by distinct_id, export, erasure and deletion of a person's events."""

from contextlib import contextmanager

from django.db import IntegrityError, router, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.permissions import READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin, request_actor
from events.models import DeletionReceipt, EventLog, UserNumber
from events.serializers import DeletionReceiptSerializer
from people.filters import PersonFilter
from people.models import Person
from people.selectors import person_export
from people.serializers import (
    ErasureSerializer,
    NoQuerySerializer,
    PersonDeleteQuerySerializer,
    PersonListQuerySerializer,
    PersonSerializer,
    UserEventsDeletedSerializer,
)
from people.services import person_erase, user_events_delete
from stats.models import UserActivityPeriod

DUPLICATE = "A person with this {field} already exists."
DUPLICATE_400 = OpenApiResponse(description="Bad input, or a duplicate distinct_id or email")


@extend_schema_view(
    create=extend_schema(responses={201: PersonSerializer, 400: DUPLICATE_400}),
    partial_update=extend_schema(responses={200: PersonSerializer, 400: DUPLICATE_400}),
    update=extend_schema(responses={200: PersonSerializer, 400: DUPLICATE_400}),
)
class PersonViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """The tenant's people (personal data, kept in the pii database), addressed by
    `distinct_id`, the id their events carry. `?search=` looks in every text field;
    `?email=` finds one by email, ignoring case."""

    queryset = Person.objects.all()
    serializer_class = PersonSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    lookup_field = "distinct_id"
    lookup_value_regex = r"[^/\x00]+"  # no NUL: PostgreSQL's text cannot hold one (a 404)
    filterset_class = PersonFilter
    search_fields = ["distinct_id", "email", "username", "first_name", "last_name", "phone"]
    ordering_fields = ["id", "created_at", "updated_at", "email", "username"]
    ordering = ["id"]

    # What each action's query string may hold: anything else, or a parameter given
    # twice, is a 400 naming it, on every route of personal data.
    query_serializers = {"list": PersonListQuerySerializer, "destroy": PersonDeleteQuerySerializer}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action is None:  # a method no action takes: its 405 comes next
            return
        query = self.query_serializers.get(self.action, NoQuerySerializer)
        query(data=request.query_params).is_valid(raise_exception=True)

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer here holds personal data (profiles, exports, erasures): no cache
        # on the way, nor the browser's, may keep a copy.
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def perform_create(self, serializer):
        with self._unique_or_400(serializer):
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with self._unique_or_400(serializer):
            serializer.save()

    @extend_schema(
        parameters=[PersonDeleteQuerySerializer],
        responses={
            204: OpenApiResponse(description="Profile deleted (its events kept)"),
            200: OpenApiResponse(ErasureSerializer, description="erase_events=true: erased"),
        },
    )
    def destroy(self, request, distinct_id: str, *args, **kwargs):
        """Delete the profile; with `?erase_events=true` also every event of its
        distinct_id (erasure), answered with the deletion's receipt. Erasure needs no
        profile: a distinct_id with events only is erased too."""
        query = PersonDeleteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if not query.validated_data["erase_events"]:
            self.get_object().delete()
            return Response(status=status.HTTP_204_NO_CONTENT)
        person = self._person_or_traces(distinct_id)
        user, key = request_actor(request)
        receipt = person_erase(
            distinct_id=distinct_id,
            person=person,
            tenant=self.tenant,
            logs=self.scoped(EventLog.objects.all()),
            created_by=user,
            api_key=key,
        )
        erasure = {
            "person": distinct_id,
            "events_deleted": receipt.events_deleted,
            "at": receipt.created_at,
            "receipt": receipt.pk,
        }
        return Response(ErasureSerializer(erasure).data)

    @extend_schema(responses={200: PersonSerializer})
    @action(detail=False, methods=["get"], url_path=r"by-email/(?P<email>[^/\x00]+)")
    def by_email(self, request, email: str, *args, **kwargs):
        """Seed 002's lookup by email (ignoring case); 404 when no person has it."""
        person = self.get_queryset().with_email(email).first()
        if person is None:
            raise NotFound("No person with this email.")
        return Response(self.get_serializer(person).data)

    @extend_schema(
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='`{"exported_at", "person": {…} or null, "user_number", "events": '
                '[{"uuid", "event_name", "timestamp", "received_at", "count", "data"}, …], '
                '"activity_periods": [{"period_start", "period_end", "events"}, …], '
                '"deletions": [{"id", "reason", "filter", "events_deleted", "created_at"}, …]}`, '
                "streamed, oldest first",
            )
        }
    )
    @action(detail=True, methods=["get"])
    def export(self, request, distinct_id: str, *args, **kwargs):
        """Everything stored about this person (GDPR access request): the profile (null
        without one), and every event, activity period and deletion receipt of their
        distinct_id, streamed as one JSON document."""
        person = self._person_or_traces(distinct_id)
        chunks = person_export(
            profile=None if person is None else PersonSerializer(person).data,
            logs=self.scoped(EventLog.objects.all()).filter(distinct_id=distinct_id),
            periods=self.scoped(UserActivityPeriod.objects.filter(distinct_id=distinct_id)),
            # Receipts name a person by distinct_id only, in their filter (seed: erasures,
            # deletions of a user's events, and filters that chose one distinct_id).
            deletions=self.scoped(DeletionReceipt.objects.filter(filter__distinct_id=distinct_id)),
            user_number=self.scoped(UserNumber.objects.filter(distinct_id=distinct_id))
            .values_list("pk", flat=True)
            .first(),
            now=timezone.now(),
        )
        return StreamingHttpResponse(chunks, content_type="application/json")

    @extend_schema(request=None, responses={200: UserEventsDeletedSerializer})
    @action(detail=True, methods=["delete"], url_path="events")
    def delete_events(self, request, distinct_id: str, *args, **kwargs):
        """Seed 002's `DELETE /api/event/<user_id>`: every event of this distinct_id,
        whether or not it has a profile (which stays). 404 if it has neither."""
        self._person_or_traces(distinct_id)
        user, key = request_actor(request)
        receipt = user_events_delete(
            distinct_id=distinct_id,
            tenant=self.tenant,
            logs=self.scoped(EventLog.objects.all()),
            created_by=user,
            api_key=key,
        )
        message = f"{receipt.events_deleted} events were deleted"
        return Response({"message": message, **DeletionReceiptSerializer(receipt).data})

    def _person_or_traces(self, distinct_id: str) -> Person | None:
        """The profile of `distinct_id`, or None when it has none but has events or
        other data of the default database; 404 when it has nothing at all."""
        person = self.get_queryset().filter(distinct_id=distinct_id).first()
        if person is None and not any(
            self.scoped(model.objects.filter(distinct_id=distinct_id)).exists()
            for model in (EventLog, UserNumber, UserActivityPeriod)
        ):
            raise NotFound("No person and no events with this distinct_id.")
        return person

    @contextmanager
    def _unique_or_400(self, serializer):
        # The unique constraints decide, so two concurrent creates cannot both win.
        try:
            with transaction.atomic(using=router.db_for_write(Person)):
                yield
        except IntegrityError:
            raise serializers.ValidationError(self._duplicates(serializer)) from None

    def _duplicates(self, serializer) -> dict[str, list[str]]:
        """Which unique value is taken (asked only after the database refused the write)."""
        data = serializer.validated_data
        others = self.get_queryset()
        if serializer.instance is not None:
            others = others.exclude(pk=serializer.instance.pk)
        errors = {}
        if "distinct_id" in data and others.filter(distinct_id=data["distinct_id"]).exists():
            errors["distinct_id"] = [DUPLICATE.format(field="distinct_id")]
        if data.get("email") and others.with_email(data["email"]).exists():
            errors["email"] = [DUPLICATE.format(field="email")]
        return errors or {"non_field_errors": ["Conflicts with another person."]}
