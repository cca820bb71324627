"""/api/imports/ and `manage.py import_web_stats`: Plausible, Umami and Google Analytics
exports read into daily aggregates, added to /api/stats/web and the web page, never
doubled, refused clearly when unreadable, and kept to their tenant."""

import datetime as dt
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from accounts.models import ApiKey
from events.tests.factories import EventFactory, EventLogFactory
from insights.engine import Window
from webimports.models import ImportedDay, WebImport
from webimports.stats import whole_days

pytestmark = pytest.mark.django_db
URL = "/api/imports/"
STATS = "/api/stats/web"


def csv_text(header: str, *rows: str) -> str:
    return "\n".join([header, *rows]) + "\n"


HEADER_V = "date,visitors,pageviews,bounces,visits,visit_duration\n"
PLAUSIBLE = {
    "imported_visitors_20240101_20240102.csv": csv_text(
        "date,visitors,pageviews,bounces,visits,visit_duration",
        "2024-01-01,10,30,4,12,600",
        "2024-01-02,5,9,2,6,120",
    ),
    "imported_pages_20240101_20240102.csv": csv_text(
        "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors",
        "2024-01-01,example.com,/,10,8,15,,",
        "2024-01-01,example.com,/pricing,5,4,10,,",
        "2024-01-02,example.com,/,5,5,9,,",
    ),
    "imported_entry_pages_20240101_20240102.csv": csv_text(
        "date,entry_page,visitors,entrances,visit_duration,bounces,pageviews",
        "2024-01-01,/,9,11,500,4,25",
        "2024-01-01,/pricing,1,1,100,0,5",
    ),
    "imported_exit_pages_20240101_20240102.csv": csv_text(
        "date,exit_page,visitors,visit_duration,exits,bounces,pageviews",
        "2024-01-01,/pricing,6,400,7,0,20",
    ),
    "imported_sources_20240101_20240102.csv": csv_text(
        "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,"
        "pageviews,visitors,visits,visit_duration,bounces",
        "2024-01-01,Google,google.com,,,,,,20,7,8,400,2",
        "2024-01-01,,,,,,,,10,3,4,200,2",
        "2024-01-02,Newsletter,,newsletter,email,winter,,,9,5,6,120,2",
    ),
    "imported_locations_20240101_20240102.csv": csv_text(
        "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews",
        "2024-01-01,DE,DE-BE,2950159,6,7,300,2,18",
        "2024-01-01,FR,,0,4,5,300,2,12",
    ),
    "imported_devices_20240101_20240102.csv": csv_text(
        "date,device,visitors,visits,visit_duration,bounces,pageviews",
        "2024-01-01,Desktop,8,9,500,3,25",
        "2024-01-01,Mobile,2,3,100,1,5",
    ),
    "imported_browsers_20240101_20240102.csv": csv_text(
        "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews",
        "2024-01-01,Chrome,120,5,6,300,2,15",
        "2024-01-01,Chrome,121,2,2,100,1,5",
        "2024-01-01,Firefox,121,3,4,200,1,10",
    ),
    "imported_operating_systems_20240101_20240102.csv": csv_text(
        "date,operating_system,operating_system_version,visitors,visits,visit_duration,"
        "bounces,pageviews",
        "2024-01-01,Mac,14,6,7,400,2,20",
        "2024-01-01,GNU/Linux,,4,5,200,2,10",
    ),
    "imported_custom_events_20240101_20240102.csv": csv_text(
        "date,name,link_url,path,visitors,events",
        "2024-01-01,Signup,,,3,3",
    ),
}


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


Files = dict[str, bytes | str] | list[tuple[str, bytes | str]]  # a list may repeat a name


def upload(client, source: str, files: Files):
    pairs = files.items() if isinstance(files, dict) else files
    return client.post(
        URL,
        {
            "source": source,
            "files": [
                SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data)
                for name, data in pairs
            ],
        },
        format="multipart",
    )


def imported(client, source: str, files: Files) -> dict:
    response = upload(client, source, files)
    assert response.status_code == 201, response.content
    return response.json()


def stats(client, start="2024-01-01", end="2024-01-31", **params) -> dict:
    query = {"start_date": start, "end_date": end, "tz": "UTC", **params}
    response = client.get(STATS, query)
    assert response.status_code == 200, response.content
    return response.json()


