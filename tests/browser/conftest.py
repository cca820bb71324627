"""Headless Chromium (Debian's chromium + chromedriver, driven by Selenium) against the
real service under gunicorn, a tenant's shop on another origin, and a faulty proxy."""

import itertools
import os
import shutil
from pathlib import Path

import pytest

from eventtracker.tests.live_server import call, live_gunicorn, sign_up
from tests.browser.support import ProxyLog, proxy_handler, serve, shop_handler

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
    # A visitor's browser: headless Chromium's own User-Agent names it a bot, whose
    # events from a web page are refused (webstats).
    "--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36",
]
_accounts = itertools.count(1)


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    if CHROMIUM and CHROMEDRIVER:
        return CHROMIUM, CHROMEDRIVER
    message = "apt-get install chromium chromium-driver (Debian's packages) to run these"
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is missing in CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def service_dir(tmp_path_factory) -> Path:
    """Where the service keeps its databases and its log (gunicorn.log)."""
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="session")
def service(service_dir):
    """The service under gunicorn (2 workers) on fresh SQLite databases, DEBUG on so the
    demo page is served."""
    with live_gunicorn(service_dir, workers=2, DJANGO_DEBUG="1") as base:
        yield base


@pytest.fixture(scope="session")
def shop(service):
    """A tenant's web site on its own origin, loading the tracker from the service."""
    server, base = serve(shop_handler(service))
    yield base
    server.shutdown()


@pytest.fixture(scope="session")
def driver(chromium_paths):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, chromedriver = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # The console (CSP violations among it), read by driver.get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


@pytest.fixture
def account(service, shop) -> dict:
    """A new user (so a new tenant) with a token and an ingest key allowed on the shop."""
    number = next(_accounts)
    credentials = {"username": f"shopkeeper{number}-{os.getpid()}", "password": "alpine12x"}
    token = sign_up(service, **credentials)
    key_body = {"name": "web", "role": "ingest", "allowed_origins": [shop]}
    status, key = call(service + "/api/keys/", token=token, body=key_body)
    assert status == 201, key
    return {**credentials, "token": token, "key": key["key"]}


@pytest.fixture
def faulty_proxy(service):
    """A proxy to the service whose `fail` hook decides which requests it fails."""
    log = ProxyLog()
    rules: dict = {"fail": lambda method, path: None}
    server, base = serve(proxy_handler(service, log, lambda m, p: rules["fail"](m, p)))
    yield base, log, rules
    server.shutdown()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
