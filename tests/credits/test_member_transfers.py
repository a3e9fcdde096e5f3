"""A member moves credits out of their own account (seed 001: "Transfer SMS Credits From this
Account", to another user or back to the System Credits) — never out of the pool or another
member's account; the account's lock keeps it from going below zero."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tenants.access.policy import may_transfer_from
from tenants.core.errors import Forbidden, InsufficientCredits, ValidationFailed
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, LedgerEntry, Organization
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef
from tests.conftest import member_actor, staff_actor
from tests.credits.conftest import count, credits_url, fund, member_account
from tests.credits.test_ledger import _in_threads


def page(response) -> str:
    return response.get_data(as_text=True)


def held(org) -> dict[str, int]:
    """Every holding account's balance, as the ledger says it now."""
    db.session.expire_all()
    balance = ledger.balance(org)
    return {"system": balance.system_credits, **dict(balance.users)}


def transfer(client, org, source: str, target: str, quantity: str = "10", agree: bool = True):
    data = {"source": source, "target": target, "credits": quantity}
    if agree:
        data["agree"] = "y"
    return client.post(credits_url(org, "transfer"), data=data)


@pytest.fixture
def funded(shop):
    fund(shop.org, 100, reference="pool")
    fund(shop.org, 30, account=member_account(shop.member), reference="mel")
    fund(shop.org, 20, account=member_account(shop.other), reference="otto")
    return shop


def test_the_policy_lets_a_member_move_only_their_own_credits(shop):
    mel = member_actor(shop.member)
    own = AccountRef(AccountKind.MEMBER, shop.member.id)
    assert may_transfer_from(mel, shop.org.id, own)
    assert not may_transfer_from(mel, shop.org.id, SYSTEM_ACCOUNT)
    assert not may_transfer_from(mel, shop.org.id, AccountRef(AccountKind.MEMBER, shop.other.id))
    assert not may_transfer_from(mel, "org_elsewhere", own)
    for admin in (member_actor(shop.admin), staff_actor(shop.reseller, shop.staff)):
        assert may_transfer_from(admin, shop.org.id, SYSTEM_ACCOUNT)
        assert may_transfer_from(admin, shop.org.id, own)


def test_a_member_transfers_from_their_account_to_a_colleague_and_to_the_pool(client, auth, funded):
    shop = funded
    auth.login(shop.member.user.email)
    form = page(client.get(credits_url(shop.org, f"transfer?from={member_account(shop.member)}")))
    assert 'data-field="own-only"' in form
    source = re.search(r'<select[^>]*name="source".*?</select>', form, re.S).group(0)
    target = re.search(r'<select[^>]*name="target".*?</select>', form, re.S).group(0)
    # From: only their own account (with its balance); to: the pool or a colleague by name,
    # without anybody else's balance.
    assert re.findall(r'value="([^"]+)"', source) == [member_account(shop.member)]
    assert "(30)" in source
    assert set(re.findall(r'value="([^"]+)"', target)) == {
        "system",
        member_account(shop.admin),
        member_account(shop.other),
        member_account(shop.owner),
    }
    assert "Otto Other" in target and "(20)" not in target and "(100)" not in target
    assert re.search(r'<option(?=[^>]*\bselected\b)[^>]*value="system"', target)

    done = transfer(client, shop.org, member_account(shop.member), member_account(shop.other), "12")
    assert done.status_code == 302
    assert held(shop.org) == {"system": 100, shop.member.id: 18, shop.other.id: 32}
    back = transfer(client, shop.org, member_account(shop.member), "system", "8")
    assert back.status_code == 302
    assert held(shop.org) == {"system": 108, shop.member.id: 10, shop.other.id: 32}

    moved = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.type == "transfer_out")
    ).all()
    assert {e.actor_user_id for e in moved} == {shop.member.user_id}
    assert count(AuditEntry) >= 2
    # The member's history shows both transfers out of their account.
    history = page(client.get(credits_url(shop.org, "")))
    assert history.count('data-direction="out"') == 2
    assert "Transfer SMS Credits from This Account" in history
    assert "Transfer SMS Credits to This Account" not in history