def by_value(rows: list[dict], label="value") -> dict:
    return {row[label]: {k: v for k, v in row.items() if k != label} for row in rows}


def test_a_plausible_export_zip_is_imported_with_a_receipt(api_client):
    receipt = imported(api_client, "plausible", {"plausible-export.zip": zipped(PLAUSIBLE)})

    data_lines = sum(text.count("\n") - 1 for text in PLAUSIBLE.values())
    assert receipt["source"] == "plausible"
    assert receipt["rows_read"] == data_lines
    assert receipt["rows_imported"] == data_lines - 1
    assert receipt["rows_skipped"] == {"unsupported_table": 1}  # the custom events
    assert (receipt["start_date"], receipt["end_date"]) == ("2024-01-01", "2024-01-02")
    tables = {entry["name"]: (entry["table"], entry["rows"]) for entry in receipt["files"]}
    assert tables["imported_sources_20240101_20240102.csv"] == ("sources", 3)
    assert tables["imported_custom_events_20240101_20240102.csv"] == (None, 1)
    assert api_client.get(f"{URL}{receipt['id']}/").json() == receipt
    assert [row["id"] for row in api_client.get(URL).json()] == [receipt["id"]]


def test_imported_days_fill_the_web_stats(api_client):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    body = stats(api_client)

    assert (body["visitors"], body["visits"], body["pageviews"]) == (15, 18, 39)
    assert body["bounce_rate"] == round(6 / 18, 4)
    assert body["visit_duration"] == round(720 / 18, 1)
    assert body["views_per_visit"] == round(39 / 18, 2)
    assert body["imported"] == {
        "included": True,
        "first_day": "2024-01-01",
        "last_day": "2024-01-02",
        "days": 2,
    }
    days = {row["date"]: row for row in body["timeseries"]}
    assert days["2024-01-01"] == {
        "date": "2024-01-01",
        "visitors": 10,
        "pageviews": 30,
        "visits": 12,
    }
    assert days["2024-01-03"]["visitors"] == 0
    assert by_value(body["pages"], "page")["/"] == {"visitors": 13, "pageviews": 24}
    assert by_value(body["entry_pages"])["/"] == {"visitors": 9, "visits": 11}
    assert by_value(body["exit_pages"]) == {"/pricing": {"visitors": 6, "visits": 7}}
    assert by_value(body["sources"]) == {
        "Google": {"visitors": 7, "visits": 8},
        "Newsletter": {"visitors": 5, "visits": 6},
        None: {"visitors": 3, "visits": 4},  # direct
    }
    assert {row["value"] for row in body["channels"]} == {"search", "email", "direct"}
    assert by_value(body["utm_campaigns"])["winter"] == {"visitors": 5, "visits": 6}
    assert by_value(body["countries"]) == {
        "DE": {"visitors": 6, "visits": 7},
        "FR": {"visitors": 4, "visits": 5},
    }
    assert set(by_value(body["devices"])) == {"desktop", "mobile"}
    assert by_value(body["browsers"])["Chrome"] == {"visitors": 7, "visits": 8}  # 2 versions
    assert set(by_value(body["oses"])) == {"Mac OS X", "Linux"}


def test_a_sources_channel_comes_from_its_name_without_a_referrer(api_client):
    """Plausible's exports have had no referrer column (and leave it empty when the
    browser sent none): a source named on the referrer lists has that list's channel,
    as a native visit from it would."""
    text = csv_text(
        "date,source,utm_medium,utm_campaign,utm_content,utm_term,visitors,visits,"
        "visit_duration,bounces",
        "2024-01-01,Google,,,,,7,8,400,2",
        "2024-01-01,Facebook,,,,,3,3,90,1",
        "2024-01-01,DuckDuckGo,,,,,2,2,60,1",
        "2024-01-01,Gmail,,,,,1,1,10,1",
        "2024-01-01,Direct / None,,,,,4,5,100,2",
        "2024-01-01,blog.example,,,,,1,1,5,1",
        "2024-01-01,Google,cpc,spring,,,2,2,50,0",
    )
    imported(api_client, "plausible", {"imported_sources_20240101_20240101.csv": text})

    assert by_value(stats(api_client)["channels"]) == {
        "search": {"visitors": 9, "visits": 10},
        "social": {"visitors": 3, "visits": 3},
        "email": {"visitors": 1, "visits": 1},
        "direct": {"visitors": 4, "visits": 5},
        "other": {"visitors": 1, "visits": 1},
        "paid": {"visitors": 2, "visits": 2},
    }


