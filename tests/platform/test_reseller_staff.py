"""Reseller admins invite, re-role and remove their staff; there is always an admin."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tenants.core.errors import CannotRemoveYourself, LastAdminRequired, NotFound
from tenants.core.extensions import db
from tenants.models import AuditEntry, ResellerRole, ResellerStaff
from tenants.resellers import operations as resellers
from tests.conftest import link_in


def staff_row(reseller, user) -> ResellerStaff:
    return db.session.scalar(
        select(ResellerStaff).where(
            ResellerStaff.reseller_id == reseller.id, ResellerStaff.user_id == user.id
        )
    )


def test_staff_page_lists_name_email_role(admin_client, team):
    page = admin_client.get("/reseller/settings/staff")
    assert page.status_code == 200
    for text in (team.admin.name, team.admin.email, team.agent.email, "Agent", "Admin"):
        assert text.encode() in page.data


def test_invited_staff_member_sets_a_password_once_and_logs_in(
    admin_client, client, auth, team, smtp_server
):
    response = admin_client.post(
        "/reseller/settings/staff/invite",
        data={"name": "Nina New", "email": "Nina@Example.com", "role": "agent"},
        follow_redirects=True,
    )
    assert b"An invitation was sent to nina@example.com." in response.data
    assert b"Nina New" in response.data
    message = smtp_server.wait_for(1)[0]
    assert "nina@example.com" in message["To"]
    path = urlsplit(link_in(message)).path
    auth.logout()
    assert client.get(path).status_code == 200
    response = client.post(
        path, data={"password": "a new long password", "confirm": "a new long password"}
    )
    assert response.status_code == 302
    # The link works once only.
    response = client.get(path, follow_redirects=True)
    assert b"This link is invalid, has expired or has already been used." in response.data
    response = auth.login("nina@example.com", "a new long password")
    assert response.headers["Location"] == "/customers/"
    assert client.get("/reseller/settings/staff").status_code == 403  # an agent


def test_invitation_is_audited(admin_client, team, smtp_server):
    admin_client.post(
        "/reseller/settings/staff/invite",
        data={"name": "Nina New", "email": "nina@example.com", "role": "admin"},
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "reseller.staff_added"))
    assert entry.reseller_id == team.reseller.id
    assert entry.actor_user_id == team.admin.id
    assert entry.changes == {"role": [None, "admin"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Nina", "email": "not-an-email", "role": "agent"}, b"Not a valid email"),
        ({"name": "", "email": "nina@example.com", "role": "agent"}, b"required"),
        ({"name": "N" * 10_000, "email": "nina@example.com", "role": "agent"}, b"200"),
        ({"name": "Nina", "email": "nina@example.com", "role": "owner"}, b"invalid-feedback"),
    ],
)
def test_bad_invitations_are_refused_with_a_field_error(admin_client, team, data, message):
    response = admin_client.post("/reseller/settings/staff/invite", data=data)
    assert response.status_code == 422
    assert message in response.data
    assert db.session.scalar(select(ResellerStaff).where(ResellerStaff.role == "agent")) is not None
    assert len(db.session.scalars(select(ResellerStaff)).all()) == 2


def test_inviting_someone_already_on_the_staff_is_refused(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/staff/invite",
        data={"name": "Abe", "email": team.agent.email, "role": "admin"},
    )
    assert response.status_code == 422
    assert b"already on the staff" in response.data
    assert staff_row(team.reseller, team.agent).role == ResellerRole.AGENT


def test_admin_changes_a_role(admin_client, team):
    row = staff_row(team.reseller, team.agent)
    response = admin_client.post(
        f"/reseller/settings/staff/{row.id}/role", data={"role": "admin"}, follow_redirects=True
    )
    assert b"The role of Abe Agent was changed." in response.data
    db.session.expire_all()
    assert staff_row(team.reseller, team.agent).role == ResellerRole.ADMIN
    assert db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "reseller.staff_role_changed")
    ).changes == {"role": ["agent", "admin"]}


def test_the_last_admin_cannot_be_demoted_or_removed(team):
    row = staff_row(team.reseller, team.admin)
    with pytest.raises(LastAdminRequired):
        resellers.change_reseller_staff_role(team.admin_actor, team.reseller, row.id, "agent")
    db.session.rollback()
    from tenants.access.actors import SYSTEM

    with pytest.raises(LastAdminRequired):
        resellers.remove_reseller_staff(SYSTEM, team.reseller, row.id)


def test_last_admin_demotion_is_refused_in_the_portal(admin_client, team):
    row = staff_row(team.reseller, team.admin)
    response = admin_client.post(
        f"/reseller/settings/staff/{row.id}/role", data={"role": "agent"}, follow_redirects=True
    )
    assert b"There must always be at least one administrator." in response.data
    db.session.expire_all()
    assert staff_row(team.reseller, team.admin).role == ResellerRole.ADMIN


def test_an_admin_cannot_remove_themselves(admin_client, team):
    with pytest.raises(CannotRemoveYourself):
        resellers.remove_reseller_staff(
            team.admin_actor, team.reseller, staff_row(team.reseller, team.admin).id
        )
    db.session.rollback()
    row = staff_row(team.reseller, team.admin)
    response = admin_client.post(f"/reseller/settings/staff/{row.id}/remove", follow_redirects=True)
    assert b"You cannot remove yourself." in response.data
    assert staff_row(team.reseller, team.admin) is not None


def test_admin_removes_an_agent_who_then_loses_access(client, auth, team):
    row_id = staff_row(team.reseller, team.agent).id
    auth.login(team.admin.email)
    response = client.post(f"/reseller/settings/staff/{row_id}/remove", follow_redirects=True)
    assert b"Abe Agent was removed from the staff." in response.data
    assert staff_row(team.reseller, team.agent) is None
    auth.logout()
    response = auth.login(team.agent.email)
    assert response.status_code == 403


def test_another_resellers_staff_is_not_found(client, auth, team, create_team):
    other = create_team("Other Telecom")
    foreign = staff_row(other.reseller, other.agent)
    with pytest.raises(NotFound):
        resellers.remove_reseller_staff(team.admin_actor, team.reseller, foreign.id)
    with pytest.raises(NotFound):
        resellers.change_reseller_staff_role(team.admin_actor, other.reseller, foreign.id, "admin")
    db.session.rollback()
    auth.login(team.admin.email)
    assert client.post(f"/reseller/settings/staff/{foreign.id}/remove").status_code == 404
    assert (
        client.post(f"/reseller/settings/staff/{foreign.id}/role", data={"role": "admin"})
    ).status_code == 404
    assert b"Other Telecom" not in client.get("/reseller/settings/staff").data
    db.session.expire_all()
    assert staff_row(other.reseller, other.agent).role == ResellerRole.AGENT


def test_agents_get_403_on_staff_actions(client, auth, team):
    auth.login(team.agent.email)
    row = staff_row(team.reseller, team.admin)
    assert client.get("/reseller/settings/staff").status_code == 403
    assert client.post(f"/reseller/settings/staff/{row.id}/remove").status_code == 403
    assert (
        client.post(
            "/reseller/settings/staff/invite",
            data={"name": "X", "email": "x@example.com", "role": "admin"},
        ).status_code
        == 403
    )
