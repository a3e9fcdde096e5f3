"""Tenant isolation of every member page: another tenant's member answers 404, unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.models import AuditEntry, Member
from tests.conftest import owner_of
from tests.members.conftest import members_url

PAGES = [
    ("GET", ("",)),
    ("GET", ("new",)),
    ("POST", ("new",)),
    ("GET", ("{member}", "")),
    ("GET", ("{member}", "edit")),
    ("POST", ("{member}", "edit")),
    ("GET", ("{member}", "remove")),
    ("POST", ("{member}", "remove")),
    ("POST", ("{member}", "invitation")),
    ("POST", ("{member}", "invitation", "revoke")),
    ("GET", ("ownership",)),
    ("POST", ("ownership",)),
]

FORM = {
    "name": "Intruder",
    "email": "intruder@example.com",
    "portal_access": "yes",
    "role": "admin",
}


def _snapshot():
    members = db.session.scalars(select(Member).order_by(Member.id)).all()
    return (
        [(m.id, m.role, m.portal_access, m.removed_at, m.user.name, m.user.email) for m in members],
        db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.created_at.desc())),
    )


def _url(org, member, parts) -> str:
    return members_url(org, *(p.format(member=member.id) for p in parts))


@pytest.mark.parametrize(("method", "parts"), PAGES)
def test_another_resellers_staff_get_404_and_change_nothing(
    client, auth, acme, other_reseller, method, parts
):
    db.session.expire_all()
    before = _snapshot()
    auth.login(other_reseller.staff.email)
    for member in (acme.member, acme.owner):
        url = _url(acme.org, member, parts)
        data = {**FORM, "member": acme.member.id}
        response = client.get(url) if method == "GET" else client.post(url, data=data)
        assert response.status_code == 404, url
        # Through their own organization's URL, reseller A's member is not found either.
        url = _url(other_reseller.org, member, parts)
        if "{member}" in parts:
            response = client.get(url) if method == "GET" else client.post(url, data=data)
            assert response.status_code == 404, url
    db.session.expire_all()
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "parts"), [p for p in PAGES if "{member}" in p[1]])
def test_an_org_member_cannot_reach_other_members_pages(client, auth, acme, method, parts):
    before = _snapshot()
    auth.login(acme.member.user.email)
    for other in (acme.owner, acme.admin, acme.offline):
        url = _url(acme.org, other, parts)
        response = client.get(url) if method == "GET" else client.post(url, data=FORM)
        assert response.status_code == 404, url
    db.session.expire_all()
    assert _snapshot() == before


def test_an_org_admin_cannot_reach_another_organizations_members(
    client, auth, acme, create_organization
):
    neighbour = create_organization(acme.reseller, name="Neighbour")
    auth.login(acme.admin.user.email)
    other = owner_of(neighbour)
    for parts in (("",), ("{member}", ""), ("{member}", "edit")):
        assert client.get(_url(neighbour, other, parts)).status_code == 404
        # Nor through their own organization's URLs.
        if "{member}" in parts:
            assert client.get(_url(acme.org, other, parts)).status_code == 404
    assert client.post(_url(acme.org, other, ("{member}", "remove"))).status_code == 404
    db.session.refresh(other)
    assert other.removed_at is None