def test_an_exports_rows_of_zeros_are_not_listed(api_client):
    """Exports list values of no visit (a source seen only on other days, a page of the
    site map): a breakdown listed them as 0 visitors, 0 visits."""
    text = csv_text(
        "date,source,utm_medium,utm_campaign,utm_content,utm_term,visitors,visits,"
        "visit_duration,bounces",
        "2024-01-01,Google,,,,,7,8,400,2",
        "2024-01-01,Bing,,,,,0,0,0,0",
    )
    imported(api_client, "plausible", {"imported_sources_20240101_20240101.csv": text})

    assert by_value(stats(api_client)["sources"]) == {"Google": {"visitors": 7, "visits": 8}}


def test_imported_and_native_numbers_add_up(api_client, tenant):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})
    pageview = EventFactory(tenant=tenant, name="$pageview")
    for minute in (0, 5):  # one visit of two pages on Jan 10th
        EventLogFactory(
            event=pageview,
            distinct_id="native",
            timestamp=dt.datetime(2024, 1, 10, 9, minute, tzinfo=dt.UTC),
            data={"$pathname": "/", "$source": "Google"},
        )

    body = stats(api_client)

    assert (body["visitors"], body["visits"], body["pageviews"]) == (16, 19, 41)
    assert body["bounce_rate"] == round(6 / 19, 4)  # the native visit did not bounce
    assert body["visit_duration"] == round((720 + 300) / 19, 1)
    assert by_value(body["sources"])["Google"] == {"visitors": 8, "visits": 9}
    assert by_value(body["pages"], "page")["/"] == {"visitors": 14, "pageviews": 26}


def test_a_comparison_adds_the_imported_days_of_the_period_before(api_client):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    body = stats(api_client, start="2024-01-03", end="2024-01-04", compare="previous_period")

    assert body["visitors"] == 0
    assert body["imported"] is None  # none of its days were imported
    assert body["previous"]["visitors"] == 15
    assert body["previous"]["date_range"]["start"].startswith("2024-01-01")


def test_days_tracked_natively_or_imported_before_are_not_imported_again(api_client, tenant):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    again = imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    assert again["rows_imported"] == 0
    assert again["rows_skipped"]["already_imported"] == again["rows_read"] - 1
    assert stats(api_client)["visitors"] == 15  # not doubled

    EventLogFactory(
        event=EventFactory(tenant=tenant, name="$pageview"),
        distinct_id="native",
        timestamp=dt.datetime(2024, 2, 2, 12, tzinfo=dt.UTC),
    )
    later = """date,visitors,pageviews,bounces,visits,visit_duration
2024-02-01,3,3,3,3,0
2024-02-02,4,4,4,4,0
2024-02-03,5,5,5,5,0
"""
    receipt = imported(api_client, "plausible", {"imported_visitors_20240201_20240203.csv": later})
    assert receipt["rows_imported"] == 1
    assert receipt["rows_skipped"] == {"tracked_natively": 2}
    assert receipt["end_date"] == "2024-02-01"


def test_deleting_an_import_removes_its_days(api_client):
    receipt = imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    response = api_client.delete(f"{URL}{receipt['id']}/")

    assert response.status_code == 204
    assert not ImportedDay.objects.exists()
    assert stats(api_client)["visitors"] == 0
    assert imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})["rows_imported"]


def test_filters_leave_imported_days_out_and_say_so(api_client):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    filtered = stats(api_client, filters=json.dumps([["eq", "data.$country", "DE"]]))
    without = stats(api_client, imported="false")

    assert filtered["visitors"] == 0
    assert filtered["imported"]["included"] is False
    assert "native events only" in filtered["imported"]["reason"]
    assert (without["visitors"], without["imported"]) == (0, None)


