"""Damaged or unusual zips and out-of-range numbers: a 400 naming the file, or a line
skipped as `invalid_row`, never a 500."""

import io
import struct
import zipfile
from collections.abc import Callable

import pytest

from webimports.models import ImportedDay, WebImport
from webimports.tests.test_imports import PLAUSIBLE, imported, upload, zipped

pytestmark = pytest.mark.django_db
MEMBER = "imported_visitors_x.csv"
VISITORS = PLAUSIBLE["imported_visitors_20240101_20240102.csv"]
LOCAL_FLAGS, LOCAL_METHOD, LOCAL_NAME = 6, 8, 30  # offsets in a local file header
CENTRAL_VERSION, CENTRAL_FLAGS, CENTRAL_METHOD, CENTRAL_NAME = 6, 8, 10, 46  # in its entry


def odd_zip(patch: Callable[[bytearray, int], None]) -> bytes:
    """A zip of one stored member, patched in place: `patch` gets the bytes and the offset
    of the member's central directory entry (its local header is at 0)."""
    data = bytearray(zipped({MEMBER: VISITORS}))
    patch(data, data.find(b"PK\x01\x02"))
    return bytes(data)


def encrypted(data: bytearray, central: int) -> None:
    struct.pack_into("<H", data, LOCAL_FLAGS, 0x1)
    struct.pack_into("<H", data, central + CENTRAL_FLAGS, 0x1)


def unknown_method(data: bytearray, central: int) -> None:
    struct.pack_into("<H", data, LOCAL_METHOD, 97)
    struct.pack_into("<H", data, central + CENTRAL_METHOD, 97)


def local_name_differs(data: bytearray, central: int) -> None:
    data[LOCAL_NAME] = ord("X")


def local_name_not_utf8(data: bytearray, central: int) -> None:
    struct.pack_into("<H", data, central + CENTRAL_FLAGS, 0x800)
    data[LOCAL_NAME] = 0xFF


def name_not_utf8(data: bytearray, central: int) -> None:
    struct.pack_into("<H", data, central + CENTRAL_FLAGS, 0x800)
    data[central + CENTRAL_NAME] = 0xFF


def future_version(data: bytearray, central: int) -> None:
    struct.pack_into("<H", data, central + CENTRAL_VERSION, 255)


def damaged(method: int) -> bytes:
    """A member compressed with `method` whose compressed bytes are overwritten."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr(MEMBER, VISITORS * 50)
    data = bytearray(buffer.getvalue())
    start = LOCAL_NAME + len(MEMBER) + 20  # past the name and the stream's header
    data[start : start + 16] = b"\xff" * 16
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (odd_zip(encrypted), f"{MEMBER}: cannot be unpacked"),
        (odd_zip(unknown_method), f"{MEMBER}: cannot be unpacked"),
        (odd_zip(local_name_differs), f"{MEMBER}: cannot be unpacked"),
        (odd_zip(local_name_not_utf8), f"{MEMBER}: cannot be unpacked"),
        (damaged(zipfile.ZIP_BZIP2), f"{MEMBER}: cannot be unpacked"),
        (damaged(zipfile.ZIP_LZMA), f"{MEMBER}: cannot be unpacked"),
        (odd_zip(name_not_utf8), "export.zip: not a readable zip"),
        (odd_zip(future_version), "export.zip: not a readable zip"),
        (zipped({}), "export.zip: the zip holds no .csv file."),
    ],
    ids=[
        "encrypted",
        "unknown-method",
        "local-name-differs",
        "local-name-not-utf8",
        "damaged-bzip2",
        "damaged-lzma",
        "name-not-utf8",
        "future-version",
        "empty-zip",
    ],
)
def test_an_odd_zip_is_refused_naming_it(api_client, data, problem):
    response = upload(api_client, "plausible", {"export.zip": data})

    assert response.status_code == 400, response.content
    assert response.json()["files"][0].startswith(problem)
    assert not WebImport.objects.exists()
    assert not ImportedDay.objects.exists()


def test_the_odd_zips_are_whole_zips_otherwise(api_client):
    assert odd_zip(lambda data, central: None) == zipped({MEMBER: VISITORS})
    assert len(zipped({})) == 22  # the end of the central directory only
    receipt = imported(api_client, "plausible", {"export.zip": odd_zip(lambda *_: None)})
    assert receipt["rows_imported"] == 2


@pytest.mark.parametrize(
    ("source", "name", "text", "message"),
    [
        (
            "ga",
            "report.csv",
            "Date,Users,Sessions,Average session duration\n"
            "20230501,1,4611686018427387904,4611686018427387904\n20230502,1,2,30\n",
            "is out of range",
        ),
        (
            "umami",
            "website_event.csv",
            "session_id,visit_id,created_at,url_path,event_type\n"
            "s1,v1,0001-01-01T00:30:00+01:00,/a,1\ns2,v2,2023-05-02 10:00:00,/,1\n",
            "created_at '0001-01-01T00:30:00+01:00' is out of range",
        ),
        (
            "umami",
            "website_event.csv",
            "session_id,visit_id,created_at,url_path,event_type\n"
            "s1,v1,9999-12-31T23:00:00-05:00,/a,1\ns2,v2,2023-05-02 10:00:00,/,1\n",
            "created_at '9999-12-31T23:00:00-05:00' is out of range",
        ),
    ],
    ids=["ga-duration-times-sessions", "umami-year-1", "umami-year-9999"],
)
def test_numbers_and_times_out_of_range_are_invalid_rows(api_client, source, name, text, message):
    receipt = imported(api_client, source, {name: text})

    assert (receipt["rows_imported"], receipt["rows_skipped"]) == (1, {"invalid_row": 1})
    assert receipt["errors"][0]["line"] == 2
    assert message in receipt["errors"][0]["message"]
