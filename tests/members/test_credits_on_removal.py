"""Removing a member returns their individual credits to the system pool, in the same step."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import AccountClosed, InsufficientCredits, ValidationFailed
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import (
    AuditEntry,
    LedgerEntry,
    Member,
    Organization,
    OrganizationStatus,
)
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef
from tenants.organizations import members as member_services
from tenants.organizations.operations import delete_organization
from tests.conftest import staff_actor
from tests.credits.test_ledger import _in_threads, assert_invariants
from tests.members.conftest import members_url


@pytest.fixture
def funded(acme):
    """Acme with individual user credits: 100 bought for the pool, 20 of them given to Mel."""
    acme.org.individual_user_credits = True
    commit()
    credits.add_credits(SYSTEM, acme.org, SYSTEM_ACCOUNT, 100)
    credits.transfer_credits(
        SYSTEM, acme.org, "system", f"member:{acme.member.id}", 20, agreed=True
    )
    commit()
    return acme


def _balance(org) -> ledger.Balance:
    db.session.expire_all()
    return ledger.balance(org)


def _removal_entries(org) -> list[tuple[str, str, int, int]]:
    rows = db.session.execute(
        sa.select(
            LedgerEntry.type,
            LedgerEntry.member_id,
            LedgerEntry.credits,
            LedgerEntry.balance_after,
            LedgerEntry.transaction_id,
        )
        .where(LedgerEntry.organization_id == org.id, LedgerEntry.reference == "member-removed")
        .order_by(LedgerEntry.credits)
    ).all()
    assert len({row.transaction_id for row in rows}) <= 1
    return [(str(t), member_id, n, after) for t, member_id, n, after, _txn in rows]


def test_removing_a_member_returns_their_credits_to_the_pool(funded):
    org = funded.org
    actor = staff_actor(funded.reseller, funded.staff)

    returned = member_services.remove_member(actor, org, funded.member)
    commit()

    assert returned == 20
    assert _removal_entries(org) == [
        ("transfer_out", funded.member.id, -20, 0),
        ("transfer_in", "", 20, 100),
    ]
    balance = _balance(org)
    assert balance.system_credits == 100
    assert dict(balance.users)[funded.member.id] == 0
    assert balance.total_credits == 100 == db.session.get(Organization, org.id).total_credits
    assert_invariants(org)
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "member.removed"))
    assert audit.changes["credits_returned"] == [None, 20]


def test_after_a_removal_the_organization_can_be_emptied_and_deleted(funded):
    org = funded.org
    actor = staff_actor(funded.reseller, funded.staff)
    member_services.remove_member(actor, org, funded.member)
    commit()

    credits.withdraw_credits(actor, org, "system", 100, reason="closing")
    delete_organization(actor, org)
    commit()

    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.DELETED
    assert ledger.total_credits(org) == 0


def test_a_member_without_credits_is_removed_without_a_transfer(funded):
    returned = member_services.remove_member(SYSTEM, funded.org, funded.admin)
    commit()
    assert returned == 0
    assert _removal_entries(funded.org) == []
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "member.removed"))
    assert "credits_returned" not in audit.changes


def test_credits_never_go_to_a_removed_members_account(funded):
    """Even a movement that checked the account before the removal (the ledger re-checks
    under the account's lock)."""
    member_services.remove_member(SYSTEM, funded.org, funded.member)
    commit()
    closed = AccountRef(AccountKind.MEMBER, funded.member.id)
    with pytest.raises(AccountClosed):
        credits.add_credits(SYSTEM, funded.org, closed, 5)
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        credits.transfer_credits(
            SYSTEM, funded.org, "system", f"member:{funded.member.id}", 5, agreed=True
        )
    db.session.rollback()
    assert _balance(funded.org).total_credits == 100


def test_the_confirmation_says_how_many_credits_go_back(client, auth, funded):
    auth.login(funded.staff.email)
    page = client.get(members_url(funded.org, funded.member.id, "remove")).get_data(as_text=True)
    assert "Their individual credits (20 credits) will go back to the system pool." in page

    response = client.post(
        members_url(funded.org, funded.member.id, "remove"), follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "Mel Member has been removed from the organization." in page
    assert "Their individual credits (20 credits) went back to the system pool." in page
    assert _balance(funded.org).system_credits == 100


def test_the_confirmation_says_it_in_spanish(client, auth, funded, create_reseller_staff):
    staff = create_reseller_staff(funded.reseller, language="es")
    auth.login(staff.email)
    page = client.get(members_url(funded.org, funded.member.id, "remove")).get_data(as_text=True)
    assert "Sus créditos individuales (20 créditos) volverán a los Créditos del sistema." in page


def test_the_confirmation_is_silent_without_credits(client, auth, funded):
    auth.login(funded.staff.email)
    page = client.get(members_url(funded.org, funded.admin.id, "remove")).get_data(as_text=True)
    assert 'id="credits-returned"' not in page


def test_the_owner_is_still_never_removed(client, auth, funded):
    auth.login(funded.staff.email)
    response = client.post(members_url(funded.org, funded.owner.id, "remove"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, funded.owner.id).removed_at is None


@pytest.mark.postgres_only
def test_a_removal_racing_transfers_and_usage_strands_nothing(app, funded):
    """Threads move credits into and out of Mel's account while another removes Mel: at
    the end Mel is removed holding nothing, and the ledger adds up."""
    org_id, member_id = funded.org.id, funded.member.id
    account = f"member:{member_id}"

    def work(index: int) -> None:
        if index == 0:
            time.sleep(0.01)  # let some movements land first
            org = db.session.get(Organization, org_id)
            member_services.remove_member(SYSTEM, org, db.session.get(Member, member_id))
            commit()
            return
        for n in range(10):
            org = db.session.get(Organization, org_id)
            try:
                if index % 2:
                    credits.transfer_credits(SYSTEM, org, "system", account, 1, agreed=True)
                else:
                    credits.record_usage(
                        SYSTEM, org, credits=1, reference=f"u{index}-{n}", account=account
                    )
                commit()
            except (AccountClosed, ValidationFailed, InsufficientCredits):
                db.session.rollback()

    _in_threads(app, 8, work)
    db.session.expire_all()
    assert db.session.get(Member, member_id).removed_at is not None
    assert dict(ledger.balance(funded.org).users)[member_id] == 0
    assert_invariants(funded.org)