@pytest.mark.parametrize(
    ("lower", "upper", "days"),
    [
        ("2024-01-01T00:00", "2024-01-03T00:00", ("2024-01-01", "2024-01-02")),
        ("2024-01-01T12:00", "2024-01-03T00:00", ("2024-01-02", "2024-01-02")),
        ("2024-01-01T00:00", "2024-01-02T23:00", ("2024-01-01", "2024-01-01")),
        ("2024-01-01T00:30", "2024-01-01T23:00", ("2024-01-02", "2023-12-31")),  # none
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_a_range_counts_the_imported_days_it_holds_whole(lower, upper, days, zone):
    tz = ZoneInfo(zone)
    window = Window(
        dt.datetime.fromisoformat(lower).replace(tzinfo=tz),
        dt.datetime.fromisoformat(upper).replace(tzinfo=tz),
    )

    first, last = whole_days(window, tz)

    assert (first.isoformat(), last.isoformat()) == days
    assert whole_days(Window(None, None), tz) == (None, None)


def test_hourly_stats_count_imported_days_in_the_headline_only(api_client):
    imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    hourly = stats(api_client, start="2024-01-01", end="2024-01-01", interval="hour")
    assert hourly["visitors"] == 10  # in the headline, not in the hours
    assert sum(row["visitors"] for row in hourly["timeseries"]) == 0


UMAMI_HEADER = (
    "website_id,session_id,visit_id,event_id,hostname,browser,os,device,screen,language,"
    "country,region,city,url_path,url_query,utm_source,utm_medium,utm_campaign,utm_content,"
    "utm_term,referrer_path,referrer_query,referrer_domain,page_title,gclid,fbclid,msclkid,"
    "ttclid,li_fat_id,twclid,event_type,event_name,tag,distinct_id,created_at,job_id"
)


def umami_row(session, visit, path, when, *, kind=1, referrer="", country="DE", browser="chrome"):
    return (
        f"w,{session},{visit},e,example.com,{browser},Mac OS,desktop,1920x1080,en,{country},,,"
        f"{path},,,,,,,,,{referrer},,,,,,,,{kind},,,,{when},"
    )


def test_an_umami_export_is_folded_into_visits_and_days(api_client):
    rows = [
        umami_row("s1", "v1", "/", "2024-01-01 10:00:00", referrer="www.google.com"),
        umami_row("s1", "v1", "/pricing", "2024-01-01 10:02:00"),
        umami_row("s1", "v1", "/pricing", "2024-01-01 10:03:00", kind=2),  # a custom event
        umami_row("s1", "v2", "/docs", "2024-01-01 15:00:00"),  # a bounce
        umami_row("s2", "v3", "/", "2024-01-02 08:00:00", country="FR", browser="firefox"),
        umami_row("s3", "v4", "/x", "2024-01-02 09:00:00", kind=2),  # no page view: no visit
    ]
    csv_text = UMAMI_HEADER + "\n" + "\n".join(rows) + "\n"

    receipt = imported(api_client, "umami", {"website_event.csv": csv_text})
    body = stats(api_client)

    assert (receipt["rows_read"], receipt["rows_imported"]) == (6, 6)
    assert (body["visitors"], body["visits"], body["pageviews"]) == (2, 3, 4)
    assert body["bounce_rate"] == round(2 / 3, 4)
    assert body["visit_duration"] == round(180 / 3, 1)  # 10:00 to the event at 10:03
    assert by_value(body["entry_pages"]) == {
        "/": {"visitors": 2, "visits": 2},
        "/docs": {"visitors": 1, "visits": 1},
    }
    assert by_value(body["exit_pages"])["/pricing"] == {"visitors": 1, "visits": 1}
    assert by_value(body["sources"])["Google"] == {"visitors": 1, "visits": 1}
    assert by_value(body["channels"]) == {
        "direct": {"visitors": 2, "visits": 2},
        "search": {"visitors": 1, "visits": 1},
    }
    assert set(by_value(body["browsers"])) == {"Chrome", "Firefox"}
    assert set(by_value(body["oses"])) == {"Mac OS X"}
    assert set(by_value(body["countries"])) == {"DE", "FR"}


GA_PAGES = """# ----------------------------------------
# Pages and screens: Page path and screen class
# Start date: 20240101
# End date: 20240102
# ----------------------------------------

Date,Page path and screen class,Views,Users,Views per user,Average engagement time
20240101,/,"1,200",800,1.5,30
20240101,/blog,300,200,1.5,30
20240102,/,100,80,1.25,20
"""
GA_TOTALS = """Date,Users,Sessions,Views,Bounce rate,Average session duration
20240101,10,20,40,25%,00:01:30
20240102,5,10,12,0.5,60
"""
GA_COUNTRIES = """Date,Country,Users,Sessions
20240101,Germany,6,8
20240101,United States,3,4
20240101,(not set),1,1
"""


def test_google_analytics_reports_are_imported(api_client):
    receipt = imported(
        api_client,
        "ga",
        {"pages.csv": GA_PAGES, "totals.csv": GA_TOTALS, "countries.csv": GA_COUNTRIES},
    )
    body = stats(api_client)

    assert receipt["rows_imported"] == 8
    assert [entry["table"] for entry in receipt["files"]] == ["pages", "visitors", "countries"]
    assert (body["visitors"], body["visits"], body["pageviews"]) == (15, 30, 52)
    assert body["bounce_rate"] == round((5 + 5) / 30, 4)  # 25% of 20, half of 10
    assert body["visit_duration"] == round((20 * 90 + 10 * 60) / 30, 1)
    assert by_value(body["pages"], "page")["/"] == {"visitors": 880, "pageviews": 1300}
    assert by_value(body["countries"]) == {
        "DE": {"visitors": 6, "visits": 8},
        "US": {"visitors": 3, "visits": 4},
        None: {"visitors": 1, "visits": 1},
    }


# A report as Universal Analytics exports it: its table, the table's totals (no date),
# then, after a blank line, the chart's own table (`Day Index`) and its total.
GA_UA_EXPORT = """# ----------------------------------------
# All Web Site Data
# Audience Overview
# 20240101-20240102
# ----------------------------------------

Date,Users,Sessions,Bounce Rate,Avg. Session Duration
20240101,"1,200","1,500",40.00%,00:01:30
20240102,800,900,50.00%,00:00:40
,"2,000","2,400",43.75%,00:01:11

Day Index,Sessions
1/1/24,"1,500"
1/2/24,900
,"2,400"
"""


def test_a_universal_analytics_export_is_read_up_to_its_chart_table(api_client):
    receipt = imported(api_client, "ga", {"Analytics All Web Site Data.csv": GA_UA_EXPORT})

    assert receipt["rows_imported"] == 2
    # The table's totals line has no date: named, never added to a day.
    assert receipt["rows_skipped"] == {"invalid_row": 1}
    assert [error["line"] for error in receipt["errors"]] == [10]
    body = stats(api_client)
    assert (body["visitors"], body["visits"]) == (2000, 2400)
    assert body["bounce_rate"] == round((600 + 450) / 2400, 4)
    assert body["visit_duration"] == 71.3  # (1500 * 90 + 900 * 40) / 2400, a half up


@pytest.mark.parametrize(
    ("source", "files", "names"),
    [
        ("plausible", {"notes.csv": "a,b\n1,2\n"}, "notes.csv: not a file of Plausible"),
        ("plausible", {"imported_pages_x.csv": "date,page\n"}, "x.csv: Plausible's pages table"),
        ("umami", {"website_event.csv": "date,visitors\n"}, "website_event.csv: Umami"),
        ("ga", {"report.csv": "Page,Views\n/,1\n"}, "report.csv: A Google Analytics"),
        ("ga", {"report.csv": "Date,Page,Country,Views\n"}, "report.csv: Export one dimension"),
        ("ga", {"report.csv": "Date,Page,Bananas\n"}, "report.csv: The report has no Users"),
        ("ga", {"report.csv": ""}, "The submitted file is empty"),
        ("ga", {"report.csv": "# Title only\n\n"}, "report.csv: the file is empty"),
        ("ga", {"report.csv": b"Date,Users\n20240101,\xff\xfe\n"}, "report.csv: not UTF-8"),
        ("ga", {"report.csv": 'Date,Users\n"20240101,1\n'}, "report.csv, line 2"),
        ("plausible", {"export.zip": b"PK\x03\x04 not really a zip"}, "not a readable zip"),
        ("plausible", {"export.zip": zipped({"readme.txt": "hi"})}, "no .csv"),
    ],
    ids=[
        "unknown-table",
        "missing-columns",
        "umami-columns",
        "no-date",
        "two-dimensions",
        "no-metric",
        "empty",
        "comments-only",
        "not-utf8",
        "unclosed-quote",
        "bad-zip",
        "zip-without-csv",
    ],
)
def test_unreadable_files_are_refused_naming_the_problem(api_client, source, files, names):
    response = upload(api_client, source, files)

    assert response.status_code == 400, response.content
    assert names in json.dumps(response.json())
    assert not WebImport.objects.exists()
    assert not ImportedDay.objects.exists()


def test_a_damaged_zip_member_is_refused_naming_it(api_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "imported_visitors_x.csv", PLAUSIBLE["imported_visitors_20240101_20240102.csv"] * 50
        )
    data = bytearray(buffer.getvalue())
    data[60:70] = b"\xff" * 10  # inside the member's compressed bytes

    response = upload(api_client, "plausible", {"export.zip": bytes(data)})

    assert response.status_code == 400, response.content
    assert "imported_visitors_x.csv: cannot be unpacked" in response.json()["files"][0]
    assert not ImportedDay.objects.exists()


def test_bad_lines_are_skipped_and_named(api_client):
    text = """date,visitors,pageviews,bounces,visits,visit_duration
2024-01-01,10,30,4,12,600
2024-13-01,1,1,1,1,1
2024-01-02,-5,1,1,1,1
2024-01-03,lots,1,1,1,1
2024-01-04,99999999999999999999,1,1,1,1
1969-12-31,1,1,1,1,1
2999-01-01,1,1,1,1,1
2024-01-05\x00,1,1,1,1,1
"""
    receipt = imported(api_client, "plausible", {"imported_visitors_x.csv": text})

    assert receipt["rows_imported"] == 1
    assert receipt["rows_skipped"] == {"invalid_row": 5, "date_out_of_range": 2}
    assert [(error["line"], error["message"][:4]) for error in receipt["errors"]] == [
        (3, "date"),
        (4, "visi"),
        (5, "visi"),
        (6, "visi"),
        (9, "date"),
    ]
    assert stats(api_client)["visitors"] == 10


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"files": []}, "source"),
        ({"source": "matomo"}, "source"),
        ({"source": "plausible"}, "files"),
    ],
)
def test_a_bad_upload_form_is_a_400_naming_the_field(api_client, data, field):
    response = api_client.post(URL, data, format="multipart")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "data",
    [
        {"source": "plausible", "files": "not a file"},  # named by its index
        {"source": "matomo", "files": "not a file"},
        {"source": "plausible"},
    ],
)
def test_a_bad_upload_forms_answer_matches_the_schema(api_client, data):
    document = api_client.get("/api/schema/?format=json").json()
    declared = document["paths"][URL]["post"]["responses"]["400"]["content"]

    response = api_client.post(URL, data, format="multipart")

    assert response.status_code == 400
    jsonschema.validate(response.json(), {**declared["application/json"]["schema"], **document})


