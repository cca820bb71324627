"""PNG charts of the stats routes: how they are asked for, their size, that the bars
follow the data, ETag / 304, the per-process cache, errors that stay JSON, the
OpenAPI, and matplotlib staying out of the import path."""

import datetime as dt
import io
import os
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from events.tests.factories import EventFactory, EventLogFactory
from stats.charts import drawings, render, style
from stats.charts.spec import ChartKind

BASE_DIR = Path(__file__).resolve().parent.parent.parent
TREND = "/api/stats/event_trend"
FREQUENCY = "/api/stats/event_frequency"
HOURLY = "/api/stats/hourly_distribution"
ROUTES = [TREND, FREQUENCY, HOURLY]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def pixels(png: bytes) -> np.ndarray:
    """RGB floats, shape (height, width, 3)."""
    assert png.startswith(PNG_MAGIC)
    return imread(io.BytesIO(png))[..., :3]


def bars(png: bytes, *, axis: int) -> list[tuple[float, int]]:
    """(centre, length) in pixels of each bar drawn in BAR_COLOR, in image order.
    axis=0 for vertical bars (scan columns), 1 for horizontal bars (scan rows)."""
    image = pixels(png)
    mask = np.all(np.abs(image - np.array(to_rgb(style.BAR_COLOR))) < 2 / 255, axis=-1)
    lengths = mask.sum(axis=axis)
    found, run = [], []
    for index, length in enumerate([*lengths, 0]):
        if length:
            run.append(index)
        elif run:
            found.append((sum(run) / len(run), int(lengths[run].max())))
            run = []
    return found


def assert_png(response, width: int = 800, height: int = 400) -> None:
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "image/png"
    assert pixels(response.content).shape[:2] == (height, width)


def assert_json_error(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()


@pytest.fixture(autouse=True)
def _empty_chart_cache():
    render.clear_cache()
    yield
    render.clear_cache()


@pytest.fixture
def draws(monkeypatch) -> list:
    """Every chart actually drawn (cache misses), as (kind, data)."""
    drawn: list = []
    real = render.draw_chart

    def counting(spec, data):
        drawn.append((spec.kind, data))
        return real(spec, data)

    monkeypatch.setattr(render, "draw_chart", counting)
    return drawn


@pytest.fixture
def click(tenant):
    event = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=event, timestamp=utc(2024, 1, 15, 9), count=3)
    EventLogFactory(event=event, timestamp=utc(2024, 1, 16, 18), count=1)
    return event


# --- asking for a PNG ---------------------------------------------------------


@pytest.mark.usefixtures("click")
@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize("how", ["query", "suffix", "accept"])
def test_every_stats_route_answers_a_png_three_ways(api_client, url, how):
    if how == "query":
        response = api_client.get(url, {"format": "png"})
    elif how == "suffix":
        response = api_client.get(f"{url}.png")
    else:
        response = api_client.get(url, HTTP_ACCEPT="image/png")

    assert_png(response)
    assert response["Cache-Control"] == "private, no-cache"
    assert response["ETag"].startswith('"')
    assert "Accept" in response["Vary"]
    assert response["X-Timezone"] == "UTC"


@pytest.mark.usefixtures("click")
@pytest.mark.parametrize("url", ROUTES)
def test_json_stays_the_default_without_etag(api_client, url):
    response = api_client.get(url, HTTP_ACCEPT="*/*")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "ETag" not in response
    assert "Accept" in response["Vary"]


