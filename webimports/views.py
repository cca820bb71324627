"""`/api/imports/`: upload another product's export, list the receipts, delete an import
(and every day it brought)."""

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin
from core.middleware import body_size_problem
from core.openapi import ERROR, FIELD_ERRORS, MESSAGES
from core.rest import LengthRequired, PayloadTooLarge, PostFormMixin
from webimports.importer import ImportBusy, run_import
from webimports.limits import ImportTooLarge, Limits
from webimports.models import ImportedDay, WebImport
from webimports.readers import ExportError
from webimports.serializers import WebImportSerializer, WebImportUploadSerializer
from webimports.uploads import uploads_of

# DRF names a bad item of the `files` list by its index: {"files": {"0": ["…"]}}.
UPLOAD_ERRORS = {
    "anyOf": [
        FIELD_ERRORS,
        ERROR,
        {
            "type": "object",
            "properties": {"files": {"type": "object", "additionalProperties": MESSAGES}},
            "required": ["files"],
            "additionalProperties": MESSAGES,
        },
    ]
}


class Busy(APIException):
    status_code = 409
    default_detail = "Another import of this tenant is running."
    default_code = "busy"


class WebImportViewSet(
    PostFormMixin,
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Imports of web analytics from Plausible (its CSV export: the `imported_*.csv`
    files or their zip), Umami (`website_event.csv`) or Google Analytics (a report as
    CSV with a Date column), kept as daily aggregates that /api/stats/web and the web
    analytics page add to the native numbers. Days on or after the first native page
    view, or already imported, are left out (the receipt counts them). Deleting an
    import removes every day it brought."""

    queryset = WebImport.objects.all()
    serializer_class = WebImportSerializer
    post_serializer_class = WebImportUploadSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    ordering_fields = ["id", "created_at", "start_date", "end_date"]
    ordering = ["-id"]
    parser_classes = [MultiPartParser]  # uploads; nothing else here has a body
    checks_body_size = True  # an upload's own limit, below

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        upload = request.method == "POST"
        problem = body_size_problem(
            request, settings.WEBIMPORT_MAX_UPLOAD_BYTES if upload else None
        )
        if problem is not None:
            code, message = problem
            raise {413: PayloadTooLarge, 411: LengthRequired}.get(code, ParseError)(message)

    @extend_schema(
        request={"multipart/form-data": WebImportUploadSerializer},
        responses={
            201: WebImportSerializer,
            400: OpenApiResponse(
                UPLOAD_ERRORS,
                description="A file that is not an export of `source`, or bad fields; a part "
                "of `files` that is not a file is named by its index",
            ),
            409: OpenApiResponse(description="Another import of this tenant is running"),
            413: OpenApiResponse(
                description="Over WEBIMPORT_MAX_UPLOAD_BYTES, or a limit of what an upload "
                "may unpack to or cost (WEBIMPORT_MAX_UNPACKED_BYTES, _RATIO, _ROWS, _SECONDS)"
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        # A form keeps the last of a repeated field: say which. (Without a body, data is
        # a plain dict.)
        form = request.data if isinstance(request.data, QueryDict) else QueryDict()
        if len(form.getlist("source")) > 1:
            raise ValidationError({"source": ["Give source once."]})
        upload = WebImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        files = []
        try:
            for item in upload.validated_data["files"]:
                files += uploads_of(item.name, item.size, _opener(item))
            receipt = run_import(
                self.tenant, upload.validated_data["source"], files, limits=Limits.of_uploads()
            )
        except ImportTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except ExportError as exc:
            raise ValidationError({"files": [str(exc)]}) from None
        except ImportBusy:
            raise Busy() from None
        receipt_data = WebImportSerializer(receipt, context=self.get_serializer_context()).data
        return Response(receipt_data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: WebImport) -> None:
        with transaction.atomic():
            self.scoped(ImportedDay.objects.filter(web_import=instance)).delete()
            instance.delete()


def _opener(item):
    """Opens an uploaded file from its start, each time (a zip's members are read one
    after another)."""

    def open_item():
        item.seek(0)
        return _Unclosed(item)

    return open_item


class _Unclosed:
    """An uploaded file read through `with`, left open for the next reader."""

    def __init__(self, item):
        self.item = item

    def read(self, size: int = -1) -> bytes:
        return self.item.read(size)

    def seek(self, *args) -> int:
        return self.item.seek(*args)

    def tell(self) -> int:
        return self.item.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
