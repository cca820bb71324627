"""What an upload to /api/imports/ may cost a worker: the bytes its files unpack to (all
together, as read), a zip member's ratio, the lines, the seconds; past one, a 413 naming
the setting and nothing stored. The command has no such limits."""

import io
import zipfile

import pytest
from django.core.management import call_command

from webimports.limits import RATIO_FLOOR, Budget
from webimports.models import ImportedDay, WebImport
from webimports.tests.test_imports import upload

pytestmark = pytest.mark.django_db
HEADER = "date,visitors,pageviews,bounces,visits,visit_duration\n"
VISITORS = "imported_visitors_20240602_20240602.csv"


def lines(count: int, day: int = 1) -> str:
    return HEADER + "".join(f"2024-01-{day:02},{n},1,1,1,1\n" for n in range(count))


def refused(response, setting: str) -> None:
    assert response.status_code == 413, response.content
    assert setting in response.json()["detail"]
    assert not WebImport.objects.exists()
    assert not ImportedDay.objects.exists()


def test_a_zip_that_unpacks_far_beyond_its_size_is_refused_at_once(api_client, monkeypatch):
    content = HEADER + "2024-06-02,1,1,1,1,1\n" * 2_000_000  # 42 MB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(VISITORS, content)
    packed = archive.infolist()[0].compress_size
    assert packed < len(content) / 400
    reads = []  # how far into the member each check of the budget came
    took = Budget.took

    def counted(self, size, *, name, read, packed):
        reads.append(read)
        took(self, size, name=name, read=read, packed=packed)

    monkeypatch.setattr(Budget, "took", counted)

    response = upload(api_client, "plausible", {"export.zip": buffer.getvalue()})

    refused(response, "WEBIMPORT_MAX_RATIO")
    assert f"{VISITORS}: unpacks to more than 100 times" in response.json()["detail"]
    # Stopped soon after the first 100 times its compressed size, not at its end.
    assert 100 * packed < reads[-1] < 100 * packed + 2 * RATIO_FLOOR < len(content) / 2


def test_the_files_of_an_upload_are_limited_together_as_read(api_client, settings):
    settings.WEBIMPORT_MAX_UNPACKED_BYTES = 200
    each = lines(3)
    assert len(each) < 200 < 2 * len(each)

    assert upload(api_client, "plausible", [(VISITORS, each)]).status_code == 201
    WebImport.objects.all().delete()
    ImportedDay.objects.all().delete()
    response = upload(api_client, "plausible", [(VISITORS, each), ("imported_pages_x.csv", each)])

    refused(response, "WEBIMPORT_MAX_UNPACKED_BYTES")


def test_the_lines_of_an_upload_are_limited(api_client, settings):
    settings.WEBIMPORT_MAX_ROWS = 3

    response = upload(api_client, "plausible", [(VISITORS, lines(2)), (VISITORS, lines(2, 2))])

    refused(response, "WEBIMPORT_MAX_ROWS")
    assert "more than 3 lines" in response.json()["detail"]


def test_reading_an_upload_is_limited_in_time(api_client, settings):
    settings.WEBIMPORT_MAX_SECONDS = 1e-9

    refused(upload(api_client, "plausible", [(VISITORS, lines(2))]), "WEBIMPORT_MAX_SECONDS")


def test_the_command_has_no_such_limits(tenant, tmp_path, settings):
    settings.WEBIMPORT_MAX_ROWS = settings.WEBIMPORT_MAX_UNPACKED_BYTES = 1
    path = tmp_path / VISITORS
    path.write_text(lines(3))

    call_command("import_web_stats", "--tenant", tenant.slug, "--source", "plausible", str(path),
                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip

    assert ImportedDay.objects.filter(tenant=tenant).count() == 3
