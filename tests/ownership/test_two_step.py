"""The owner asks, the member answers (SPEC §2): start, accept, decline, cancel, expire; one
request at a time; acceptance re-checks; emails and audit entries; who may reach the link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.core.errors import Conflict, Forbidden, NotFound, ViewOnlySession
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import (
    AuditEntry,
    MemberRole,
    OwnershipTransfer,
    OwnershipTransferStatus,
    SupportMode,
)
from tenants.organizations import members as member_services
from tenants.organizations import ownership
from tests.conftest import member_actor, owner_of, text_of
from tests.members.conftest import members_url
from tests.ownership.conftest import answer_path, link_path, ownership_url


def _page(response) -> str:
    return response.get_data(as_text=True)


def _actions() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("ownership_transfer.%"))
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    )


def _ask(acme, member=None) -> OwnershipTransfer:
    transfer = ownership.start_ownership_transfer(
        member_actor(acme.owner), acme.org, member or acme.member
    )
    commit()
    return transfer


def _freeze(monkeypatch, when) -> None:
    """The clock of the ownership rules, as other tests freeze it (the module's utcnow)."""
    monkeypatch.setattr(ownership, "utcnow", lambda: when)


def _status(transfer) -> OwnershipTransferStatus:
    db.session.expire_all()
    return db.session.get(OwnershipTransfer, transfer.id).status


# -- start -----------------------------------------------------------------------------------


def test_the_owner_asks_and_the_member_gets_an_email_with_the_link(client, auth, acme, smtp_server):
    auth.login(acme.owner.user.email)
    response = client.post(
        ownership_url(acme.org), data={"member": acme.member.id}, follow_redirects=True
    )
    page = _page(response)
    assert "Mel Member has been asked by email to accept the ownership within 7 days." in page
    assert 'id="ownership-waiting"' in page and 'id="cancel-ownership-transfer"' in page
    assert owner_of(acme.org).id == acme.owner.id  # nothing changes yet
    transfer = db.session.scalar(select(OwnershipTransfer))
    assert transfer.status == OwnershipTransferStatus.PENDING
    assert transfer.expires_at - transfer.requested_at == timedelta(days=7)

    (email,) = smtp_server.wait_for(1)
    assert acme.member.user.email in email["To"]
    assert "Owner Person asks you to become the owner of Acme" in email["Subject"]
    assert "/ownership/" in text_of(email)
    assert _actions() == ["ownership_transfer.requested"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action.like("ownership%")))
    assert entry.changes["member"] == [None, acme.member.user.email]
    # The members list shows the request too.
    assert 'id="ownership-waiting"' in _page(client.get(members_url(acme.org, "")))


def test_only_an_active_member_with_portal_access_can_be_asked(
    acme, create_reseller_staff, create_member
):
    owner = member_actor(acme.owner)
    with pytest.raises(Exception, match="portal access"):
        ownership.start_ownership_transfer(owner, acme.org, acme.offline)
    member_services.remove_member(SYSTEM, acme.org, acme.admin)
    commit()
    with pytest.raises(NotFound):
        ownership.start_ownership_transfer(owner, acme.org, acme.admin)
    with pytest.raises(Conflict):
        ownership.start_ownership_transfer(owner, acme.org, acme.owner)
    assert db.session.scalar(select(func.count(OwnershipTransfer.id))) == 0


def test_one_request_waits_at_a_time(acme, monkeypatch):
    first = _ask(acme)
    with pytest.raises(Conflict, match="already waiting"):
        ownership.start_ownership_transfer(member_actor(acme.owner), acme.org, acme.admin)
    db.session.rollback()
    # Once the first is past its week, a new request expires it and goes ahead.
    _freeze(monkeypatch, utcnow() + timedelta(days=7, minutes=1))
    second = _ask(acme, acme.admin)
    assert _status(first) == OwnershipTransferStatus.EXPIRED
    assert _status(second) == OwnershipTransferStatus.PENDING


def test_admins_and_members_cannot_ask(client, auth, acme):
    for person in (acme.admin, acme.member):
        with pytest.raises(Forbidden):
            ownership.start_ownership_transfer(member_actor(person), acme.org, acme.owner)
        auth.login(person.user.email)
        assert (
            client.post(ownership_url(acme.org), data={"member": acme.owner.id}).status_code == 403
        )
        auth.logout()


def test_a_view_only_support_session_can_neither_ask_nor_cancel(client, auth, acme):
    transfer = _ask(acme)
    viewing = member_actor(acme.owner, real_user_id=acme.staff.id, support_mode=SupportMode.VIEW)
    changing = member_actor(acme.owner, real_user_id=acme.staff.id, support_mode=SupportMode.CHANGE)
    with pytest.raises(Forbidden):
        ownership.start_ownership_transfer(viewing, acme.org, acme.admin)
    with pytest.raises(Forbidden):
        ownership.start_ownership_transfer(changing, acme.org, acme.admin)
    with pytest.raises(ViewOnlySession):
        ownership.cancel_ownership_transfer(viewing, acme.org, transfer)
    db.session.rollback()
    assert _status(transfer) == OwnershipTransferStatus.PENDING


