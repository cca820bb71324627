"""The same data twice in one upload is counted once, as it is across uploads: a file
given twice, a zip and one of its files, a line repeated in a file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from webimports.models import ImportedDay
from webimports.tests.test_imports import (
    GA_TOTALS,
    PLAUSIBLE,
    UMAMI_HEADER,
    imported,
    stats,
    umami_row,
    zipped,
)

pytestmark = pytest.mark.django_db
VISITORS = "imported_visitors_20240101_20240102.csv"
UMAMI = "\n".join(
    [
        UMAMI_HEADER,
        umami_row("s1", "v1", "/", "2024-01-01 10:00:00"),
        umami_row("s1", "v1", "/pricing", "2024-01-01 10:02:00"),
        umami_row("s2", "v2", "/", "2024-01-02 08:00:00"),
    ]
)


def imported_once(client, source: str, files: list[tuple[str, str | bytes]]) -> tuple:
    """The receipt and the stats of `files` imported alone (the import then deleted)."""
    receipt = imported(client, source, files)
    expected = stats(client)
    client.delete(f"/api/imports/{receipt['id']}/")
    return receipt, expected


@pytest.mark.parametrize(
    ("source", "files"),
    [
        ("plausible", [(VISITORS, PLAUSIBLE[VISITORS])] * 2),
        ("plausible", [("export.zip", zipped(PLAUSIBLE)), (VISITORS, PLAUSIBLE[VISITORS])]),
        ("plausible", [("export.zip", zipped(PLAUSIBLE))] * 2),
        ("ga", [("totals.csv", GA_TOTALS), ("totals (1).csv", GA_TOTALS)]),
        ("umami", [("website_event.csv", UMAMI)] * 2),
    ],
    ids=["plausible-csv-twice", "zip-and-its-csv", "zip-twice", "ga-report-twice", "umami-twice"],
)
def test_a_file_given_twice_in_one_upload_is_counted_once(api_client, source, files):
    once, expected = imported_once(api_client, source, files[:1])

    receipt = imported(api_client, source, files)

    assert receipt["rows_imported"] == once["rows_imported"]
    assert receipt["rows_skipped"].keys() - {"unsupported_table"} == {"already_imported"}
    assert stats(api_client) == expected


def test_a_line_repeated_in_a_file_is_counted_once_and_named(api_client):
    text = """date,visitors,pageviews,bounces,visits,visit_duration
2024-01-01,10,30,4,12,600
2024-01-01,10,30,4,12,600
2024-01-02,5,9,2,6,120
2024-01-01,10,30,4,12,600
"""
    receipt = imported(api_client, "plausible", [(VISITORS, text)])

    assert (receipt["rows_read"], receipt["rows_imported"]) == (4, 2)
    assert receipt["rows_skipped"] == {"duplicate_row": 2}
    assert [(error["line"], error["message"]) for error in receipt["errors"]] == [
        (3, "the same line as line 2."),
        (5, "the same line as line 2."),
    ]
    assert stats(api_client)["visitors"] == 15


@pytest.mark.parametrize(
    ("source", "name", "text"),
    [
        ("plausible", "imported_pages_x.csv", PLAUSIBLE["imported_pages_20240101_20240102.csv"]),
        ("ga", "totals.csv", GA_TOTALS),
        ("umami", "website_event.csv", UMAMI),
    ],
    ids=["plausible-pages", "ga", "umami"],
)
def test_repeated_lines_are_left_out_in_every_format(api_client, source, name, text):
    once, expected = imported_once(api_client, source, [(name, text)])
    lines = text.strip().split("\n")
    repeated = [line for line in lines[1:] if "2024-01-02" not in line]

    receipt = imported(api_client, source, [(name, "\n".join([*lines, *repeated]))])

    assert receipt["rows_imported"] == once["rows_imported"]
    assert receipt["rows_skipped"] == {"duplicate_row": len(repeated)}
    assert stats(api_client) == expected


def test_different_lines_of_one_day_still_add_up(api_client):
    browsers = """date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews
2024-01-01,Chrome,120,5,6,300,2,15
2024-01-01,Chrome,121,5,6,300,2,15
"""
    receipt = imported(api_client, "plausible", [("imported_browsers_x.csv", browsers)])

    assert (receipt["rows_imported"], receipt["rows_skipped"]) == (2, {})
    assert sum(day.visitors for day in ImportedDay.objects.all()) == 10


def test_a_bad_line_given_twice_is_invalid_twice(api_client):
    text = "date,visitors,pageviews,bounces,visits,visit_duration\n" + "2024-13-01,1,1,1,1,1\n" * 2

    receipt = imported(api_client, "plausible", [(VISITORS, text)])

    assert receipt["rows_skipped"] == {"invalid_row": 2}


def test_reports_of_other_metrics_or_tables_for_the_same_days_add_up(api_client):
    users = "Date,Users,Sessions\n20240101,10,12\n"
    views = "Date,Views\n20240101,30\n"
    countries = "Date,Country,Users\n20240101,Germany,10\n"

    receipt = imported(api_client, "ga", [("u.csv", users), ("v.csv", views), ("c.csv", countries)])

    assert (receipt["rows_imported"], receipt["rows_skipped"]) == (3, {})
    body = stats(api_client)
    assert (body["visitors"], body["visits"], body["pageviews"]) == (10, 12, 30)


def test_a_day_of_a_table_comes_from_its_first_file(api_client):
    january = "date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-01,10,30,4,12,600\n"
    overlapping = january.replace(",10,", ",11,") + "2024-01-02,5,9,2,6,120\n"

    receipt = imported(api_client, "plausible", [(VISITORS, january), (VISITORS, overlapping)])

    assert (receipt["rows_imported"], receipt["rows_skipped"]) == (2, {"already_imported": 1})
    assert stats(api_client)["visitors"] == 15


def test_an_earlier_import_leaves_out_only_the_tables_and_days_it_brought(api_client):
    visitors = "date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-01,10,30,4,12,600\n"
    pages = "date,page,visitors,pageviews\n2024-01-01,/,8,15\n2024-01-01,/pricing,4,10\n"
    ends = visitors + "2024-01-31,1,1,1,1,1\n"
    middle = visitors.replace("2024-01-01", "2024-01-15")

    imported(api_client, "plausible", [(VISITORS, ends)])
    other_table = imported(api_client, "plausible", [("imported_pages_x.csv", pages)])
    day_between = imported(api_client, "plausible", [(VISITORS, middle)])
    same_again = imported(api_client, "plausible", [(VISITORS, ends)])

    assert (other_table["rows_imported"], other_table["rows_skipped"]) == (2, {})
    assert (day_between["rows_imported"], day_between["rows_skipped"]) == (1, {})
    assert same_again["rows_skipped"] == {"already_imported": 2}
    body = stats(api_client)
    assert (body["visitors"], body["pageviews"]) == (21, 61)
    assert len(body["pages"]) == 2


def test_a_day_brought_by_another_source_is_not_brought_again(api_client):
    locations = (
        "date,country,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,DE,6,7,3,2,18\n"
    )
    imported(api_client, "plausible", [("imported_locations_x.csv", locations)])

    receipt = imported(api_client, "ga", [("c.csv", "Date,Country,Users\n20240101,Germany,6\n")])

    assert receipt["rows_skipped"] == {"already_imported": 1}
    assert ImportedDay.objects.filter(dimension="countries").count() == 1


def test_deleting_an_import_lets_its_days_be_imported_again(api_client):
    receipt = imported(api_client, "plausible", [(VISITORS, PLAUSIBLE[VISITORS])])
    api_client.delete(f"/api/imports/{receipt['id']}/")

    again = imported(api_client, "plausible", [(VISITORS, PLAUSIBLE[VISITORS])])

    assert (again["rows_imported"], again["rows_skipped"]) == (2, {})


def test_each_metric_of_google_analytics_reports_is_counted_once_per_day(api_client):
    sessions = "Date,Total users,Sessions\n20240101,150,200\n"
    views = "Date,Total users,Views\n20240101,150,500\n"

    receipt = imported(api_client, "ga", [("s.csv", sessions), ("v.csv", views)])
    later = imported(api_client, "ga", [("u.csv", "Date,Users\n20240101,150\n")])

    assert (receipt["rows_imported"], receipt["rows_skipped"]) == (2, {})
    assert later["rows_skipped"] == {"already_imported": 1}
    body = stats(api_client)
    assert (body["visitors"], body["visits"], body["pageviews"]) == (150, 200, 500)


@pytest.mark.parametrize(
    ("report", "column"),
    [
        ("Date,Page title,Total users,Views\n20240101,Home,10,20\n", "Page title"),
        ("Date,Landing page,Ad format,Sessions\n20240101,/,Banner,3\n", "Ad format"),
    ],
    ids=["known-elsewhere", "any-text-column"],
)
def test_a_google_analytics_dimension_not_read_is_refused_naming_it(api_client, report, column):
    response = api_client.post(
        "/api/imports/",
        {"source": "ga", "files": [SimpleUploadedFile("r.csv", report.encode())]},
        format="multipart",
    )

    assert response.status_code == 400, response.content
    assert f"{column}: not a dimension read here" in response.json()["files"][0]
    assert not ImportedDay.objects.exists()


def test_other_google_analytics_metrics_are_left_out(api_client):
    report = "Date,Users,New users,Engagement rate\n20240101,10,4,45.5%\n"

    receipt = imported(api_client, "ga", [("r.csv", report)])

    assert (receipt["rows_imported"], stats(api_client)["visitors"]) == (1, 10)


def test_a_google_analytics_breakdown_says_it_brings_no_totals(api_client):
    receipt = imported(api_client, "ga", [("c.csv", "Date,Country,Users\n20240101,Germany,6\n")])

    assert "not added to the day's totals" in receipt["files"][0]["note"]
    assert stats(api_client)["countries"] == [{"value": "DE", "visitors": 6, "visits": 0}]