def test_a_json_body_is_refused(api_client):
    response = api_client.post(URL, {"source": "plausible"}, format="json")

    assert response.status_code == 415


def test_an_oversize_upload_is_a_413(api_client, settings):
    settings.WEBIMPORT_MAX_UPLOAD_BYTES = 100

    response = upload(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    assert response.status_code == 413
    assert not WebImport.objects.exists()


def test_a_read_key_may_list_imports_but_not_import(tenant, key_client):
    reader = key_client(ApiKey.Role.READ)

    assert reader.get(URL).status_code == 200
    assert upload(reader, "plausible", {"export.zip": zipped(PLAUSIBLE)}).status_code == 403


def test_another_tenants_imports_are_404_and_never_counted(api_client, other_client):
    receipt = imported(api_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})

    assert other_client.get(f"{URL}{receipt['id']}/").status_code == 404
    assert other_client.delete(f"{URL}{receipt['id']}/").status_code == 404
    assert other_client.get(URL).json() == []
    assert stats(other_client)["visitors"] == 0
    # The other tenant's own import of the same days is its own, not "already imported".
    theirs = imported(other_client, "plausible", {"export.zip": zipped(PLAUSIBLE)})
    assert theirs["rows_imported"] == receipt["rows_imported"]
    assert stats(api_client)["visitors"] == 15


