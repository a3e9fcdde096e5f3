"""Members' individual credits through the API: removing a member returns them to the pool;
switching individual credits off is refused while members hold any, or moves them first."""

from __future__ import annotations

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models.ledger import SYSTEM_ACCOUNT
from tests.api.test_auth_and_errors import assert_error


@pytest.fixture
def funded(tenants):
    """Acme with individual user credits: 100 in the pool, 30 with Max and 12 with Ada."""
    tenants.acme.individual_user_credits = True
    commit()
    credits.add_credits(SYSTEM, tenants.acme, SYSTEM_ACCOUNT, 142)
    for member, n in ((tenants.acme_member, 30), (tenants.acme_admin, 12)):
        credits.transfer_credits(
            SYSTEM, tenants.acme, "system", f"member:{member.id}", n, agreed=True
        )
    commit()
    return tenants


def _balance(api, tenants) -> dict:
    db.session.expire_all()
    response = api.get(f"/organizations/{tenants.acme.id}/balance", tenants.key_a)
    assert response.status_code == 200
    body = response.json
    return {"system": body["system_credits"], "total": body["total_credits"]} | {
        user["member_id"]: user["credits"] for user in body["users"]
    }


def _movements(api, tenants, reference: str) -> list[tuple[str, str, int]]:
    response = api.get(f"/organizations/{tenants.acme.id}/movements", tenants.key_a)
    return sorted(
        (entry["type"], entry["account"], entry["credits"])
        for entry in response.json["data"]
        if entry["reference"] == reference
    )


def test_deleting_a_member_returns_their_credits_to_the_pool(api, funded):
    member = funded.acme_member
    path = f"/organizations/{funded.acme.id}/members/{member.id}"

    assert api.delete(path, funded.key_a).status_code == 204

    balance = _balance(api, funded)
    assert (balance["system"], balance[member.id], balance["total"]) == (130, 0, 142)
    assert _movements(api, funded, "member-removed") == [
        ("transfer_in", "system", 30),
        ("transfer_out", f"member:{member.id}", -30),
    ]
    # Nothing is stranded: the organization can be emptied and deleted.
    pool = {"credits": 130, "account": "system", "reason": "closing"}
    response = api.post(f"/organizations/{funded.acme.id}/withdrawals", funded.key_a, pool)
    assert response.status_code == 201, response.json
    admin = {"credits": 12, "account": f"member:{funded.acme_admin.id}", "reason": "closing"}
    assert (
        api.post(f"/organizations/{funded.acme.id}/withdrawals", funded.key_a, admin).status_code
        == 201
    )
    assert api.delete(f"/organizations/{funded.acme.id}", funded.key_a).status_code == 204


def test_switching_off_while_members_hold_credits_is_409(api, funded):
    path = f"/organizations/{funded.acme.id}"
    error = assert_error(
        api.patch(path, funded.key_a, {"individual_user_credits": False}),
        409,
        "member_credits_remain",
    )
    assert "42 credits" in error["message"]
    assert set(error["fields"]) == {"individual_user_credits"}
    assert api.get(path, funded.key_a).json["individual_user_credits"] is True
    assert _balance(api, funded)["system"] == 100


def test_move_member_credits_to_pool_switches_off_in_one_step(api, funded):
    path = f"/organizations/{funded.acme.id}"
    body = {"individual_user_credits": False, "move_member_credits_to_pool": True}

    response = api.patch(path, funded.key_a, body)

    assert response.status_code == 200, response.json
    assert response.json["individual_user_credits"] is False
    balance = _balance(api, funded)
    assert (balance["system"], balance["total"]) == (142, 142)
    assert {balance[funded.acme_member.id], balance[funded.acme_admin.id]} == {0}
    assert _movements(api, funded, "individual-credits-off") == sorted(
        [
            ("transfer_in", "system", 30),
            ("transfer_in", "system", 12),
            ("transfer_out", f"member:{funded.acme_member.id}", -30),
            ("transfer_out", f"member:{funded.acme_admin.id}", -12),
        ]
    )


def test_move_member_credits_to_pool_needs_the_switch_off(api, funded):
    path = f"/organizations/{funded.acme.id}"
    error = assert_error(
        api.patch(path, funded.key_a, {"move_member_credits_to_pool": True}),
        422,
        "validation_error",
    )
    assert set(error["fields"]) == {"move_member_credits_to_pool"}
    error = assert_error(
        api.patch(path, funded.key_a, {"move_member_credits_to_pool": "yes"}),
        422,
        "validation_error",
    )
    assert set(error["fields"]) == {"move_member_credits_to_pool"}


def test_the_move_is_documented(api, tenants):
    spec = api.get("/openapi.json", None).json
    update = spec["components"]["schemas"]["OrganizationUpdate"]["properties"]
    assert "individual-credits-off" in update["move_member_credits_to_pool"]["description"]
    patch = spec["paths"]["/api/v1/organizations/{org_id}"]["patch"]
    assert "member_credits_remain" in patch["description"]
