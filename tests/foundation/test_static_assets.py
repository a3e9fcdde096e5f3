"""Stylesheets and scripts under URLs that name their content (tenants/web/assets.py): a page
links each with its hash, and that URL may be kept for a year; any other is asked again."""

from __future__ import annotations

import re
from pathlib import Path

from flask import url_for

from tenants.web.assets import ONE_YEAR

VERSIONED = re.compile(r'(?:href|src)="(/[^"]*static/[^"?]+)\?v=([0-9a-f]{16})"')


def _get(client, url: str):
    """The answer to ``url``, its body read and its file closed."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _kept_a_year(response) -> bool:
    control = response.cache_control
    kept = control.max_age == ONE_YEAR and control.immutable and control.public
    return kept and not control.no_cache


def test_a_page_links_ours_and_bootstraps_files_by_content_and_each_is_kept_a_year(app, client):
    page = client.get("/login").get_data(as_text=True)
    links = VERSIONED.findall(page)
    paths = [path for path, _ in links]
    assert "/static/css/app.css" in paths
    assert any(path.startswith("/bootstrap/static/") and path.endswith(".css") for path in paths)
    assert any(path.startswith("/bootstrap/static/") and path.endswith(".js") for path in paths)
    # Every stylesheet and script of the page is versioned: none is linked without its hash.
    for tag in re.findall(r'<(?:link|script)[^>]*(?:href|src)="(/[^"]+)"', page):
        assert "?v=" in tag, tag
    ours = Path(app.static_folder) / "css" / "app.css"
    for path, version in links:
        response = _get(client, f"{path}?v={version}")
        assert response.status_code == 200, path
        assert _kept_a_year(response), (path, response.headers.get("Cache-Control"))
        if path == "/static/css/app.css":
            assert response.get_data() == ours.read_bytes()


def test_a_url_without_the_files_hash_is_asked_again(client):
    page = client.get("/login").get_data(as_text=True)
    version = dict(VERSIONED.findall(page))["/static/css/app.css"]
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789abcdef"):
        response = _get(client, url)
        assert response.status_code == 200
        assert response.cache_control.no_cache, url
        assert response.cache_control.max_age != ONE_YEAR
    assert _kept_a_year(_get(client, f"/static/css/app.css?v={version}"))


def test_a_changed_file_gets_a_new_url_and_its_old_url_is_no_longer_kept(app, client, tmp_path):
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "app.css"
    sheet.write_text("body { color: black; }")
    app.static_folder = str(tmp_path)
    with app.test_request_context():
        before = url_for("static", filename="css/app.css")
    sheet.write_text("body { color: darkblue; }")
    with app.test_request_context():
        after = url_for("static", filename="css/app.css")
    assert before != after and after.startswith("/static/css/app.css?v=")

    fresh = _get(client, after)
    assert fresh.get_data(as_text=True) == "body { color: darkblue; }"
    assert _kept_a_year(fresh)
    stale = _get(client, before)  # a page cached before the change: the file as it is now
    assert stale.status_code == 200 and stale.cache_control.no_cache


def test_a_missing_file_has_no_version_and_is_not_found(app, client):
    with app.test_request_context():
        url = url_for("static", filename="css/missing.css")
        outside = url_for("static", filename="../app.py")
    assert url == "/static/css/missing.css"
    assert "v=" not in outside
    assert client.get(url).status_code == 404