def test_the_command_imports_files_with_a_progress_bar_and_a_receipt(tenant, tmp_path):
    paths = []
    for name, text in PLAUSIBLE.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    out, err = io.StringIO(), io.StringIO()

    call_command("import_web_stats", "--tenant", tenant.slug, "--source", "plausible", *paths,
                 stdout=out, stderr=err)  # fmt: skip

    assert "Importing plausible" in err.getvalue()
    assert "100%" in err.getvalue()
    assert "rows imported (1 unsupported_table), days 2024-01-01 to 2024-01-02" in out.getvalue()
    assert ImportedDay.objects.filter(tenant=tenant, dimension="visitors").count() == 2

    json_out = io.StringIO()
    call_command("import_web_stats", "--tenant", tenant.slug, "--source", "plausible",
                 paths[0], "--json", stdout=json_out, stderr=io.StringIO())  # fmt: skip
    assert json.loads(json_out.getvalue())["rows_skipped"] == {"already_imported": 2}


def test_the_command_refuses_unknown_tenants_and_unreadable_files(tenant, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")

    with pytest.raises(CommandError, match="No tenant with the slug or id 'nobody'"):
        call_command("import_web_stats", "--tenant", "nobody", "--source", "ga", str(bad))
    with pytest.raises(CommandError, match=r"notes\.csv"):
        call_command("import_web_stats", "--tenant", tenant.slug, "--source", "plausible",
                     str(bad), stderr=io.StringIO())  # fmt: skip
    assert not WebImport.objects.exists()


def test_long_values_are_cut_and_odd_file_names_kept_printable(api_client):
    long_source = "S" * 3000
    text = csv_text(
        "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,"
        "pageviews,visitors,visits,visit_duration,bounces",
        f"2024-01-01,{long_source},,{'u' * 3000},,,,,1,1,1,0,1",
    )

    receipt = imported(api_client, "plausible", {"imported_sources_\x01\x7f.csv": text})

    assert receipt["rows_imported"] == 1
    assert receipt["files"][0]["name"] == "imported_sources_.csv"
    stored = ImportedDay.objects.get(dimension="sources")
    assert stored.value == long_source[:2000]
    assert len(ImportedDay.objects.get(dimension="utm_sources").value) == 2000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER_V + "2024-01-01,10,30,4,12,600,7\n", "x.csv, line 2: 7 values, the header has 6"),
        (HEADER_V + "2024-01-01,10,30\n", "x.csv, line 2: 3 values, the header has 6"),
        ("date,page,page,visitors,pageviews\n2024-01-01,/,/a,1,1\n", "the column page twice"),
    ],
    ids=["too-many-values", "too-few-values", "repeated-column"],
)
def test_ragged_lines_and_repeated_columns_are_refused_naming_them(api_client, text, message):
    response = upload(api_client, "plausible", {"imported_visitors_x.csv": text})

    assert response.status_code == 400, response.content
    assert message.split(": ", 1)[-1] in response.json()["files"][0]
    assert not ImportedDay.objects.exists()


def test_source_given_twice_is_refused(api_client):
    files = [
        SimpleUploadedFile("x.csv", PLAUSIBLE["imported_visitors_20240101_20240102.csv"].encode())
    ]
    data = {"source": ["plausible", "ga"], "files": files}

    response = api_client.post(URL, data, format="multipart")

    assert response.status_code == 400
    assert "source" in response.json()


def test_a_request_without_a_body_names_the_missing_fields(api_client):
    response = api_client.post(URL)

    assert response.status_code == 400
    assert set(response.json()) == {"source", "files"}


def test_a_duration_of_four_parts_is_an_invalid_row(api_client):
    report = "Date,Sessions,Avg. session duration\n20240101,2,1:2:3:4\n"

    receipt = imported(api_client, "ga", {"r.csv": report})

    assert receipt["rows_skipped"] == {"invalid_row": 1}
