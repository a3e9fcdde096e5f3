"""PostgreSQL behind a TCP proxy the test cuts: while the database cannot be reached the API
answers 503 with Retry-After and code ``service_unavailable`` and pages answer 503 with a
try-again page (never a 500); right after the proxy is restored the first request succeeds
(dead pooled connections are replaced), and the ledger holds every accepted operation once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import LedgerEntry
from tests.conftest import POSTGRES_URL, fresh_postgres_database, owner_of
from tests.credits.conftest import fund
from tests.faults.proxy import CuttableProxy

pytestmark = pytest.mark.postgres_only

FUNDS = 100_000  # in the system pool and in the member's account
SPANISH = "El servicio no está disponible por un momento. Vuelve a intentarlo enseguida."


@pytest.fixture
def proxy():
    target = make_url(POSTGRES_URL)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    yield proxy
    proxy.stop()


@pytest.fixture
def database_url(proxy):
    """A fresh database reached through the proxy (the suite's own one stays direct)."""
    with fresh_postgres_database("portal_outage") as url:
        yield (
            make_url(url)
            .set(host="127.0.0.1", port=proxy.port)
            .render_as_string(hide_password=False)
        )


@dataclass
class Portal:
    """A reseller key's API client and a signed-in owner's browser, on one organization."""

    api: FlaskClient
    web: FlaskClient
    key: str
    org_id: str
    member: str
    accepted: dict[str, int] = field(default_factory=dict)  # usage reference: credits

    def call(self, method: str, path: str, body=None, headers=None):
        headers = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        data = None if body is None else json.dumps(body)
        return self.api.open(
            f"/api/v1{path}",
            method=method,
            data=data,
            headers=headers,
            content_type="application/json",
        )

    def usage(self, reference: str, credits: int = 3):
        org = f"/organizations/{self.org_id}"
        body = {"credits": credits, "account": self.member, "reference": reference}
        return self.call("POST", f"{org}/usage", body)

    def transfer(self, key: str, credits: int = 5):
        body = {"from": "system", "to": self.member, "credits": credits}
        headers = {"Idempotency-Key": key}
        return self.call("POST", f"/organizations/{self.org_id}/transfers", body, headers)

    def balance(self) -> dict:
        response = self.call("GET", f"/organizations/{self.org_id}/balance")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json


@pytest.fixture
def portal(app, create_reseller, create_organization, create_member, auth) -> Portal:
    reseller = create_reseller()
    org = create_organization(reseller)
    org.individual_user_credits = True
    member = create_member(org)
    fund(org, FUNDS)
    fund(org, FUNDS, f"member:{member.id}")
    _key, secret = create_api_key(SYSTEM, reseller=reseller, name="outage")
    commit()
    assert auth.login(owner_of(org).user.email).status_code == 302
    return Portal(
        api=app.test_client(),
        web=auth._client,
        key=secret,
        org_id=org.id,
        member=f"member:{member.id}",
    )


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    error = response.json["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"]


def usage_postings(reference: str) -> int:
    """How many ledger postings carry ``reference``, read straight from the database."""
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.reference == reference)
    )


def test_a_database_cut_answers_503_and_the_first_request_after_it_succeeds(portal, proxy):
    before = portal.usage(f"before-{uuid.uuid4().hex[:8]}")
    assert before.status_code == 201, before.get_data(as_text=True)
    assert portal.transfer("transfer-before").status_code == 201
    org = f"/organizations/{portal.org_id}"
    db.session.rollback()  # the test's own session holds no connection through the cut

    proxy.cut()
    started = time.monotonic()
    refused_usage = portal.usage("during-cut")
    assert_unavailable(refused_usage)
    assert_unavailable(portal.transfer("transfer-during-cut"))
    assert_unavailable(portal.call("GET", f"{org}/balance"))
    assert_unavailable(portal.call("GET", f"{org}/movements"))
    event = {"organization_id": portal.org_id, "credits": 1, "reference": "b-1"}
    batch = {"events": [{**event, "account": portal.member}]}
    assert_unavailable(portal.call("POST", "/usage", batch))
    spanish = portal.call("GET", f"{org}/balance", headers={"Accept-Language": "es"})
    assert_unavailable(spanish)
    assert spanish.json["error"]["message"] == SPANISH
    page = portal.web.get(f"{org}/")
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) > 0
    assert "Try again in a moment" in page.get_data(as_text=True)
    health = portal.api.get("/healthz")  # the load balancer's check takes the server out
    assert health.status_code == 503
    assert int(health.headers["Retry-After"]) > 0
    assert time.monotonic() - started < 5  # a refused connection fails fast
    proxy.restore()

    # The pool's connections died with the cut: the first request after it must not get one.
    assert usage_postings("during-cut") == 0  # refused whole
    assert portal.usage("during-cut").status_code == 201  # the refused call, sent again
    assert portal.transfer("transfer-during-cut").status_code == 201
    assert portal.web.get(f"{org}/").status_code == 200
    assert portal.api.get("/healthz").json == {"status": "ok"}
    assert usage_postings("during-cut") == 2
    balance = portal.balance()
    assert balance["total_credits"] == 2 * FUNDS - 3 - 3
    assert balance["system_credits"] == FUNDS - 5 - 5


def test_the_first_request_after_a_quick_restart_nobody_saw_succeeds(portal, proxy):
    """The pool still holds connections the cut killed (no request noticed it): the first
    request after it gets a live one, not a 503."""
    for _ in range(3):
        assert portal.usage(f"warm-{uuid.uuid4().hex[:8]}").status_code == 201
        db.session.rollback()
        proxy.cut()
        time.sleep(0.2)
        proxy.restore()
        response = portal.usage(f"after-{uuid.uuid4().hex[:8]}")
        assert response.status_code == 201, response.get_data(as_text=True)
        assert portal.web.get(f"/organizations/{portal.org_id}/").status_code == 200


def test_a_cut_in_the_middle_of_traffic_loses_or_doubles_nothing(portal, proxy):
    """Usage charges go on while the proxy is cut and restored under them: each answer is
    201 or 503; a 503 left its charge whole or absent; sent again, each is charged once."""
    answers: dict[str, int] = {}
    stop = threading.Event()

    def cut_twice() -> None:
        for _ in range(2):
            time.sleep(0.5)
            proxy.cut()
            time.sleep(0.5)
            proxy.restore()
        time.sleep(0.3)
        stop.set()

    cutter = threading.Thread(target=cut_twice)
    cutter.start()
    while not stop.is_set():
        reference = f"load-{uuid.uuid4().hex[:10]}"
        answers[reference] = portal.usage(reference, credits=2).status_code
        if answers[reference] == 503:
            time.sleep(0.05)  # as a client honouring Retry-After would, a little
    cutter.join()

    assert set(answers.values()) <= {201, 503}, answers
    assert 503 in answers.values() and 201 in answers.values()
    applied = {reference: usage_postings(reference) for reference in answers}
    for reference, status in answers.items():
        # A charge and its counter-posting, or nothing: never half of it, never twice.
        assert applied[reference] == (2 if status == 201 else applied[reference]), reference
        assert applied[reference] in (0, 2), reference
    for reference, status in answers.items():
        if status == 503:  # sent again: charged now, or answered as already charged
            expected = 200 if applied[reference] else 201
            assert portal.usage(reference, credits=2).status_code == expected, reference
    assert {reference: usage_postings(reference) for reference in answers} == dict.fromkeys(
        answers, 2
    )
    assert portal.balance()["total_credits"] == 2 * FUNDS - 2 * len(answers)
