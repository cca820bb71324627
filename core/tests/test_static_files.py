"""Static files. Collected (as the Docker image does), pages name each by its content's
hash and WhiteNoise lets browsers keep it for good; not collected (`make run`, these
tests elsewhere), pages name the plain files, served from the apps."""

import re

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils.functional import empty

HASHED_CSS = re.compile(r'href="(/static/web/web\.[0-9a-f]{12}\.css)"')
FOR_GOOD = "max-age=315360000, public, immutable"


@pytest.fixture(scope="module")
def collected_once(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture
def collected(collected_once):
    with override_settings(STATIC_ROOT=collected_once, WHITENOISE_USE_FINDERS=False):
        staticfiles_storage._wrapped = empty  # read the manifest as a new process does
        yield collected_once


def _page() -> str:
    response = Client().get("/dashboard/signup/")
    assert response.status_code == 200
    return response.content.decode()


def test_collected_pages_name_hashed_files_kept_for_good(collected):
    assert (collected / "staticfiles.json").is_file()
    found = HASHED_CSS.search(_page())
    assert found is not None, "the page names the hashed stylesheet"

    response = Client().get(found.group(1))

    assert response.status_code == 200
    assert response["Cache-Control"] == FOR_GOOD
    assert b"".join(response.streaming_content) == (collected / "web" / "web.css").read_bytes()


def test_collected_plain_names_are_still_served_briefly_cached(collected):
    """Old pages, and anyone who linked a file by its name, still find it; it may
    change with the next release, so it is not kept for good."""
    response = Client().get("/static/web/web.css")

    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=60, public"


def test_not_collected_pages_name_the_plain_files(tmp_path):
    with override_settings(STATIC_ROOT=tmp_path / "none", WHITENOISE_USE_FINDERS=True):
        staticfiles_storage._wrapped = empty
        page = _page()
        response = Client().get("/static/web/web.css")

    assert 'href="/static/web/web.css"' in page
    assert HASHED_CSS.search(page) is None
    assert response.status_code == 200


@pytest.mark.parametrize(
    "page", ["/dashboard/signup/", "/admin/login/", "/api/docs/", "/api-auth/login/"]
)
def test_collected_every_static_file_a_page_names_is_served(collected, page):
    response = Client().get(page)
    assert response.status_code == 200
    named = set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', response.content.decode()))
    assert named, "the page names static files"

    missing = [url for url in sorted(named) if Client().get(url).status_code != 200]

    assert missing == []
