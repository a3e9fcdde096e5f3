"""Invitations to an organization: in its language (Spanish for a Spanish-speaking country)
unless the inviter chooses, listed while pending with their expiry, resent, revoked (the
links stop working), and sent again when a person who never accepted asks for a password."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Member, User
from tenants.organizations import invitations
from tenants.organizations.members import add_member, remove_member, update_member
from tenants.organizations.operations import suspend_organization
from tenants.people import passwords
from tests.conftest import PASSWORD, link_in, member_actor
from tests.members.conftest import members_url

INVALID_LINK = "This link is invalid, has expired or has already been used."
FORGOT_SAID = (
    "If that address has an account or a pending invitation, we have sent it a link to set "
    "a password."
)


def page(response) -> str:
    return response.get_data(as_text=True)


def path_of(message) -> str:
    return urlsplit(link_in(message)).path


def invite(org, email: str, **extra) -> Member:
    member = add_member(SYSTEM, org, name="Ivy Invited", email=email, **extra)
    commit()
    return member


def audit_actions(member: Member) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_id == member.id)
            .order_by(AuditEntry.created_at)
        )
    )


def test_a_spanish_organization_invites_in_spanish_and_opens_in_spanish(
    app, client, auth, acme, smtp_server
):
    auth.login(acme.staff.email)
    form = page(client.get(members_url(acme.org, "new")))
    assert "Invitation language" in form and "The organization&#39;s language (Español)" in form
    client.post(
        members_url(acme.org, "new"),
        data={"name": "Iván Nuevo", "email": "ivan@example.com", "portal_access": "yes"},
    )
    (email,) = smtp_server.wait_for(1)
    assert email["Subject"] == "Te invitaron a Acme"
    assert "Elige tu contraseña" in email.get_body(preferencelist=("html",)).get_content()

    # In the invitee's browser the link opens in Spanish, and so does the login page after.
    client = app.test_client()
    link = path_of(email)
    opened = page(client.get(link))
    assert 'lang="es"' in opened and "Te damos la bienvenida, Iván Nuevo" in opened
    done = client.post(link, data={"password": "una clave nueva", "confirm": "una clave nueva"})
    assert done.headers["Location"].endswith("/login")
    login = page(client.get("/login"))
    assert 'lang="es"' in login and "Iniciar sesión" in login
    user = db.session.scalar(select(User).where(User.email == "ivan@example.com"))
    assert user.language == "es"  # what they accepted in stays theirs
    assert page(client.get(link, follow_redirects=True)).count("Este enlace no es válido") == 1


def test_the_inviter_may_choose_the_language(client, auth, acme, smtp_server):
    auth.login(acme.staff.email)
    client.post(
        members_url(acme.org, "new"),
        data={
            "name": "Eve English",
            "email": "eve@example.com",
            "portal_access": "yes",
            "language": "en",
        },
    )
    (email,) = smtp_server.wait_for(1)
    assert email["Subject"] == "You have been invited to Acme"
    member = db.session.scalar(select(Member).join(User).where(User.email == "eve@example.com"))
    assert member.invitation_language == "en"
    added = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "member.added", AuditEntry.target_id == member.id
        )
    )
    assert added.changes["language"] == [None, "en"]
    # Resent, it keeps the chosen language.
    client.post(members_url(acme.org, member.id, "invitation"))
    assert smtp_server.wait_for(2)[1]["Subject"] == "You have been invited to Acme"
    # A language the portal does not speak is refused on the field, nothing added.
    refused = client.post(
        members_url(acme.org, "new"),
        data={"name": "F", "email": "f@example.com", "portal_access": "yes", "language": "fr"},
    )
    assert refused.status_code == 422 and "Choose a language from the list." in page(refused)
    assert db.session.scalar(select(User).where(User.email == "f@example.com")) is None


def test_an_english_speaking_country_invites_in_english(create_organization, smtp_server):
    org = create_organization(name="Texan Co", country="US")
    smtp_server.messages.clear()  # the owner's invitation
    invite(org, "tex@example.com")
    (email,) = smtp_server.wait_for(1)
    assert email["Subject"] == "You have been invited to Texan Co"


def test_pending_invitations_are_listed_with_their_expiry(client, auth, acme):
    ivy = invite(acme.org, "ivy@example.com")
    auth.login(acme.staff.email)
    listed = page(client.get(members_url(acme.org, "")))
    assert "Pending invitations" in listed
    assert f'data-invitation="{ivy.id}"' in listed
    for activated in (acme.owner, acme.admin, acme.member, acme.offline):
        assert f'data-invitation="{activated.id}"' not in listed
    (pending,) = invitations.pending_invitations(SYSTEM, acme.org)
    assert pending.expires_at - pending.sent_at == timedelta(days=7)
    assert not pending.expired and pending.language == "es"
    assert "Español" in listed and "Expired" not in listed

    ivy.invited_at = utcnow() - timedelta(days=8)
    commit()
    expired = page(client.get(members_url(acme.org, "")))
    assert "Expired" in expired
    # A plain member sees no one else's invitation.
    auth.logout()
    auth.login(acme.member.user.email)
    assert f'data-invitation="{ivy.id}"' not in page(client.get(members_url(acme.org, "")))


def test_resend_moves_the_expiry_and_revoke_kills_every_link(client, auth, acme, smtp_server):
    ivy = invite(acme.org, "ivy@example.com")
    first = path_of(smtp_server.wait_for(1)[0])
    ivy.invited_at = utcnow() - timedelta(days=8)  # expired
    commit()
    auth.login(acme.admin.user.email)

    resent = client.post(
        members_url(acme.org, ivy.id, "invitation"), data={"back": "index"}, follow_redirects=True
    )
    assert resent.request.path == members_url(acme.org, "")
    assert "The invitation has been sent again to ivy@example.com." in page(resent)
    assert "Expired" not in page(resent)
    second = path_of(smtp_server.wait_for(2)[1])
    db.session.refresh(ivy)
    assert utcnow() - ivy.invited_at < timedelta(minutes=1)

    revoked = client.post(
        members_url(acme.org, ivy.id, "invitation", "revoke"),
        data={"back": "index"},
        follow_redirects=True,
    )
    assert "has been revoked: its link no longer works" in page(revoked)
    assert f'data-invitation="{ivy.id}"' not in page(revoked)
    assert audit_actions(ivy) == [
        "member.added",
        "member.invitation_sent",
        "member.invitation_revoked",
    ]
    auth.logout()
    for link in (first, second):
        opened = client.get(link, follow_redirects=True)
        assert opened.request.path == "/password/forgot" and INVALID_LINK in page(opened)
        again = client.post(link, data={"password": PASSWORD, "confirm": PASSWORD})
        assert again.status_code == 302
    assert db.session.get(User, ivy.user_id).password_hash is None

    # Revoking again: nothing pending. Resending invites again, with a link of its own.
    auth.login(acme.admin.user.email)
    again = client.post(
        members_url(acme.org, ivy.id, "invitation", "revoke"), follow_redirects=True
    )
    assert "This invitation is no longer pending." in page(again)
    client.post(members_url(acme.org, ivy.id, "invitation"))
    auth.logout()
    third = path_of(smtp_server.wait_for(3)[2])
    assert INVALID_LINK in page(client.get(second, follow_redirects=True))
    done = client.post(third, data={"password": PASSWORD, "confirm": PASSWORD})
    assert done.headers["Location"].endswith("/login")


def test_removing_or_cutting_access_withdraws_the_invitation(acme, smtp_server):
    ivy = invite(acme.org, "ivy@example.com")
    link = path_of(smtp_server.wait_for(1)[0]).rsplit("/", 1)[1]
    assert passwords.invited_member(link).id == ivy.id
    update_member(SYSTEM, acme.org, ivy, {"portal_access": False})
    commit()
    assert passwords.invited_member(link) is None
    assert invitations.pending_invitations(SYSTEM, acme.org) == []
    update_member(SYSTEM, acme.org, ivy, {"portal_access": True})  # invited again
    commit()
    assert passwords.invited_member(link) is None  # the old link stays dead
    remove_member(SYSTEM, acme.org, ivy)
    commit()
    assert invitations.pending_invitations(SYSTEM, acme.org) == []


def test_only_those_who_manage_members_resend_or_revoke(acme):
    ivy = invite(acme.org, "ivy@example.com")
    for verb in (invitations.resend_invitation, invitations.revoke_invitation):
        with pytest.raises(Forbidden):
            verb(member_actor(acme.member), acme.org, ivy)
    with pytest.raises(ValidationFailed) as error:
        add_member(SYSTEM, acme.org, name="X", email="x@example.com", language="de")
    assert set(error.value.fields) == {"language"}


def test_forgot_password_resends_the_invitation_of_a_person_who_never_accepted(
    client, acme, smtp_server
):
    invite(acme.org, "ivy@example.com")
    smtp_server.wait_for(1)
    answers = [
        client.post("/password/forgot", data={"email": email})
        for email in ("ivy@example.com", "nobody@example.com", acme.admin.user.email)
    ]
    # The same answer whoever asks (no enumeration).
    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(302, "/login")}
    assert FORGOT_SAID in page(client.get("/login"))
    smtp_server.wait_for(3)
    (_first, again) = smtp_server.to("ivy@example.com")
    assert again["Subject"] == "Te invitaron a Acme"  # an invitation, not a reset link
    assert smtp_server.to("nobody@example.com") == []
    (reset,) = smtp_server.to(acme.admin.user.email)
    assert "reset" in reset["Subject"].lower()
    done = client.post(path_of(again), data={"password": PASSWORD, "confirm": PASSWORD})
    assert done.headers["Location"].endswith("/login")


def test_forgot_password_sends_nothing_for_a_revoked_invitation_or_a_suspended_org(
    client, acme, create_organization, smtp_server
):
    ivy = invite(acme.org, "ivy@example.com")
    invitations.revoke_invitation(SYSTEM, acme.org, ivy)
    other = create_organization(name="Closed SL")
    invite(other, "olaf@example.com")
    suspend_organization(SYSTEM, other, "Unpaid")
    commit()
    # Ivy's and Olaf's invitations, the Closed SL owner's invitation and suspension notice.
    sent = len(smtp_server.wait_for(4))
    for email in ("ivy@example.com", "olaf@example.com"):
        answer = client.post("/password/forgot", data={"email": email})
        assert answer.headers["Location"] == "/login"
    assert len(smtp_server.messages) == sent
