"""A form over Django's limits of files (DATA_UPLOAD_MAX_NUMBER_FILES) or fields
(DATA_UPLOAD_MAX_NUMBER_FIELDS) is a JSON 400 naming the limit, on every route: an API
view (DRF parses the form) or a Django one (its handler400)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db


def test_too_many_files_for_an_api_view_is_a_400_naming_the_limit(api_client, settings):
    files = [SimpleUploadedFile(f"{n}.csv", b"Date,Users\n") for n in range(101)]

    response = api_client.post(
        "/api/imports/", {"source": "ga", "files": files}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "At most 100 files per request."}


def test_too_many_fields_for_an_api_view_is_a_400_naming_the_limit(api_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"f{n}": "x" for n in range(11)}

    response = api_client.post("/api/imports/", {"source": "ga", **fields}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "At most 10 form fields per request."}


def test_too_many_fields_for_a_django_view_is_a_json_400_naming_the_limit(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10

    response = Client().post("/admin/login/", {f"f{n}": "x" for n in range(11)})

    assert response.status_code == 400
    assert response.json() == {"detail": "At most 10 form fields per request."}
