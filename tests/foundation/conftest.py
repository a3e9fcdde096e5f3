"""Helpers for the foundation tests: copying a browser's cookies onto another client; brand-new
databases for the command-line and migration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tenants.models import Member
from tests.conftest import owner_of
from tests.foundation.databases import Databases, run_flask

COOKIE_NAMES = ("session", "remember_token")


def copy_cookies(client: FlaskClient) -> dict[str, str]:
    """What an attacker (or a backup of the browser profile) would copy: every auth cookie."""
    copied = {}
    for name in COOKIE_NAMES:
        cookie = client.get_cookie(name)
        if cookie is not None:
            copied[name] = cookie.value
    return copied


def client_with_cookies(app: Flask, cookies: dict[str, str]) -> FlaskClient:
    """A brand-new browser that only carries the given cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def owner(create_organization) -> Member:
    """The owner of a fresh prepaid organization in Spain, password set."""
    return owner_of(create_organization(name="Acme Ibérica SL"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "migrated: the CLI test starts from a database `flask db upgrade` built"
    )
    config.addinivalue_line(
        "markers", "demo: the CLI test starts from a migrated database `flask demo` filled"
    )


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[Databases]:
    """The brand-new databases this test process makes; PostgreSQL's are dropped at its end."""
    made = Databases(tmp_path_factory.mktemp("databases"))
    yield made
    made.drop_all()


@pytest.fixture(scope="session")
def migrated_template(databases) -> str:
    """One database brought up to date by `flask db upgrade` from empty, made once for this
    test process (each upgrade from empty is a child process running every migration, 3-5 s):
    the tests copy it, never use it."""
    url = databases.create()
    run_flask(url, databases.directory, "db", "upgrade")
    return url


@pytest.fixture
def database(databases, migrated_template) -> str:
    """A migrated database of the test's own: a copy of ``migrated_template``."""
    return databases.create(template=migrated_template)
