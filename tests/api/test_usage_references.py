"""A usage reference is charged once per organization (SPEC §4, §7, §10.3): the same
reference again — single or batch endpoint, any time later, prepaid or postpaid — charges
nothing and answers with the first result; a refused usage leaves the reference free."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import Charge, LedgerEntry, Organization
from tenants.organizations.operations import suspend_organization
from tests.api.test_auth_and_errors import assert_error
from tests.billing.test_concurrency import in_threads
from tests.conftest import set_prices
from tests.credits.conftest import fund, system_credits


def usage(api, org, key, reference, credits=10, **extra):
    body = {"credits": credits, "reference": reference, **extra}
    return api.post(f"/organizations/{org.id}/usage", key, body)


def batch(api, key, *events):
    """``events``: (organization, credits, reference) each."""
    body = {
        "events": [
            {"organization_id": org.id, "credits": credits, "reference": reference}
            for org, credits, reference in events
        ]
    }
    return api.post("/usage", key, body)


def usage_entries(org) -> list[LedgerEntry]:
    """The organization's usage entries on its charged accounts (not the counter-postings)."""
    db.session.expire_all()
    return db.session.scalars(
        sa.select(LedgerEntry).where(
            LedgerEntry.organization_id == org.id,
            LedgerEntry.type == "usage",
            LedgerEntry.account_kind.in_(("system", "member")),
        )
    ).all()


def debt(org) -> Decimal:
    db.session.expire_all()
    return db.session.get(Organization, org.id).debt


@pytest.fixture
def postpaid(tenants):
    """Beta, postpaid: €0.05 an SMS, 21 % tax in Spain, a credit limit of €100."""
    set_prices(tenants.a)
    tenants.beta.credit_limit = Decimal("100")
    commit()
    return tenants.beta


# ---------------------------------------------------------------------------
# The single endpoint


def test_a_repeated_reference_answers_the_first_entry_and_charges_once(api, tenants):
    fund(tenants.acme, 100)
    first = usage(api, tenants.acme, tenants.key_acme, "sms-1")
    assert first.status_code == 201
    again = usage(api, tenants.acme, tenants.key_a, "sms-1")
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.json == first.json
    # Whatever else the repeat carries: it is the same event, answered as before.
    other = usage(api, tenants.acme, tenants.key_acme, "sms-1", credits=30)
    assert (other.status_code, other.json["id"], other.json["credits"]) == (
        200,
        first.json["id"],
        -10,
    )
    assert system_credits(tenants.acme) == 90
    assert [e.id for e in usage_entries(tenants.acme)] == [first.json["id"]]


def test_a_repeated_reference_of_a_postpaid_organization_is_charged_once(api, tenants, postpaid):
    first = usage(api, postpaid, tenants.key_a, "campaign-7", credits=100)
    assert first.status_code == 201
    again = usage(api, postpaid, tenants.key_a, "campaign-7", credits=100)
    assert (again.status_code, again.json) == (200, first.json)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Charge)) == 1
    assert debt(postpaid) == Decimal("6.05")  # 100 x €0.05 + 21 %, once


def test_the_same_reference_in_another_organization_is_charged(api, tenants, create_organization):
    sibling = create_organization(tenants.a, name="Sibling")
    fund(tenants.acme, 50)
    fund(sibling, 50)
    assert usage(api, tenants.acme, tenants.key_a, "shared").status_code == 201
    assert usage(api, sibling, tenants.key_a, "shared").status_code == 201
    # Each organization's own repeat is the one that charges nothing.
    assert usage(api, tenants.acme, tenants.key_a, "shared").status_code == 200
    assert usage(api, sibling, tenants.key_a, "shared").status_code == 200
    assert (system_credits(tenants.acme), system_credits(sibling)) == (40, 40)


def test_a_refused_usage_leaves_its_reference_free_for_a_retry(api, tenants):
    fund(tenants.acme, 5)
    refused = usage(api, tenants.acme, tenants.key_acme, "retry-me")
    assert_error(refused, 402, "insufficient_credits")
    fund(tenants.acme, 20)
    retried = usage(api, tenants.acme, tenants.key_acme, "retry-me")
    assert (retried.status_code, retried.json["balance_after"]) == (201, 15)
    # Charged now, the reference is taken: the refusal claimed nothing, the retry did.
    again = usage(api, tenants.acme, tenants.key_acme, "retry-me")
    assert (again.status_code, again.json["id"]) == (200, retried.json["id"])
    assert system_credits(tenants.acme) == 15


