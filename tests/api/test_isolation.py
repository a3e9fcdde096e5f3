"""Reseller B's key gets 404 on every organization and member of reseller A — and nothing
changes; an organization key sees only its own organization."""

from __future__ import annotations

import json

from tenants.core.extensions import db
from tenants.models import AuditEntry, Member, Organization
from tests.api.test_auth_and_errors import assert_error


def snapshot(tenants) -> str:
    """Everything reseller A has, as text: any change shows."""
    db.session.expire_all()
    orgs = db.session.scalars(
        db.select(Organization).where(Organization.reseller_id == tenants.a.id)
    ).all()
    members = db.session.scalars(db.select(Member).where(Member.reseller_id == tenants.a.id)).all()
    return json.dumps(
        [
            sorted((o.id, o.name, o.status.value, o.billing_address) for o in orgs),
            sorted((m.id, m.role.value, m.portal_access, str(m.removed_at)) for m in members),
            db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)),
        ],
        default=str,
    )


def requests_on(tenants, org, member_id):
    base = f"/organizations/{org.id}"
    member = f"{base}/members/{member_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"name": "Hacked"}),
        ("DELETE", base, None),
        ("POST", f"{base}/suspend", {"reason": "hack"}),
        ("POST", f"{base}/reactivate", None),
        ("POST", f"{base}/ownership", {"member_id": member_id, "reason": "support case"}),
        ("GET", f"{base}/members", None),
        (
            "POST",
            f"{base}/members",
            {"name": "Eve", "email": "eve@example.com", "role": "admin", "portal_access": True},
        ),
        ("GET", member, None),
        ("PATCH", member, {"role": "admin"}),
        ("DELETE", member, None),
    ]


def test_another_resellers_key_gets_404_everywhere_and_changes_nothing(api, tenants):
    before = snapshot(tenants)
    for org, member in (
        (tenants.acme, tenants.acme_admin.id),
        (tenants.acme, tenants.acme_owner.id),
        (tenants.beta, tenants.acme_member.id),
    ):
        for method, path, body in requests_on(tenants, org, member):
            response = api.call(
                method, path, tenants.key_b, body, headers={"Idempotency-Key": f"{method}{path}"}
            )
            assert_error(response, 404, "not_found")
    assert snapshot(tenants) == before
    names = [o["name"] for o in api.get("/organizations", tenants.key_b).json["data"]]
    assert names == ["Zeta"]


def test_an_organization_key_gets_404_on_other_organizations(api, tenants):
    before = snapshot(tenants)
    beta_owner = db.session.scalar(
        db.select(Member.id).where(Member.organization_id == tenants.beta.id)
    )
    for org, member in ((tenants.beta, beta_owner), (tenants.zeta, tenants.acme_owner.id)):
        for method, path, body in requests_on(tenants, org, member):
            assert_error(api.call(method, path, tenants.key_acme, body), 404, "not_found")
    assert snapshot(tenants) == before


def test_a_member_of_another_organization_is_404_under_mine(api, tenants):
    before = snapshot(tenants)
    beta_owner = db.session.scalar(
        db.select(Member.id).where(Member.organization_id == tenants.beta.id)
    )
    path = f"/organizations/{tenants.acme.id}/members/{beta_owner}"
    for method, body in (("GET", None), ("PATCH", {"name": "X"}), ("DELETE", None)):
        assert_error(api.call(method, path, tenants.key_a, body), 404, "not_found")
    assert snapshot(tenants) == before
