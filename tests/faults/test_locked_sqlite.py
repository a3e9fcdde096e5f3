"""The embedded SQLite file locked by another writer longer than the busy timeout: the API
answers 503 with Retry-After and a page answers the try-again page, never a 500; a bug the
database reports (a missing table) is no outage (a 500, as any bug)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.database import is_outage
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tests.conftest import owner_of


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SQLITE_BUSY_TIMEOUT_MS": 200, "OUTAGE_RETRY_AFTER": 7}


@contextmanager
def locked(app):
    """Another process's write transaction on the database file."""
    path = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.sqlite_run  # the embedded SQLite file
def test_a_locked_database_answers_503(app, client, auth, create_organization):
    org = create_organization()
    _key, secret = create_api_key(SYSTEM, reseller=org.reseller, name="k")
    commit()
    assert auth.login(owner_of(org).user.email).status_code == 302
    url = f"/organizations/{org.id}/"
    db.session.rollback()
    api = app.test_client()
    body = {"credits": 1, "reference": "sms-locked"}
    headers = {"Authorization": f"Bearer {secret}"}
    with locked(app):
        answer = api.post(f"/api/v1{url}usage", json=body, headers=headers)
        page = client.get(url, headers={"Accept-Language": "es"})
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "7")
    assert answer.json["error"]["code"] == "service_unavailable"
    assert (page.status_code, page.headers["Retry-After"]) == (503, "7")
    assert "Vuelve a intentarlo enseguida" in page.get_data(as_text=True)
    assert client.get(url).status_code == 200


def test_database_errors_that_are_bugs_are_not_outages():
    def wrapped(message: str) -> sa_exc.OperationalError:
        return sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert is_outage(wrapped("database is locked"))
    assert not is_outage(wrapped("no such table: widgets"))
    assert not is_outage(ValueError("no database involved"))
