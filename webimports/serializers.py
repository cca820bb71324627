from rest_framework import serializers

from webimports.models import WebImport

MAX_FILES = 50


class WebImportSerializer(serializers.ModelSerializer):
    """An import's receipt."""

    class Meta:
        model = WebImport
        fields = [
            "id",
            "source",
            "files",
            "rows_read",
            "rows_imported",
            "rows_skipped",
            "errors",
            "start_date",
            "end_date",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class WebImportUploadSerializer(serializers.Serializer):
    """`source` and the export's `files` (multipart/form-data; a zip is unpacked)."""

    source = serializers.ChoiceField(choices=WebImport.Source.choices)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        allow_empty=False,
        max_length=MAX_FILES,
        style={"template": "rest_framework/fields/files.html"},  # the browsable API's form
    )
