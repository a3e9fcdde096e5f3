"""Platform admins manage a reseller's staff from its detail page: list, invite, change role,
remove — through the reseller's own staff service (its rules: always one admin)."""

from __future__ import annotations

from sqlalchemy import select

from tenants.core.extensions import db
from tenants.models import AuditEntry, PlatformRole, ResellerRole, ResellerStaff, User


def detail(team) -> str:
    return f"/platform/resellers/{team.reseller.id}"


def staff_of(reseller) -> dict[str, ResellerRole]:
    db.session.expire_all()
    rows = db.session.execute(
        select(User.email, ResellerStaff.role)
        .join(User, User.id == ResellerStaff.user_id)
        .where(ResellerStaff.reseller_id == reseller.id)
    ).all()
    return dict(rows)


def staff_id(reseller, user) -> str:
    return db.session.scalar(
        select(ResellerStaff.id).where(
            ResellerStaff.reseller_id == reseller.id, ResellerStaff.user_id == user.id
        )
    )


def test_the_detail_page_lists_the_staff_with_the_actions(platform_client, team):
    page = platform_client.get(detail(team)).get_data(as_text=True)
    assert team.admin.email in page and team.agent.email in page
    assert 'id="invite-staff"' in page
    sid = staff_id(team.reseller, team.agent)
    assert f"{detail(team)}/staff/{sid}/role" in page
    assert f"{detail(team)}/staff/{sid}/remove" in page


def test_platform_admin_invites_a_staff_member_who_gets_an_email(
    platform_client, team, smtp_server
):
    response = platform_client.post(
        f"{detail(team)}/staff/invite",
        data={"name": "Nina New", "email": "Nina@Example.com", "role": "agent"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{detail(team)}#staff")
    assert staff_of(team.reseller)["nina@example.com"] == ResellerRole.AGENT
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "nina@example.com"
    page = platform_client.get(detail(team)).get_data(as_text=True)
    assert "An invitation was sent to nina@example.com." in page
    assert "Invitation pending" in page


def test_an_invalid_invitation_shows_the_errors(platform_client, team):
    response = platform_client.post(
        f"{detail(team)}/staff/invite", data={"name": "", "email": "nope", "role": "boss"}
    )
    assert response.status_code == 422
    again = platform_client.post(
        f"{detail(team)}/staff/invite",
        data={"name": "Abe", "email": team.agent.email, "role": "agent"},
    )
    assert again.status_code == 422
    assert "This person is already on the staff." in again.get_data(as_text=True)
    assert len(staff_of(team.reseller)) == 2


def test_platform_admin_changes_a_role_and_the_last_admin_stays(platform_client, team):
    agent, admin = staff_id(team.reseller, team.agent), staff_id(team.reseller, team.admin)
    assert platform_client.post(f"{detail(team)}/staff/{agent}/role", data={"role": "admin"})
    assert staff_of(team.reseller)[team.agent.email] == ResellerRole.ADMIN
    platform_client.post(f"{detail(team)}/staff/{agent}/role", data={"role": "agent"})
    refused = platform_client.post(
        f"{detail(team)}/staff/{admin}/role", data={"role": "agent"}, follow_redirects=True
    )
    assert staff_of(team.reseller)[team.admin.email] == ResellerRole.ADMIN
    assert refused.status_code == 200
    bad = platform_client.post(f"{detail(team)}/staff/{agent}/role", data={"role": "owner"})
    assert bad.status_code == 302
    assert staff_of(team.reseller)[team.agent.email] == ResellerRole.AGENT
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.reseller_id == team.reseller.id)
    ).all()
    assert actions.count("reseller.staff_role_changed") == 2


def test_platform_admin_removes_a_staff_member_but_never_the_last_admin(platform_client, team):
    agent, admin = staff_id(team.reseller, team.agent), staff_id(team.reseller, team.admin)
    assert platform_client.post(f"{detail(team)}/staff/{agent}/remove").status_code == 302
    assert team.agent.email not in staff_of(team.reseller)
    refused = platform_client.post(f"{detail(team)}/staff/{admin}/remove", follow_redirects=True)
    assert refused.status_code == 200
    assert team.admin.email in staff_of(team.reseller)
    assert platform_client.post(f"{detail(team)}/staff/{agent}/remove").status_code == 404


def test_another_resellers_staff_is_404_through_this_reseller(platform_client, team, create_team):
    other = create_team("Other Telecom")
    foreign = staff_id(other.reseller, other.agent)
    for action, data in (("role", {"role": "admin"}), ("remove", {})):
        response = platform_client.post(f"{detail(team)}/staff/{foreign}/{action}", data=data)
        assert response.status_code == 404
    assert staff_of(other.reseller)[other.agent.email] == ResellerRole.AGENT


def test_support_agents_and_reseller_admins_cannot_manage_from_the_platform(
    client, auth, team, create_platform_staff
):
    support = create_platform_staff(PlatformRole.SUPPORT)
    agent = staff_id(team.reseller, team.agent)
    auth.login(support.email)
    page = client.get(detail(team)).get_data(as_text=True)
    assert team.agent.email in page and 'id="invite-staff"' not in page
    assert f"/staff/{agent}/remove" not in page
    invite = {"name": "X", "email": "x@example.com", "role": "agent"}
    assert client.post(f"{detail(team)}/staff/invite", data=invite).status_code == 403
    assert client.post(f"{detail(team)}/staff/{agent}/remove").status_code == 403
    auth.logout()
    auth.login(team.admin.email)
    assert client.post(f"{detail(team)}/staff/{agent}/remove").status_code == 403
    assert team.agent.email in staff_of(team.reseller)
