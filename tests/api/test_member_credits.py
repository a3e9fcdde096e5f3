"""Members' individual credits through the API: removing a member returns them to the pool."""

from __future__ import annotations

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models.ledger import SYSTEM_ACCOUNT


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
