"""Browser fixtures: the app served on a loopback port, and Debian's Chromium driven by Playwright.

The live server serves the very app the root ``app`` fixture built, so it talks to the same
test database (SQLite file or PostgreSQL). Each request in the server thread gets its own app
context and database session, as in production.

Make data with the factory fixtures, copy the ids and texts the test needs into locals, then
call ``tenants.jobs.outbox.commit()`` before the browser acts: on SQLite every transaction begins
IMMEDIATE, so a transaction left open by the test thread (reading an expired attribute opens
one) makes the server wait for the write lock and fail with "database is locked".

Never ``playwright install``: Chromium comes from Debian (``apt-get install chromium``).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture
def app_config(app_config):
    """A browser sends real forms: keep CSRF protection on, as in production."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_server(app):
    """Serve the app on a free loopback port in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Track request threads so teardown can wait for requests still in flight (a closed
    # browser context aborts them): they must release their database connections and open
    # files before the app fixture disposes the engine.
    server.daemon_threads = False
    server.block_on_close = True
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config["PORTAL_URL"] = base_url  # links in emails point at this server
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield base_url
    server.shutdown()
    thread.join(timeout=10)
    for request_thread in list(getattr(server, "_threads", None) or []):
        request_thread.join(timeout=10)
    server.socket.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item so `page` can tell a failure at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    """A fresh browser context (cookies, storage) per test, in English, with a screenshot
    saved to test-artifacts/ when the test fails."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    yield page
    try:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
