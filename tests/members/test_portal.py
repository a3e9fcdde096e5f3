"""Each member action through the portal: the form, then the page the user sees."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import AuditEntry, Member, MemberRole, User
from tests.conftest import PASSWORD, link_in, owner_of
from tests.members.conftest import members_url


def _page(response) -> str:
    return response.get_data(as_text=True)


def _member_of(org, email: str) -> Member | None:
    return db.session.scalar(
        select(Member)
        .join(User, User.id == Member.user_id)
        .where(Member.organization_id == org.id, User.email == email)
    )


def test_members_list_shows_each_member_with_a_view_link(client, auth, acme):
    auth.login(acme.staff.email)
    page = _page(client.get(members_url(acme.org, "")))
    for member in (acme.owner, acme.admin, acme.member, acme.offline):
        assert member.user.email in page
        assert members_url(acme.org, member.id, "") in page
    assert "Add new member" in page
    assert "Joined" in page and "Portal access" in page and "Mobile" in page


def test_staff_adds_a_member_with_the_add_new_member_form(client, auth, acme):
    auth.login(acme.staff.email)
    form = _page(client.get(members_url(acme.org, "new")))
    for label in ("Name", "Email", "Mobile", "Portal Access", "Role", "Admin", "Member"):
        assert f">{label}<" in form

    response = client.post(
        members_url(acme.org, "new"),
        data={
            "name": "Nora New",
            "email": "Nora@Example.com",
            "mobile": "+34 600 000 002",
            "portal_access": "yes",
            "role": "admin",
        },
        follow_redirects=True,
    )

    page = _page(response)
    assert response.status_code == 200
    assert "Nora New has been added and invited by email to nora@example.com." in page
    assert "+34 600 00 00 02" in page
    member = _member_of(acme.org, "nora@example.com")
    assert member.role == MemberRole.ADMIN and member.portal_access
    assert member.user.mobile == "+34600000002"


def test_org_admin_adds_a_member_without_portal_access(client, auth, acme):
    auth.login(acme.admin.user.email)
    response = client.post(
        members_url(acme.org, "new"),
        data={"name": "Sam Field", "email": "sam@example.com", "portal_access": "no"},
        follow_redirects=True,
    )
    assert "Sam Field has been added." in _page(response)
    member = _member_of(acme.org, "sam@example.com")
    assert member.role == MemberRole.MEMBER and not member.portal_access


def test_new_member_receives_an_invitation_link_that_works_once(client, auth, acme, smtp_server):
    auth.login(acme.staff.email)
    client.post(
        members_url(acme.org, "new"),
        data={"name": "Ivy Invited", "email": "ivy@example.com", "portal_access": "yes"},
    )
    auth.logout()
    [email] = smtp_server.wait_for(1)
    assert "ivy@example.com" in str(email["To"])
    link = link_in(email).removeprefix("http://portal.test")

    assert client.get(link).status_code == 200
    response = client.post(
        link, data={"password": "a brand new pass", "confirm": "a brand new pass"}
    )
    assert response.headers["Location"].endswith("/login")
    assert auth.login("ivy@example.com", "a brand new pass").status_code == 302
    auth.logout()

    again = client.get(link, follow_redirects=True)
    assert "This link is invalid, has expired or has already been used." in _page(again)


def test_adding_a_current_member_again_is_refused_on_the_email(client, auth, acme):
    auth.login(acme.staff.email)
    response = client.post(
        members_url(acme.org, "new"),
        data={"name": "Mel", "email": acme.member.user.email, "portal_access": "yes"},
    )
    page = _page(response)
    assert 'id="email-error"' in page
    assert "This person is already a member of the organization." in page
    assert db.session.scalar(select(func.count()).select_from(Member)) == 4


def test_a_removed_member_added_again_is_the_same_membership(client, auth, acme):
    auth.login(acme.staff.email)
    client.post(members_url(acme.org, acme.member.id, "remove"))
    response = client.post(
        members_url(acme.org, "new"),
        data={"name": "Mel", "email": acme.member.user.email, "role": "admin"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    db.session.refresh(acme.member)
    assert acme.member.removed_at is None
    assert acme.member.role == MemberRole.ADMIN


def test_member_detail_page_shows_the_member_and_the_actions(client, auth, acme):
    auth.login(acme.admin.user.email)
    page = _page(client.get(members_url(acme.org, acme.member.id, "")))
    assert acme.member.user.email in page
    assert ">Change<" in page and ">Remove<" in page and "Resend invitation" in page


def test_change_member_info_and_role(client, auth, acme):
    auth.login(acme.staff.email)
    url = members_url(acme.org, acme.member.id, "edit")
    form = _page(client.get(url))
    assert acme.member.user.email in form and "Save Changes" in form

    response = client.post(
        url,
        data={
            "name": "Melanie Member",
            "email": "melanie@example.com",
            "mobile": "+1 212 555 0123",
            "portal_access": "yes",
            "role": "admin",
        },
        follow_redirects=True,
    )

    page = _page(response)
    assert "The changes have been saved." in page
    assert "Melanie Member" in page and "melanie@example.com" in page
    db.session.refresh(acme.member)
    assert acme.member.role == MemberRole.ADMIN
    assert acme.member.user.mobile == "+12125550123"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "member.updated"))
    assert entry.changes["role"] == ["member", "admin"]
    assert entry.changes["name"] == ["Mel Member", "Melanie Member"]
    assert entry.actor_user_id == acme.staff.id


def test_owner_details_can_change_but_not_the_role(client, auth, acme):
    auth.login(acme.staff.email)
    url = members_url(acme.org, acme.owner.id, "edit")
    assert "Change ownership" in _page(client.get(url))
    response = client.post(
        url, data={"name": "Olga Owner", "email": acme.owner.user.email, "role": "member"}
    )
    assert response.status_code == 302
    db.session.refresh(acme.owner)
    assert acme.owner.role == MemberRole.OWNER
    assert acme.owner.user.name == "Olga Owner"


def test_remove_member_after_confirming(client, auth, acme):
    auth.login(acme.staff.email)
    confirm = _page(client.get(members_url(acme.org, acme.member.id, "remove")))
    assert "Remove Mel Member?" in confirm

    response = client.post(members_url(acme.org, acme.member.id, "remove"), follow_redirects=True)

    page = _page(response)
    assert "Mel Member has been removed from the organization." in page
    assert acme.member.user.email not in page
    db.session.refresh(acme.member)
    assert acme.member.removed_at is not None
    assert client.get(members_url(acme.org, acme.member.id, "")).status_code == 404


def test_removed_member_can_no_longer_log_in(client, auth, acme, app):
    removed_email = acme.member.user.email
    auth.login(acme.staff.email)
    client.post(members_url(acme.org, acme.member.id, "remove"))
    auth.logout()
    response = auth.login(removed_email)
    assert response.status_code != 302


def test_removed_member_logged_in_elsewhere_is_logged_out(app, client, auth, acme):
    device = app.test_client()
    device.post("/login", data={"email": acme.member.user.email, "password": PASSWORD})
    assert device.get(f"/organizations/{acme.org.id}/").status_code == 200

    auth.login(acme.staff.email)
    client.post(members_url(acme.org, acme.member.id, "remove"))

    response = device.get(f"/organizations/{acme.org.id}/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_owner_cannot_be_removed(client, auth, acme):
    auth.login(acme.staff.email)
    detail = _page(client.get(members_url(acme.org, acme.owner.id, "")))
    assert 'id="remove-member"' not in detail

    response = client.post(members_url(acme.org, acme.owner.id, "remove"), follow_redirects=True)

    assert "The owner cannot be removed. Transfer the ownership first." in _page(response)
    db.session.refresh(acme.owner)
    assert acme.owner.removed_at is None and acme.owner.role == MemberRole.OWNER


def test_resend_invitation_arrives_with_a_link_that_works_once(client, auth, acme, smtp_server):
    auth.login(acme.admin.user.email)
    # Turn portal access on for the field worker, who never had a password.
    client.post(
        members_url(acme.org, acme.offline.id, "edit"),
        data={"name": "Field Worker", "email": acme.offline.user.email, "portal_access": "yes"},
    )
    response = client.post(
        members_url(acme.org, acme.offline.id, "invitation"), follow_redirects=True
    )
    assert "The invitation has been sent again to" in _page(response)
    smtp_server.wait_for(2)
    messages = smtp_server.to(acme.offline.user.email)
    assert len(messages) == 2
    link = link_in(messages[-1]).removeprefix("http://portal.test")
    auth.logout()

    client.post(link, data={"password": "field worker pass", "confirm": "field worker pass"})
    assert auth.login(acme.offline.user.email, "field worker pass").status_code == 302
    auth.logout()
    earlier = link_in(messages[0]).removeprefix("http://portal.test")
    for used in (link, earlier):
        page = _page(client.get(used, follow_redirects=True))
        assert "This link is invalid, has expired or has already been used." in page


def test_resend_invitation_refused_without_portal_access(client, auth, acme):
    auth.login(acme.staff.email)
    detail = _page(client.get(members_url(acme.org, acme.offline.id, "")))
    assert "Resend invitation" not in detail
    response = client.post(
        members_url(acme.org, acme.offline.id, "invitation"), follow_redirects=True
    )
    assert "This member has no portal access." in _page(response)


def test_the_owner_asks_a_member_and_nothing_changes_until_they_accept(client, auth, acme):
    auth.login(acme.owner.user.email)
    page = _page(client.get(members_url(acme.org, "ownership")))
    assert "Ownership transfer does not move anything else" in page
    assert "individual credits" in page and "The current owner becomes an admin." in page
    assert "accept or decline within 7 days" in page

    response = client.post(
        members_url(acme.org, "ownership"), data={"member": acme.member.id}, follow_redirects=True
    )

    assert "Mel Member has been asked by email to accept the ownership within 7 days." in _page(
        response
    )
    assert owner_of(acme.org).id == acme.owner.id
    assert 'id="ownership-waiting"' in _page(client.get(members_url(acme.org, "")))


def test_staff_transfers_ownership_at_once_with_a_reason(client, auth, acme):
    old_owner_email = acme.owner.user.email
    auth.login(acme.staff.email)
    response = client.post(
        members_url(acme.org, "ownership"),
        data={"member": acme.admin.id, "reason": "Ticket 42: the owner left"},
        follow_redirects=True,
    )
    assert "Ada Admin is now the owner. Owner Person is now an admin." in _page(response)
    assert owner_of(acme.org).id == acme.admin.id
    db.session.refresh(acme.owner)
    assert acme.owner.role == MemberRole.ADMIN
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "organization.ownership_transferred")
    )
    assert entry.changes["owner"] == [old_owner_email, acme.admin.user.email]
    assert entry.changes["reason"] == [None, "Ticket 42: the owner left"]


def test_staff_must_give_a_reason(client, auth, acme):
    auth.login(acme.staff.email)
    response = client.post(members_url(acme.org, "ownership"), data={"member": acme.admin.id})
    assert response.status_code == 422
    assert "This field is required." in _page(response)
    assert owner_of(acme.org).id == acme.owner.id


def test_ownership_refused_to_a_member_without_portal_access(client, auth, acme):
    auth.login(acme.staff.email)
    page = _page(client.get(members_url(acme.org, "ownership")))
    assert re.search(rf'<option disabled value="{acme.offline.id}"', page) or (
        f'value="{acme.offline.id}"' in page and "disabled" in page
    )

    response = client.post(
        members_url(acme.org, "ownership"), data={"member": acme.offline.id, "reason": "x"}
    )

    assert "Ownership can only go to a member with portal access." in _page(response)
    assert owner_of(acme.org).id == acme.owner.id


def test_org_admins_and_members_cannot_transfer_ownership(client, auth, acme):
    for person in (acme.admin, acme.member):
        auth.login(person.user.email)
        response = client.post(members_url(acme.org, "ownership"), data={"member": person.id})
        assert response.status_code == 403
        auth.logout()
    assert owner_of(acme.org).id == acme.owner.id


def test_a_plain_member_sees_only_themselves_and_cannot_manage(client, auth, acme):
    auth.login(acme.member.user.email)
    page = _page(client.get(members_url(acme.org, "")))
    assert acme.member.user.email in page and acme.admin.user.email not in page
    assert "Add new member" not in page
    own = _page(client.get(members_url(acme.org, acme.member.id, "")))
    assert ">Change<" not in own
    assert client.get(members_url(acme.org, "new")).status_code == 403
    assert client.get(members_url(acme.org, acme.member.id, "edit")).status_code == 403


def test_a_person_belongs_to_two_organizations_and_logs_into_either(
    client, auth, acme, create_organization
):
    second = create_organization(acme.reseller, name="Zeta Corp")
    auth.login(owner_of(second).user.email)
    client.post(
        members_url(second, "new"),
        data={"name": "Ignored", "email": acme.member.user.email, "portal_access": "yes"},
    )
    auth.logout()
    membership = _member_of(second, acme.member.user.email)
    assert membership.user_id == acme.member.user_id
    assert (
        db.session.scalar(
            select(func.count()).select_from(User).where(User.email == acme.member.user.email)
        )
        == 1
    )

    response = auth.login(acme.member.user.email, follow=True)
    page = _page(response)
    assert "Switch to" in page and "Acme" in page and "Zeta Corp" in page
    for org in (acme.org, second):
        key = f"member:{_member_of(org, acme.member.user.email).id}"
        response = client.post("/context", data={"context": key})
        assert response.headers["Location"] == f"/organizations/{org.id}/"
        assert org.name in _page(client.get(f"/organizations/{org.id}/"))
        assert client.get(members_url(org, "")).status_code == 200


def test_details_of_a_person_in_two_organizations_are_theirs_to_change(
    client, auth, acme, create_organization, create_member
):
    second = create_organization(acme.reseller, name="Zeta Corp")
    create_member(second, email=acme.member.user.email)
    auth.login(acme.admin.user.email)
    response = client.post(
        members_url(acme.org, acme.member.id, "edit"),
        data={
            "name": "Renamed",
            "email": "new@example.com",
            "portal_access": "yes",
            "role": "member",
        },
        follow_redirects=True,
    )
    assert "only they can change their name, email and mobile" in _page(response)
    db.session.refresh(acme.member.user)
    assert acme.member.user.email != "new@example.com"
    # The role is not personal: it can still be changed.
    client.post(
        members_url(acme.org, acme.member.id, "edit"),
        data={
            "name": acme.member.user.name,
            "email": acme.member.user.email,
            "portal_access": "yes",
            "role": "admin",
        },
    )
    db.session.refresh(acme.member)
    assert acme.member.role == MemberRole.ADMIN