# -- accept -----------------------------------------------------------------------------------


def test_the_member_accepts_through_the_link_once(client, auth, acme, smtp_server):
    old_owner_email = acme.owner.user.email
    _ask(acme)
    link = answer_path(smtp_server.wait_for(1)[0])

    auth.login(acme.member.user.email)
    page = _page(client.get(link))
    assert "Become the owner of Acme?" in page and 'id="accept-ownership"' in page
    response = client.post(f"{link}/accept", follow_redirects=True)
    assert "You are now the owner of Acme." in _page(response)

    assert owner_of(acme.org).id == acme.member.id
    db.session.refresh(acme.owner)
    db.session.refresh(acme.admin)
    assert acme.owner.role == MemberRole.ADMIN and acme.admin.role == MemberRole.ADMIN
    assert _actions() == ["ownership_transfer.requested", "ownership_transfer.accepted"]
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "ownership_transfer.accepted")
    )
    assert entry.changes["owner"] == [old_owner_email, acme.member.user.email]
    told = smtp_server.wait_for(2)[1]
    assert old_owner_email in told["To"]
    assert "Mel Member is now the owner of Acme" in told["Subject"]

    # Single use: the link now says it was accepted, and a second accept changes nothing.
    assert "You accepted this request" in _page(client.get(link))
    again = client.post(f"{link}/accept", follow_redirects=True)
    assert "already been answered" in _page(again)
    assert len(_actions()) == 2


def test_acceptance_rechecks_that_the_asker_is_still_the_owner(acme):
    transfer = _ask(acme)
    # The owner changed meanwhile in a way that left the request waiting.
    acme.owner.role = MemberRole.ADMIN
    db.session.flush()
    acme.admin.role = MemberRole.OWNER
    commit()
    with pytest.raises(Conflict, match="no longer the owner"):
        ownership.accept_ownership_transfer(member_actor(acme.member), transfer)
    db.session.rollback()
    assert owner_of(acme.org).id == acme.admin.id
    assert _status(transfer) == OwnershipTransferStatus.PENDING


def test_acceptance_rechecks_that_the_member_is_still_active(client, auth, acme):
    transfer = _ask(acme)
    member_services.update_member(SYSTEM, acme.org, acme.member, {"portal_access": False})
    commit()
    with pytest.raises(Conflict, match="membership has changed"):
        ownership.accept_ownership_transfer(member_actor(acme.member), transfer)
    db.session.rollback()
    member_services.remove_member(SYSTEM, acme.org, acme.member)
    commit()
    with pytest.raises(Conflict):
        ownership.accept_ownership_transfer(member_actor(acme.member), transfer)
    db.session.rollback()
    assert owner_of(acme.org).id == acme.owner.id


# -- decline ----------------------------------------------------------------------------------


def test_the_member_declines_and_the_owner_is_told(client, auth, acme, smtp_server):
    transfer = _ask(acme)
    auth.login(acme.member.user.email)
    response = client.post(f"{link_path(transfer)}/decline", follow_redirects=True)
    assert "You declined to become the owner of Acme. Nothing has changed." in _page(response)
    assert owner_of(acme.org).id == acme.owner.id
    assert _status(transfer) == OwnershipTransferStatus.DECLINED
    assert _actions()[-1] == "ownership_transfer.declined"
    told = smtp_server.wait_for(2)[1]
    assert acme.owner.user.email in told["To"]
    assert "Mel Member declined to become the owner of Acme" in told["Subject"]
    # Nothing waits any more: the owner may ask again.
    _ask(acme, acme.admin)


# -- cancel -----------------------------------------------------------------------------------


def test_the_owner_cancels_and_the_link_stops_working(client, auth, acme, smtp_server):
    transfer = _ask(acme)
    auth.login(acme.owner.user.email)
    response = client.post(ownership_url(acme.org, transfer.id, "cancel"), follow_redirects=True)
    assert "The request has been cancelled: its link no longer works." in _page(response)
    assert _status(transfer) == OwnershipTransferStatus.CANCELLED
    assert _actions()[-1] == "ownership_transfer.cancelled"
    recipients = sorted(str(m["To"]) for m in smtp_server.wait_for(3)[1:])
    assert recipients == sorted([acme.owner.user.email, acme.member.user.email])
    auth.logout()

    auth.login(acme.member.user.email)
    assert "This request was cancelled." in _page(client.get(link_path(transfer)))
    client.post(f"{link_path(transfer)}/accept")
    assert owner_of(acme.org).id == acme.owner.id