def test_a_postpaid_usage_refused_at_the_limit_is_charged_after_a_higher_limit(
    api, tenants, postpaid
):
    postpaid.credit_limit = Decimal("1")
    commit()
    refused = usage(api, postpaid, tenants.key_a, "over", credits=100)
    assert_error(refused, 402, "insufficient_credits")
    db.session.get(Organization, postpaid.id).credit_limit = Decimal("100")
    commit()
    assert usage(api, postpaid, tenants.key_a, "over", credits=100).status_code == 201
    assert usage(api, postpaid, tenants.key_a, "over", credits=100).status_code == 200
    assert debt(postpaid) == Decimal("6.05")


def test_a_repeat_any_time_later_still_answers_the_first_entry(api, tenants):
    """Even once the organization is suspended, or with a time now too old to charge."""
    fund(tenants.acme, 50)
    first = usage(api, tenants.acme, tenants.key_a, "sent-long-ago")
    suspend_organization(SYSTEM, db.session.get(Organization, tenants.acme.id), "unpaid")
    commit()
    old = (utcnow() - timedelta(days=400)).isoformat()
    again = usage(api, tenants.acme, tenants.key_a, "sent-long-ago", occurred_at=old)
    assert (again.status_code, again.json) == (200, first.json)
    assert_error(usage(api, tenants.acme, tenants.key_a, "new-one"), 409, "organization_suspended")


def test_the_openapi_document_states_the_repeat(api):
    operation = api.get("/openapi.json", None).json["paths"][
        "/api/v1/organizations/{org_id}/usage"
    ]["post"]
    assert {"200", "201"} <= set(operation["responses"])
    assert "charged once per organization" in operation["description"]


# ---------------------------------------------------------------------------
# The batch endpoint


