"""Idempotency-Key: one effect per key, the first answer replayed, another body refused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import IdempotencyKey, Member, Organization
from tests.api.conftest import new_organization
from tests.api.test_auth_and_errors import assert_error


def count_orgs() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Organization))


def test_repeat_creates_one_organization_and_returns_the_same_answer(api, tenants):
    headers = {"Idempotency-Key": "create-nueva-1"}
    before = count_orgs()
    first = api.post("/organizations", tenants.key_a, new_organization(), headers=headers)
    assert first.status_code == 201
    # Same body, other key order and spacing: the same request.
    reordered = dict(reversed(list(new_organization().items())))
    second = api.post("/organizations", tenants.key_a, reordered, headers=headers)
    assert second.status_code == 201
    assert second.get_data() == first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_orgs() == before + 1


def test_same_key_with_another_body_is_409(api, tenants):
    headers = {"Idempotency-Key": "k-2"}
    assert (
        api.post("/organizations", tenants.key_a, new_organization(), headers=headers).status_code
        == 201
    )
    other = api.post(
        "/organizations", tenants.key_a, new_organization(name="Other"), headers=headers
    )
    assert_error(other, 409, "idempotency_key_reused")
    # Another path with the same key is another request too.
    path = f"/organizations/{tenants.acme.id}/suspend"
    assert_error(
        api.post(path, tenants.key_a, {"reason": "x"}, headers=headers),
        409,
        "idempotency_key_reused",
    )


def test_keys_belong_to_one_api_key(api, tenants, create_api_key):
    headers = {"Idempotency-Key": "shared"}
    other_key = create_api_key(tenants.a, name="second")
    assert (
        api.post("/organizations", tenants.key_a, new_organization(), headers=headers).status_code
        == 201
    )
    response = api.post(
        "/organizations",
        other_key,
        new_organization(owner={"name": "O", "email": "o2@example.com"}),
        headers=headers,
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


def test_a_refused_request_stores_nothing(api, tenants):
    headers = {"Idempotency-Key": "retry-me"}
    bad = api.post("/organizations", tenants.key_a, new_organization(country="XX"), headers=headers)
    assert bad.status_code == 422
    path = f"/organizations/{tenants.acme.id}/reactivate"
    assert_error(api.post(path, tenants.key_a, headers={"Idempotency-Key": "r"}), 409, "conflict")
    assert db.session.scalar(db.select(db.func.count()).select_from(IdempotencyKey)) == 0
    good = api.post("/organizations", tenants.key_a, new_organization(), headers=headers)
    assert good.status_code == 201


def test_a_running_request_makes_the_duplicate_wait_with_409(api, tenants):
    from reseller.api.idempotency import request_hash
    from tenants.models import ApiKey

    key = db.session.scalar(
        db.select(ApiKey).where(
            ApiKey.reseller_id == tenants.a.id, ApiKey.organization_id.is_(None)
        )
    )
    db.session.add(
        IdempotencyKey(
            reseller_id=tenants.a.id,
            api_key_id=key.id,
            key="busy",
            request_hash=request_hash("POST", "/api/v1/organizations", new_organization()),
        )
    )
    db.session.commit()
    response = api.post(
        "/organizations", tenants.key_a, new_organization(), headers={"Idempotency-Key": "busy"}
    )
    assert_error(response, 409, "idempotency_key_in_progress")
    # A claim abandoned by a crashed server is taken over after a while.
    row = db.session.scalar(db.select(IdempotencyKey).where(IdempotencyKey.key == "busy"))
    row.locked_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    response = api.post(
        "/organizations", tenants.key_a, new_organization(), headers={"Idempotency-Key": "busy"}
    )
    assert response.status_code == 201


def test_keys_expire_after_24_hours(api, tenants):
    headers = {"Idempotency-Key": "old"}
    assert (
        api.post("/organizations", tenants.key_a, new_organization(), headers=headers).status_code
        == 201
    )
    row = db.session.scalar(db.select(IdempotencyKey).where(IdempotencyKey.key == "old"))
    row.created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    again = api.post(
        "/organizations",
        tenants.key_a,
        new_organization(name="Second", owner={"name": "S", "email": "s@example.com"}),
        headers=headers,
    )
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers


@pytest.mark.parametrize("key", ["x" * 256, " padded", "padded ", "caf\u00e9", "tab\there"])
def test_bad_idempotency_keys_are_400(api, tenants, key):
    # Printable ASCII, no leading or trailing space: the rule the OpenAPI document states.
    response = api.post(
        "/organizations", tenants.key_a, new_organization(), headers={"Idempotency-Key": key}
    )
    assert_error(response, 400, "invalid_idempotency_key")


@pytest.mark.postgres_only
def test_concurrent_duplicates_execute_once(app, tenants):
    """Ten threads send the same POST at once: one organization, one member added."""
    from tests.api.conftest import Api
    from tests.conftest import FreshRequestClient

    path = f"/organizations/{tenants.acme.id}/members"
    body = {"name": "Racer", "email": "racer@example.com", "role": "member", "portal_access": False}
    statuses, barrier = [], threading.Barrier(10)

    def send():
        with app.app_context():
            client = FreshRequestClient(app)
            barrier.wait()
            response = Api(client).post(
                path, tenants.key_a, body, headers={"Idempotency-Key": "race"}
            )
            statuses.append(response.status_code)
            db.session.remove()

    key_a = tenants.key_a
    assert key_a
    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    db.session.expire_all()
    added = db.session.scalar(
        db.select(db.func.count())
        .select_from(Member)
        .join(Member.user)
        .where(Member.organization_id == tenants.acme.id)
        .where(db.text("users.email = 'racer@example.com'"))
    )
    assert added == 1


def test_a_repeated_suspend_answers_the_first_time_again(api, tenants):
    path = f"/organizations/{tenants.acme.id}/suspend"
    headers = {"Idempotency-Key": "suspend-acme"}
    first = api.post(path, tenants.key_a, {"reason": "Unpaid"}, headers=headers)
    again = api.post(path, tenants.key_a, {"reason": "Unpaid"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    # Without the key the second suspension is a conflict: the replay had no effect.
    assert_error(api.post(path, tenants.key_a, {"reason": "Unpaid"}), 409, "conflict")


def test_a_repeated_member_add_invites_once(api, tenants, app):
    from pathlib import Path

    outbox = Path(app.config["OUTBOX_DIR"])
    before = len(list(outbox.glob("*"))) if outbox.exists() else 0
    path = f"/organizations/{tenants.acme.id}/members"
    body = {"name": "Once", "email": "once@example.com", "role": "member", "portal_access": True}
    headers = {"Idempotency-Key": "add-once"}
    responses = [api.post(path, tenants.key_a, body, headers=headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.get_data() for r in responses}) == 1
    members = api.get(path, tenants.key_a).json["data"]
    assert [m["email"] for m in members].count("once@example.com") == 1
    assert len(list(outbox.glob("*"))) == before + 1