def test_reseller_staff_may_cancel_and_a_change_at_once_cancels_the_request(client, auth, acme):
    first = _ask(acme)
    auth.login(acme.staff.email)
    client.post(ownership_url(acme.org, first.id, "cancel"))
    assert _status(first) == OwnershipTransferStatus.CANCELLED
    second = _ask(acme, acme.admin)
    client.post(ownership_url(acme.org), data={"member": acme.member.id, "reason": "Ticket 9"})
    assert owner_of(acme.org).id == acme.member.id
    assert _status(second) == OwnershipTransferStatus.CANCELLED


# -- expire -----------------------------------------------------------------------------------


def test_a_request_past_its_week_shows_as_expired_and_expires_when_acted_on(
    client, auth, acme, smtp_server, monkeypatch
):
    transfer = _ask(acme)
    smtp_server.wait_for(1)
    later = utcnow() + timedelta(days=7, seconds=1)
    _freeze(monkeypatch, later)
    monkeypatch.setattr("tenants.models.ownership.utcnow", lambda: later)

    auth.login(acme.member.user.email)
    page = _page(client.get(link_path(transfer)))
    assert "This request expired on" in page and 'id="accept-ownership"' not in page
    response = client.post(f"{link_path(transfer)}/accept", follow_redirects=True)
    assert "This request has expired: nothing has changed." in _page(response)
    assert owner_of(acme.org).id == acme.owner.id
    assert _status(transfer) == OwnershipTransferStatus.EXPIRED
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "ownership_transfer.expired")
    )
    assert entry.actor_user_id is None  # the platform, not a person
    recipients = sorted(str(m["To"]) for m in smtp_server.wait_for(3)[1:])
    assert recipients == sorted([acme.owner.user.email, acme.member.user.email])


def test_the_hourly_job_expires_each_request_once(acme, monkeypatch):
    from tenants.jobs import worker

    assert "expire_ownership_transfers" in worker.HOURLY_JOBS
    transfer = _ask(acme)
    assert ownership.expire_ownership_transfers() == 0
    later = utcnow() + timedelta(days=8)
    assert ownership.expire_ownership_transfers(now=later) == 1
    commit()
    assert ownership.expire_ownership_transfers(now=later) == 0
    assert _status(transfer) == OwnershipTransferStatus.EXPIRED
    assert _actions().count("ownership_transfer.expired") == 1


# -- who reaches the link ---------------------------------------------------------------------


def test_the_link_is_the_asked_members_only(client, auth, acme, other_reseller):
    transfer = _ask(acme)
    path = link_path(transfer)
    for email in (
        acme.owner.user.email,
        acme.admin.user.email,
        acme.staff.email,
        other_reseller.staff.email,
    ):
        auth.login(email)
        assert client.get(path).status_code == 404, email
        assert client.post(f"{path}/accept").status_code == 404, email
        assert client.post(f"{path}/decline").status_code == 404, email
        auth.logout()
    auth.login(acme.member.user.email)
    assert client.get("/ownership/not-a-token").status_code == 404
    assert client.get(path + "x").status_code == 404
    assert client.get(path).status_code == 200
    assert owner_of(acme.org).id == acme.owner.id
    assert _status(transfer) == OwnershipTransferStatus.PENDING


def test_another_tenants_request_cannot_be_cancelled(client, auth, acme, other_reseller):
    transfer = _ask(acme)
    auth.login(other_reseller.staff.email)
    assert client.post(ownership_url(other_reseller.org, transfer.id, "cancel")).status_code == 404
    assert client.post(ownership_url(acme.org, transfer.id, "cancel")).status_code == 404
    assert _status(transfer) == OwnershipTransferStatus.PENDING


def test_forms_are_protected_against_cross_site_posts(app, client, auth, acme):
    transfer = _ask(acme)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        auth.login(acme.owner.user.email)
        assert (
            client.post(ownership_url(acme.org), data={"member": acme.admin.id}).status_code == 400
        )
        assert client.post(ownership_url(acme.org, transfer.id, "cancel")).status_code == 400
        auth.logout()
        auth.login(acme.member.user.email)
        for verb in ("accept", "decline"):
            assert client.post(f"{link_path(transfer)}/{verb}").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _status(transfer) == OwnershipTransferStatus.PENDING
    assert owner_of(acme.org).id == acme.owner.id


# -- languages --------------------------------------------------------------------------------


def test_emails_pages_and_audit_in_spanish(client, auth, acme, smtp_server):
    acme.member.user.language = "es"
    acme.owner.user.language = "es"
    commit()
    transfer = _ask(acme)
    email = smtp_server.wait_for(1)[0]
    assert "te pide" in email["Subject"] or "propietari" in email["Subject"]
    auth.login(acme.member.user.email)
    page = _page(client.get(link_path(transfer)))
    assert '<html lang="es">' in page and "propietari" in page
    client.post(f"{link_path(transfer)}/decline")
    auth.logout()
    auth.login(acme.owner.user.email)
    audit = _page(client.get(f"/organizations/{acme.org.id}/audit"))
    assert "Transferencia de propiedad solicitada" in audit
    assert "Transferencia de propiedad rechazada" in audit