def test_a_batch_answers_duplicates_within_it_and_of_earlier_calls(api, tenants):
    fund(tenants.acme, 100)
    earlier = usage(api, tenants.acme, tenants.key_a, "sent-before").json["id"]
    response = batch(
        api,
        tenants.key_a,
        (tenants.acme, 10, "new-1"),
        (tenants.acme, 10, "new-1"),
        (tenants.acme, 10, "sent-before"),
        (tenants.acme, 5, "new-2"),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    results = body["results"]
    assert [r["status"] for r in results] == ["accepted", "duplicate", "duplicate", "accepted"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[1]["entry_id"] == results[0]["entry_id"]
    assert results[2]["entry_id"] == earlier
    assert (body["accepted"], body["duplicates"], body["refused"]) == (2, 2, 0)
    assert system_credits(tenants.acme) == 100 - 10 - 10 - 5
    # And the single endpoint knows the batch's references.
    again = usage(api, tenants.acme, tenants.key_a, "new-2")
    assert (again.status_code, again.json["id"]) == (200, results[3]["entry_id"])


def test_a_batch_charges_a_postpaid_reference_once(api, tenants, postpaid):
    first = batch(api, tenants.key_a, (postpaid, 100, "p-1"), (postpaid, 100, "p-1")).json
    again = batch(api, tenants.key_a, (postpaid, 100, "p-1")).json
    assert [r["status"] for r in first["results"]] == ["accepted", "duplicate"]
    assert again["results"] == [
        {"index": 0, "status": "duplicate", "entry_id": first["results"][0]["entry_id"]}
    ]
    assert debt(postpaid) == Decimal("6.05")


def test_each_event_stands_alone_in_array_order_and_a_refused_one_may_be_retried(api, tenants):
    fund(tenants.acme, 10)
    response = batch(
        api,
        tenants.key_acme,
        (tenants.acme, 6, "a"),
        (tenants.acme, 6, "b"),  # 4 left: refused, the others still apply
        (tenants.acme, 6, "b"),  # the same event again: refused alike
        (tenants.acme, 4, "c"),
    )
    body = response.json
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "refused",
        "refused",
        "accepted",
    ]
    assert body["results"][1]["error"]["code"] == "insufficient_credits"
    assert body["results"][1]["error"]["message"]
    assert "entry_id" not in body["results"][1]
    assert (body["accepted"], body["duplicates"], body["refused"]) == (2, 0, 2)
    assert system_credits(tenants.acme) == 0
    fund(tenants.acme, 6)
    retried = batch(api, tenants.key_acme, (tenants.acme, 6, "b")).json
    assert retried["results"][0]["status"] == "accepted"
    assert system_credits(tenants.acme) == 0


def test_a_batch_refuses_organizations_out_of_the_keys_reach(api, tenants):
    fund(tenants.acme, 50)
    fund(tenants.zeta, 50)
    # Reseller A's key may name its organizations, never reseller B's.
    body = batch(
        api, tenants.key_a, (tenants.zeta, 5, "x"), (tenants.acme, 5, "x"), (tenants.zeta, 5, "y")
    ).json
    assert [r["status"] for r in body["results"]] == ["refused", "accepted", "refused"]
    assert body["results"][0]["error"]["code"] == "not_found"
    # An organization key names only its own organization.
    own = batch(api, tenants.key_acme, (tenants.beta, 5, "z"), (tenants.acme, 5, "z")).json
    assert [r["status"] for r in own["results"]] == ["refused", "accepted"]
    assert (system_credits(tenants.acme), system_credits(tenants.zeta)) == (40, 50)
    assert usage_entries(tenants.zeta) == []


def test_a_batch_event_naming_no_record_id_is_refused_not_found(api, tenants):
    # A NUL (which PostgreSQL cannot hold) or another format names no organization: the
    # event is refused as not found and the others of the batch are charged.
    fund(tenants.acme, 50)
    body = {
        "events": [
            {"organization_id": "\u00a9\u0000k+", "credits": 5, "reference": "n"},
            {"organization_id": "org_x", "credits": 5, "reference": "n"},
            {"organization_id": tenants.acme.id, "credits": 5, "reference": "n"},
        ]
    }
    answer = api.post("/usage", tenants.key_a, body).json
    assert [r["status"] for r in answer["results"]] == ["refused", "refused", "accepted"]
    assert {r["error"]["code"] for r in answer["results"][:2]} == {"not_found"}
    assert system_credits(tenants.acme) == 45


def test_a_batch_is_at_most_1000_events(api, tenants):
    response = batch(api, tenants.key_a, *[(tenants.acme, 1, f"r{i}") for i in range(1001)])
    assert "events" in assert_error(response, 422, "validation_error")["fields"]


# ---------------------------------------------------------------------------
# Concurrency (PostgreSQL): one charge whoever sends the reference at once


@pytest.mark.postgres_only
def test_the_same_reference_from_16_clients_at_once_is_charged_once(app, tenants):
    fund(tenants.acme, 1000)
    url = f"/api/v1/organizations/{tenants.acme.id}/usage"
    headers = {"Authorization": f"Bearer {tenants.key_acme}"}

    answers: list[tuple[int, str]] = []

    def post(_index):
        client = FlaskClient(app, app.response_class)  # its own client, no shared context
        response = client.post(url, json={"credits": 10, "reference": "race"}, headers=headers)
        answers.append((response.status_code, response.get_json()["id"]))

    assert in_threads(app, 16, post) == []
    assert sorted(status for status, _ in answers) == [200] * 15 + [201]
    assert len({entry_id for _, entry_id in answers}) == 1
    assert system_credits(tenants.acme) == 990
    assert len(usage_entries(tenants.acme)) == 1


@pytest.mark.postgres_only
def test_16_batches_at_once_with_a_shared_reference_charge_it_once(app, tenants, postpaid):
    fund(tenants.acme, 1000)
    headers = {"Authorization": f"Bearer {tenants.key_a}"}
    acme, beta = tenants.acme.id, postpaid.id
    answers: list[list[dict]] = []

    def post(index):
        events = [
            {"organization_id": org, "credits": 10, "reference": reference}
            for org in (beta, acme)
            for reference in ("shared", f"own-{index}")
        ]
        client = FlaskClient(app, app.response_class)
        response = client.post("/api/v1/usage", json={"events": events}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.get_json()["results"])

    assert in_threads(app, 16, post) == []
    for shared in (0, 2):  # beta's and acme's shared event in every batch
        statuses = sorted(results[shared]["status"] for results in answers)
        assert statuses == ["accepted"] + ["duplicate"] * 15
        assert len({results[shared]["entry_id"] for results in answers}) == 1
    assert system_credits(tenants.acme) == 1000 - 10 * 17
    assert len(usage_entries(postpaid)) == 17