@pytest.mark.parametrize("source", ["system", "other", ""])
def test_a_member_cannot_move_the_pool_or_another_members_credits(client, auth, funded, source):
    shop = funded
    source = member_account(shop.other) if source == "other" else source
    before, entries = held(shop.org), count(LedgerEntry)
    auth.login(shop.member.user.email)
    refused = transfer(client, shop.org, source, member_account(shop.member))
    assert refused.status_code == 403
    assert held(shop.org) == before and count(LedgerEntry) == entries


def test_a_member_cannot_transfer_more_than_they_hold(client, auth, funded):
    shop = funded
    before, entries = held(shop.org), count(LedgerEntry)
    auth.login(shop.member.user.email)
    refused = transfer(client, shop.org, member_account(shop.member), "system", "31")
    assert refused.status_code == 402
    assert "Insufficient credits" in page(refused)
    assert held(shop.org) == before and count(LedgerEntry) == entries
    # Bad quantities and a missing tick are errors next to the field, nothing moved.
    for quantity, agree in (("0", True), ("-5", True), ("1.5", True), ("abc", True), ("5", False)):
        response = transfer(
            client, shop.org, member_account(shop.member), "system", quantity, agree
        )
        assert response.status_code == 422, (quantity, agree)
        assert 'class="invalid-feedback' in page(response), (quantity, agree)
    assert held(shop.org) == before and count(LedgerEntry) == entries


def test_a_member_cannot_transfer_to_a_removed_member_or_another_organization(
    client, auth, funded, other_reseller, create_member
):
    shop = funded
    stranger = create_member(other_reseller.org, name="Stranger")
    before = held(shop.org)
    auth.login(shop.member.user.email)
    for target in (member_account(stranger), "member:mem_nobody", "bogus"):
        response = transfer(client, shop.org, member_account(shop.member), target)
        assert response.status_code == 422, target
        assert held(shop.org) == before
    assert client.get(credits_url(other_reseller.org, "transfer")).status_code == 404


def test_without_individual_credits_a_member_has_nothing_to_transfer(client, auth, shop):
    shop.org.individual_user_credits = False
    commit()
    fund(shop.org, 50)
    auth.login(shop.member.user.email)
    assert client.get(credits_url(shop.org, "transfer")).status_code == 403
    assert transfer(client, shop.org, "system", "system").status_code == 403
    assert held(shop.org) == {"system": 50}


def test_the_service_refuses_before_reading_anything_else(funded):
    shop = funded
    mel = member_actor(shop.member)
    with pytest.raises(Forbidden):
        credits.transfer_credits(
            mel, shop.org, "system", member_account(shop.member), 5, agreed=False
        )
    with pytest.raises(Forbidden):
        credits.transfer_credits(
            mel, shop.org, member_account(shop.other), "system", "garbage", agreed=False
        )
    with pytest.raises(ValidationFailed) as info:
        credits.transfer_credits(
            mel, shop.org, member_account(shop.member), "bogus", 5, agreed=True
        )
    assert set(info.value.fields) == {"to"}
    with pytest.raises(InsufficientCredits):
        credits.transfer_credits(
            mel, shop.org, member_account(shop.member), "system", 31, agreed=True
        )
    db.session.rollback()
    assert held(shop.org)[shop.member.id] == 30


def test_concurrent_transfers_never_overdraw_the_members_account(app, funded):
    """8 requests of 10 credits out of a member's 30, at once: exactly 3 land."""
    shop = funded
    org_id, mel = shop.org.id, member_actor(shop.member)
    source, target = member_account(shop.member), member_account(shop.other)

    def work(_index: int) -> bool:
        org = db.session.get(Organization, org_id)
        try:
            credits.transfer_credits(mel, org, source, target, 10, agreed=True)
            commit()
            return True
        except InsufficientCredits:
            db.session.rollback()
            return False

    assert sum(_in_threads(app, 8, work)) == 3
    assert held(shop.org) == {"system": 100, shop.member.id: 0, shop.other.id: 50}
