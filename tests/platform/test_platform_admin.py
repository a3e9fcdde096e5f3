"""Platform admins create, suspend and reactivate resellers and manage the platform staff."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tenants.core.errors import CannotRemoveYourself, LastAdminRequired
from tenants.core.extensions import db
from tenants.models import (
    AuditEntry,
    PlatformRole,
    PlatformStaff,
    Reseller,
    ResellerRole,
    ResellerStaff,
    ResellerStatus,
)
from tenants.resellers import operations as resellers
from tests.conftest import PASSWORD, link_in, owner_of
from tests.platform.conftest import platform_actor


def test_platform_admin_creates_a_reseller_whose_admin_is_invited(
    platform_client, client, auth, smtp_server
):
    response = platform_client.post(
        "/platform/resellers/new",
        data={
            "name": "Ñandú Mobile SL",
            "default_language": "es",
            "admin_name": "Rosa Reseller",
            "admin_email": "rosa@example.com",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"nandu-mobile-sl" in response.data
    assert b'id="reseller-slug">nandu-mobile-sl<' in response.data
    assert b"An invitation was sent to rosa@example.com." in response.data
    reseller = db.session.scalar(select(Reseller).where(Reseller.slug == "nandu-mobile-sl"))
    assert reseller.default_language == "es"
    staff = db.session.scalar(select(ResellerStaff).where(ResellerStaff.reseller_id == reseller.id))
    assert staff.role == ResellerRole.ADMIN
    assert staff.user.email == "rosa@example.com"
    message = smtp_server.wait_for(1)[0]
    assert "rosa@example.com" in message["To"]
    path = urlsplit(link_in(message)).path
    auth.logout()
    client.post(path, data={"password": "rosa's password!", "confirm": "rosa's password!"})
    response = auth.login("rosa@example.com", "rosa's password!")
    assert response.headers["Location"] == "/customers/"
    assert client.get("/reseller/settings/staff").status_code == 200


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"name": "", "admin_name": "R", "admin_email": "r@example.com"}, b"required"),
        ({"name": "!!!", "admin_name": "R", "admin_email": "r@example.com"}, b"letter or digit"),
        ({"name": "X" * 10_000, "admin_name": "R", "admin_email": "r@example.com"}, b"200"),
        ({"name": "Good", "admin_name": "R", "admin_email": "nope"}, b"Not a valid email"),
        (
            {
                "name": "Good",
                "admin_name": "R",
                "admin_email": "r@example.com",
                "default_language": "fr",
            },
            b"invalid-feedback",
        ),
    ],
)
def test_bad_reseller_input_is_refused(platform_client, data, field_message):
    response = platform_client.post(
        "/platform/resellers/new", data={"default_language": "en", **data}
    )
    assert response.status_code == 422
    assert field_message in response.data
    assert db.session.scalar(select(Reseller)) is None


def test_a_duplicate_reseller_name_is_refused(platform_client, create_reseller):
    create_reseller("Acme Telecom")
    response = platform_client.post(
        "/platform/resellers/new",
        data={
            "name": "ACME  telecom",
            "default_language": "en",
            "admin_name": "R",
            "admin_email": "r@example.com",
        },
    )
    assert response.status_code == 422
    assert b"A reseller with this name already exists." in response.data


def test_suspended_resellers_staff_are_refused_and_its_customers_keep_working(
    platform_client, client, auth, team, create_organization
):
    org = create_organization(team.reseller)
    response = platform_client.post(
        f"/platform/resellers/{team.reseller.id}/suspend",
        data={"reason": "Unpaid platform fees"},
        follow_redirects=True,
    )
    assert b"is suspended" in response.data
    assert b"Unpaid platform fees" in response.data
    db.session.expire_all()
    assert db.session.get(Reseller, team.reseller.id).status == ResellerStatus.SUSPENDED
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "reseller.suspended"))
    assert entry.changes["reason"] == "Unpaid platform fees"
    auth.logout()

    response = auth.login(team.admin.email)
    assert response.status_code == 403
    assert b"Your reseller account is suspended" in response.data
    response = auth.login(owner_of(org).user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/organizations/{org.id}/"
    auth.logout()

    auth.login(admin_client_email := db.session.scalar(select(PlatformStaff)).user.email)
    assert admin_client_email
    response = client.post(
        f"/platform/resellers/{team.reseller.id}/reactivate",
        data={"reason": "Paid"},
        follow_redirects=True,
    )
    assert b"is active again" in response.data
    auth.logout()
    assert auth.login(team.admin.email).headers["Location"] == "/customers/"


def test_suspension_and_reactivation_are_audited_with_the_status_change_and_reason(
    team, platform_admin
):
    actor = platform_actor(platform_admin)
    resellers.suspend_reseller(actor, team.reseller, "Unpaid platform fees")
    resellers.reactivate_reseller(actor, team.reseller)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_id == team.reseller.id)
        .where(AuditEntry.action.in_(("reseller.suspended", "reseller.reactivated")))
    ).all()
    changes = {entry.action: entry.changes for entry in entries}
    assert changes == {
        "reseller.suspended": {"status": ["active", "suspended"], "reason": "Unpaid platform fees"},
        "reseller.reactivated": {"status": ["suspended", "active"], "reason": None},
    }
    assert all(entry.reseller_id == team.reseller.id for entry in entries)
    assert team.reseller.suspended_at is None and team.reseller.suspension_reason is None


def test_a_logged_in_staff_member_is_logged_out_when_the_reseller_is_suspended(
    client, auth, team, platform_admin
):
    auth.login(team.agent.email)
    assert client.get("/customers/").status_code == 200
    resellers.suspend_reseller(platform_actor(platform_admin), team.reseller, "Fraud check")
    from tenants.jobs.outbox import commit

    commit()
    response = client.get("/customers/", follow_redirects=True)
    assert b"Your reseller account is suspended" in response.data


def test_suspension_needs_a_reason(platform_client, team):
    response = platform_client.post(f"/platform/resellers/{team.reseller.id}/suspend", data={})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Reseller, team.reseller.id).status == ResellerStatus.ACTIVE


def test_reseller_detail_shows_its_staff_and_organization_count(
    platform_client, team, create_organization
):
    create_organization(team.reseller)
    create_organization(team.reseller)
    page = platform_client.get(f"/platform/resellers/{team.reseller.id}")
    assert page.status_code == 200
    assert team.admin.email.encode() in page.data
    assert team.agent.email.encode() in page.data
    assert b"acme-telecom" in page.data
    assert b'id="suspend-reseller"' in page.data
    assert platform_client.get("/platform/resellers/rsl_nope").status_code == 404


def test_support_agents_see_the_platform_read_only(client, auth, team, create_platform_staff):
    support = create_platform_staff(PlatformRole.SUPPORT)
    auth.login(support.email)
    overview = client.get("/platform/")
    assert overview.status_code == 200
    assert b"Acme Telecom" in overview.data
    assert b"/platform/resellers/new" not in overview.data
    detail = client.get(f"/platform/resellers/{team.reseller.id}")
    assert detail.status_code == 200
    assert b'id="suspend-reseller"' not in detail.data
    assert client.get("/platform/resellers/new").status_code == 403
    assert (
        client.post(f"/platform/resellers/{team.reseller.id}/suspend", data={"reason": "x"})
    ).status_code == 403
    assert client.get("/platform/staff").status_code == 403


def test_reseller_staff_and_members_get_403_on_platform_pages(
    client, auth, team, create_organization
):
    auth.login(team.admin.email)
    for path in ("/platform/", "/platform/staff", f"/platform/resellers/{team.reseller.id}"):
        assert client.get(path).status_code == 403
    assert (
        client.post(f"/platform/resellers/{team.reseller.id}/suspend", data={"reason": "x"})
    ).status_code == 403
    auth.logout()
    org = create_organization(team.reseller)
    auth.login(owner_of(org).user.email)
    assert client.get("/platform/resellers/new").status_code == 403


def test_platform_staff_invite_role_change_and_removal(
    platform_client, client, auth, platform_admin, smtp_server
):
    response = platform_client.post(
        "/platform/staff/invite",
        data={"name": "Sam Support", "email": "sam@example.com", "role": "support"},
        follow_redirects=True,
    )
    assert b"An invitation was sent to sam@example.com." in response.data
    assert b"Sam Support" in response.data
    sam = db.session.scalar(
        select(PlatformStaff).join(PlatformStaff.user).where(PlatformStaff.role == "support")
    )
    message = smtp_server.wait_for(1)[0]
    path = urlsplit(link_in(message)).path
    platform_client.post(f"/platform/staff/{sam.id}/role", data={"role": "admin"})
    db.session.expire_all()
    assert db.session.get(PlatformStaff, sam.id).role == PlatformRole.ADMIN
    response = platform_client.post(f"/platform/staff/{sam.id}/remove", follow_redirects=True)
    assert b"Sam Support was removed from the platform staff." in response.data
    assert db.session.get(PlatformStaff, sam.id) is None
    assert client.get(path).status_code == 200  # the set-password link itself still opens


def test_the_last_platform_admin_stays(platform_client, platform_admin, create_platform_staff):
    me = db.session.scalar(select(PlatformStaff).where(PlatformStaff.user_id == platform_admin.id))
    response = platform_client.post(
        f"/platform/staff/{me.id}/role", data={"role": "support"}, follow_redirects=True
    )
    assert b"There must always be at least one administrator." in response.data
    db.session.expire_all()
    assert db.session.get(PlatformStaff, me.id).role == PlatformRole.ADMIN
    with pytest.raises(LastAdminRequired):
        from tenants.access.actors import SYSTEM

        resellers.remove_platform_staff(SYSTEM, me.id)
    db.session.rollback()
    with pytest.raises(CannotRemoveYourself):
        resellers.remove_platform_staff(platform_actor(platform_admin), me.id)
    db.session.rollback()
    other = create_platform_staff(PlatformRole.ADMIN, name="Second Admin")
    other_row = db.session.scalar(select(PlatformStaff).where(PlatformStaff.user_id == other.id))
    response = platform_client.post(f"/platform/staff/{other_row.id}/remove", follow_redirects=True)
    assert b"Second Admin was removed" in response.data


def test_inviting_an_existing_platform_staff_member_is_refused(platform_client, platform_admin):
    response = platform_client.post(
        "/platform/staff/invite",
        data={"name": "Pat", "email": platform_admin.email, "role": "support"},
    )
    assert response.status_code == 422
    assert b"already on the staff" in response.data


def test_unknown_platform_staff_is_404(platform_client):
    assert platform_client.post("/platform/staff/stf_nope/remove").status_code == 404
    assert (
        platform_client.post("/platform/staff/stf_nope/role", data={"role": "admin"}).status_code
        == 404
    )


def test_login_password_constant_is_shared():
    assert PASSWORD