@pytest.mark.usefixtures("click")
def test_browsable_api_still_answers_browsers(api_client):
    response = api_client.get(HOURLY, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.usefixtures("click")
@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize(("width", "height"), [(200, 150), (1234, 567), (2000, 1500)])
def test_width_and_height_give_the_pixel_size(api_client, url, width, height):
    response = api_client.get(f"{url}.png", {"width": width, "height": height})

    assert_png(response, width, height)


@pytest.mark.parametrize(
    ("name", "value"), [("width", 199), ("width", 2001), ("height", 149), ("height", "big")]
)
def test_size_out_of_limits_is_a_json_400_naming_it(api_client, name, value):
    response = api_client.get(f"{HOURLY}.png", {name: value})

    assert_json_error(response, 400)
    assert list(response.json()) == [name]


# --- errors stay JSON ---------------------------------------------------------


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize(
    "ask",
    [{"path": ".png"}, {"params": {"format": "png"}}, {"accept": "image/png"}],
    ids=["suffix", "query", "accept"],
)
def test_bad_query_asked_as_png_is_a_json_400(api_client, url, ask):
    response = api_client.get(
        url + ask.get("path", ""),
        {"start_date": "2024-99-01", **ask.get("params", {})},
        HTTP_ACCEPT=ask.get("accept", "*/*"),
    )

    assert_json_error(response, 400)
    assert list(response.json()) == ["start_date"]


@pytest.mark.parametrize("url", [TREND, FREQUENCY, HOURLY])
def test_unknown_event_asked_as_png_is_a_json_404(api_client, url):
    assert_json_error(api_client.get(f"{url}.png", {"event_name": "nope"}), 404)


@pytest.mark.parametrize("url", ROUTES)
def test_anonymous_png_request_is_a_json_401(anon_client, url):
    response = anon_client.get(f"{url}.png")

    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_options_asked_as_png_is_json(api_client):
    response = api_client.options(f"{TREND}.png")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")


def test_png_with_json_only_accept_is_a_json_406(api_client):
    response = api_client.get(TREND, {"format": "png"}, HTTP_ACCEPT="application/json")

    assert_json_error(response, 406)


# --- the drawings follow the data ---------------------------------------------


def test_hourly_bars_sit_at_their_hours_with_heights_in_proportion(api_client, tenant):
    event = EventFactory(tenant=tenant, name="spiky")
    for hour, count in [(0, 10), (3, 30), (18, 60)]:
        EventLogFactory(event=event, timestamp=utc(2024, 1, 15, hour), count=count)

    response = api_client.get(f"{HOURLY}.png", {"event_name": "spiky"})

    assert_png(response)
    (x0, h0), (x3, h3), (x18, h18) = bars(response.content, axis=0)
    # Equal spacing per hour: 3 hours between the first two bars, 15 between the others.
    assert (x18 - x3) / (x3 - x0) == pytest.approx(15 / 3, rel=0.02)
    assert h3 / h0 == pytest.approx(3, rel=0.05)
    assert h18 / h0 == pytest.approx(6, rel=0.05)


def test_the_tallest_bar_stands_at_the_busiest_hour(api_client, tenant):
    event = EventFactory(tenant=tenant, name="noon")
    for hour, count in [(0, 5), (12, 100), (23, 5)]:
        EventLogFactory(event=event, timestamp=utc(2024, 1, 15, hour, 10), count=count)

    png = api_client.get(f"{HOURLY}.png", {"event_name": "noon"}).content

    (first, _), (tallest, tallest_length), (last, _) = bars(png, axis=0)
    assert tallest_length == max(length for _, length in bars(png, axis=0))
    assert tallest == pytest.approx(first + (last - first) * 12 / 23, abs=1.5)


def test_frequency_bars_are_ordered_and_as_long_as_the_totals(api_client, tenant):
    for name, total in {"click": 3, "purchase": 2, "submit": 5}.items():
        EventLogFactory(event=EventFactory(tenant=tenant, name=name), count=total)

    response = api_client.get(f"{FREQUENCY}.png")

    assert_png(response)
    found = bars(response.content, axis=1)
    assert [y for y, _ in found] == sorted(y for y, _ in found)  # top to bottom
    submit, click, purchase = (length for _, length in found)
    assert click / submit == pytest.approx(3 / 5, rel=0.03)
    assert purchase / submit == pytest.approx(2 / 5, rel=0.03)


def test_trend_chart_changes_with_the_data_and_is_reproducible(api_client, click):
    first = api_client.get(f"{TREND}.png").content
    render.clear_cache()
    again = api_client.get(f"{TREND}.png").content
    EventLogFactory(event=click, timestamp=utc(2024, 1, 17, 9), count=40)

    changed = api_client.get(f"{TREND}.png").content

    assert first == again
    assert not np.array_equal(pixels(first), pixels(changed))


@pytest.mark.parametrize("interval", ["hour", "week", "month"])
def test_trend_chart_draws_every_interval(api_client, click, interval):
    params = {"interval": interval, "start_date": "2024-01-01", "end_date": "2024-01-31"}

    assert_png(api_client.get(f"{TREND}.png", params))


def test_charts_of_empty_data_are_drawn(api_client):
    for url in ROUTES:
        assert_png(api_client.get(f"{url}.png", {"start_date": "2030-01-01"}))


@pytest.mark.filterwarnings("error:Glyph")  # no missing-glyph warning either
def test_names_with_dollars_and_emoji_are_drawn_as_text(api_client, tenant):
    # matplotlib would read "$…$" as mathematical notation, and fail on "$\\frac$".
    for name in ["$price$", "a $ b", r"$\frac$", "party 🎉", "x" * 200]:
        EventLogFactory(event=EventFactory(tenant=tenant, name=name))

    for url in ROUTES:
        assert_png(api_client.get(f"{url}.png"))


def test_many_events_are_drawn(api_client, tenant):
    for index in range(30):
        EventLogFactory(event=EventFactory(tenant=tenant, name=f"e{index}"), count=index + 1)

    for url in ROUTES:
        assert_png(api_client.get(f"{url}.png"))


def test_every_chart_kind_has_a_drawing_in_the_one_registry():
    assert set(render.CHARTS) == set(typing.get_args(ChartKind))


def test_draw_hourly_histogram_is_reusable():
    percent = [0.0] * 24
    percent[7] = 100.0

    png = drawings.draw_hourly_histogram("login", percent, 640, 320)

    assert pixels(png).shape[:2] == (320, 640)
    assert len(bars(png, axis=0)) == 1


# --- ETag, 304 and the cache --------------------------------------------------


@pytest.mark.usefixtures("click")
@pytest.mark.parametrize("url", ROUTES)
def test_repeat_with_the_etag_is_304_without_drawing(api_client, draws, url):
    first = api_client.get(f"{url}.png")
    draws.clear()

    repeat = api_client.get(f"{url}.png", HTTP_IF_NONE_MATCH=first["ETag"])
    weak = api_client.get(f"{url}.png", HTTP_IF_NONE_MATCH=f'"other", W/{first["ETag"]}')

    for response in (repeat, weak):
        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == first["ETag"]
    assert draws == []


@pytest.mark.usefixtures("click")
def test_etag_changes_with_data_size_and_kind(api_client, click):
    etag = api_client.get(f"{TREND}.png")["ETag"]
    wider = api_client.get(f"{TREND}.png", {"width": 900})["ETag"]
    frequency = api_client.get(f"{FREQUENCY}.png")["ETag"]
    EventLogFactory(event=click, timestamp=utc(2024, 1, 15, 10))
    newer = api_client.get(f"{TREND}.png", HTTP_IF_NONE_MATCH=etag)

    assert len({etag, wider, frequency, newer["ETag"]}) == 4
    assert newer.status_code == 200


@pytest.mark.usefixtures("click")
def test_a_repeated_chart_is_drawn_once(api_client, draws):
    first = api_client.get(f"{HOURLY}.png")
    second = api_client.get(f"{HOURLY}.png")

    assert first.content == second.content
    assert len(draws) == 1


def test_the_cache_is_per_tenant_and_bounded(api_client, other_client, tenant, other_tenant, draws):
    for owner in (tenant, other_tenant):  # identical data in both tenants
        EventLogFactory(event=EventFactory(tenant=owner, name="same"), timestamp=utc(2024, 1, 15))

    api_client.get(f"{FREQUENCY}.png")
    other_client.get(f"{FREQUENCY}.png")
    for width in range(300, 300 + render.CACHE_SIZE):
        render.cached_png(("filler", width), lambda: b"png")
    api_client.get(f"{FREQUENCY}.png")

    assert len(draws) == 3
    assert len(render.PNG_CACHE) == render.CACHE_SIZE


def test_the_chart_is_drawn_from_the_json_answer(api_client, click, draws):
    body = api_client.get(HOURLY, {"event_name": "click"}).json()

    api_client.get(f"{HOURLY}.png", {"event_name": "click"})

    assert draws == [("hourly_distribution", body)]


@pytest.mark.usefixtures("click")
@pytest.mark.parametrize("url", ROUTES)
def test_a_png_costs_the_same_queries_as_json(api_client, url):
    with CaptureQueriesContext(connection) as json_queries:
        api_client.get(url)
    with CaptureQueriesContext(connection) as png_queries:
        api_client.get(f"{url}.png")

    # The data is read once; a time chart also reads the tenant's annotations.
    data = [query for query in png_queries if "stats_annotation" not in query["sql"]]
    assert len(data) == len(json_queries)
    assert len(png_queries) - len(data) <= 1


# --- OpenAPI and imports ------------------------------------------------------


@pytest.mark.django_db
def test_openapi_documents_png_answers_and_chart_parameters(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    for url in ROUTES:
        operation = paths[f"{url}/"]["get"]
        content = operation["responses"]["200"]["content"]
        assert content["image/png"]["schema"] == {"type": "string", "format": "binary"}
        assert "application/json" in content
        assert "304" in operation["responses"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"width", "height", "format", "If-None-Match"} <= names
    assert not any(path.endswith(".png") or "{format}" in path for path in paths)


@pytest.mark.django_db
def test_openapi_names_the_suffix_routes_on_the_plain_ones(api_client):
    # `<route>.png` and `.csv` are left out of the schema on purpose (one operation per
    # route, not three); the plain route's answer says the suffix gives the same.
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    for url in ROUTES:
        assert "a `.png` suffix" in paths[f"{url}/"]["get"]["responses"]["200"]["description"]
    for url in ("/api/query/", "/api/funnels/", "/api/retention/"):
        for method in ("get", "post"):
            described = paths[url][method]["responses"]["200"]["description"]
            assert "a `.csv` or `.png` suffix" in described, (method, url)
    results = paths["/api/insights/{id}/results/"]["get"]["description"]
    assert "(`.csv`)" in results
    assert "(`.png`)" in results
    assert not any(path.endswith((".png", ".csv")) for path in paths)


def test_importing_the_stats_routes_does_not_import_matplotlib():
    code = (
        "import sys, django; django.setup(); "
        "import stats.charts.render, stats.views, stats.urls; "
        "sys.exit('matplotlib imported' if 'matplotlib' in sys.modules else 0)"
    )
    result = _fresh_process(code)

    assert result.returncode == 0, result.stderr + result.stdout


def _fresh_process(code: str) -> subprocess.CompletedProcess:
    """`code` run by a new interpreter (nothing imported yet) with the project's settings."""
    return subprocess.run(  # noqa: S603 (our interpreter, a literal program)
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "eventtracker.settings", "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_first_charts_of_a_process_may_be_drawn_by_many_threads_at_once():
    # gunicorn's threads draw a worker's first charts together. Two threads importing
    # different matplotlib modules at once could each get the other's half-initialised
    # (an ImportError, then an AttributeError on every later import): a worker whose
    # charts were all 500s. Each entry point below imports a different module first.
    code = """
import sys, threading, django
django.setup()
from stats.charts.daily import draw_daily
from stats.charts.drawings import draw_frequency, draw_hourly_histogram, draw_trend
from stats.charts.spec import ChartSpec
spec = ChartSpec(kind="event_trend")
drawings = [
    lambda: draw_frequency([{"event_name": "a", "total": 3}], spec=spec),
    lambda: draw_hourly_histogram("a", [100.0] + [0.0] * 23),
    lambda: draw_trend({"2024-05-01": {"a": 1}, "2024-05-02": {"a": 2}}, spec=spec),
    lambda: draw_daily(
        [{"date": "2024-05-01", "event_amount": 3}], spec=ChartSpec(kind="event_amount")
    ),
]
errors, start = [], threading.Barrier(16)
def draw(drawing):
    start.wait()
    try:
        assert drawing().startswith(b"\\x89PNG")
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=draw, args=(drawings[i % 4],)) for i in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
sys.exit("; ".join(errors) or 0)
"""
    result = _fresh_process(code)

    assert result.returncode == 0, result.stderr[-3000:]
