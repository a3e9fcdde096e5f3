"""The member services the portal and the API share: their rules, without the web."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.core.errors import Conflict, Forbidden, OwnerCannotBeRemoved, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Member, MemberRole
from tenants.organizations import invitations, members, ownership
from tests.conftest import member_actor, owner_of


def test_the_owner_role_changes_only_through_a_transfer(acme):
    with pytest.raises(Conflict):
        members.update_member(SYSTEM, acme.org, acme.owner, {"role": "admin"})
    with pytest.raises(ValidationFailed) as error:
        members.update_member(SYSTEM, acme.org, acme.member, {"role": "owner"})
    assert "role" in error.value.fields
    with pytest.raises(Conflict):
        members.update_member(SYSTEM, acme.org, acme.owner, {"portal_access": False})


def test_update_returns_the_changes_and_audits_them(acme):
    changes = members.update_member(
        SYSTEM, acme.org, acme.member, {"role": "admin", "portal_access": False, "name": "N"}
    )
    assert changes == {
        "role": ["member", "admin"],
        "portal_access": [True, False],
        "name": ["Mel Member", "N"],
    }
    assert members.update_member(SYSTEM, acme.org, acme.member, {"role": "admin"}) == {}
    commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "member.updated"))
    assert entry.changes["portal_access"] == [True, False]


def test_unknown_fields_and_non_boolean_access_are_refused(acme):
    with pytest.raises(ValidationFailed) as error:
        members.update_member(SYSTEM, acme.org, acme.member, {"password": "x"})
    assert "password" in error.value.fields
    with pytest.raises(ValidationFailed) as error:
        members.add_member(SYSTEM, acme.org, name="A", email="a@example.com", portal_access="yes")
    assert "portal_access" in error.value.fields


def test_every_bad_field_is_reported_at_once(acme):
    with pytest.raises(ValidationFailed) as error:
        members.add_member(SYSTEM, acme.org, name="", email="bad", role="boss", mobile="1")
    assert set(error.value.fields) == {"name", "email", "role", "mobile"}


def test_a_staff_persons_email_is_theirs_to_change(acme):
    # A staff person who is also a member: data from before staff emails were refused.
    staff_member = Member(
        reseller_id=acme.org.reseller_id,
        organization_id=acme.org.id,
        user_id=acme.staff.id,
        role=MemberRole.MEMBER,
    )
    db.session.add(staff_member)
    commit()
    with pytest.raises(Conflict):
        members.update_member(SYSTEM, acme.org, staff_member, {"email": "agent2@example.com"})


def test_an_admin_cannot_change_the_owners_email(acme):
    with pytest.raises(Forbidden):
        members.update_member(
            member_actor(acme.admin), acme.org, acme.owner, {"email": "mine@example.com"}
        )


def test_a_member_of_another_organization_is_not_found(acme, create_organization):
    from tenants.core.errors import NotFound

    other = create_organization(acme.reseller)
    for call in (
        lambda: members.update_member(SYSTEM, acme.org, owner_of(other), {"name": "x"}),
        lambda: members.remove_member(SYSTEM, acme.org, owner_of(other)),
        lambda: ownership.transfer_ownership(SYSTEM, acme.org, owner_of(other), reason="r"),
        lambda: invitations.resend_invitation(SYSTEM, acme.org, owner_of(other)),
        lambda: invitations.revoke_invitation(SYSTEM, acme.org, owner_of(other)),
    ):
        with pytest.raises(NotFound):
            call()


def test_owner_cannot_be_removed(acme):
    with pytest.raises(OwnerCannotBeRemoved):
        members.remove_member(SYSTEM, acme.org, acme.owner)


def test_plain_members_and_admins_have_no_say(acme):
    with pytest.raises(Forbidden):
        members.add_member(member_actor(acme.member), acme.org, name="X", email="x@example.com")
    with pytest.raises(Forbidden):
        ownership.transfer_ownership(
            member_actor(acme.admin), acme.org, acme.member, reason="support case"
        )
    with pytest.raises(Forbidden):
        ownership.start_ownership_transfer(member_actor(acme.admin), acme.org, acme.member)


def test_the_owner_asks_and_only_staff_change_the_owner_at_once(acme):
    with pytest.raises(Forbidden):
        ownership.transfer_ownership(
            member_actor(acme.owner), acme.org, acme.admin, reason="support case"
        )


def test_transfer_keeps_one_owner_and_everything_else(acme):
    ownership.transfer_ownership(SYSTEM, acme.org, acme.admin, reason="support case")
    commit()
    roles = {m.id: m.role for m in (acme.owner, acme.admin, acme.member, acme.offline)}
    assert roles == {
        acme.owner.id: MemberRole.ADMIN,
        acme.admin.id: MemberRole.OWNER,
        acme.member.id: MemberRole.MEMBER,
        acme.offline.id: MemberRole.MEMBER,
    }
    # And back again: the one-owner index never sees two owners.
    ownership.transfer_ownership(SYSTEM, acme.org, acme.owner, reason="support case")
    commit()
    assert owner_of(acme.org).id == acme.owner.id


def test_transfer_refused_to_the_owner_or_without_portal_access(acme):
    with pytest.raises(Conflict):
        ownership.transfer_ownership(SYSTEM, acme.org, acme.owner, reason="support case")
    with pytest.raises(ValidationFailed) as error:
        ownership.transfer_ownership(SYSTEM, acme.org, acme.offline, reason="support case")
    assert "portal access" in str(error.value)


def test_support_sessions_cannot_transfer_ownership(acme):
    actor = member_actor(acme.owner, real_user_id=acme.staff.id)
    with pytest.raises(Forbidden):
        ownership.start_ownership_transfer(actor, acme.org, acme.admin)


def test_turning_portal_access_on_sends_the_invitation(acme, smtp_server):
    members.update_member(SYSTEM, acme.org, acme.offline, {"portal_access": True})
    commit()
    [message] = smtp_server.wait_for(1)
    assert acme.offline.user.email in str(message["To"])
