"""Switching individual user credits off: refused while members hold credits (saying how
many), or their credits all moved to the system pool in the same step; never a race that
leaves the switch off and credits on a member."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import (
    AccountClosed,
    Conflict,
    InsufficientCredits,
    MemberCreditsRemain,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, LedgerEntry, Organization
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef
from tenants.organizations.operations import update_organization
from tests.conftest import owner_of, staff_actor
from tests.credits.test_ledger import _in_threads, assert_invariants

OFF = {"individual_user_credits": False}


@pytest.fixture
def acme(reseller, agent, create_organization, create_member):
    """Individual user credits on: 100 in the pool, 20 with Mel and 5 with Otto."""
    org = create_organization(reseller, name="Acme SL")
    org.individual_user_credits = True
    commit()
    mel, otto = create_member(org, name="Mel"), create_member(org, name="Otto")
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 125)
    for member, n in ((mel, 20), (otto, 5)):
        credits.transfer_credits(SYSTEM, org, "system", f"member:{member.id}", n, agreed=True)
    commit()
    return SimpleNamespace(org=org, mel=mel, otto=otto, actor=staff_actor(reseller, agent))


def _fresh(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


def test_switching_off_is_refused_while_members_hold_credits(acme):
    with pytest.raises(MemberCreditsRemain) as refused:
        update_organization(acme.actor, acme.org, OFF)
    db.session.rollback()
    assert refused.value.status == 409 and refused.value.code == "member_credits_remain"
    assert "Members still hold 25 credits in their individual accounts." in str(refused.value)
    assert set(refused.value.fields) == {"individual_user_credits"}
    org = _fresh(acme.org)
    assert org.individual_user_credits is True
    assert ledger.member_credits_total(org) == 25


def test_move_them_all_to_the_pool_and_switch_off_is_one_step(acme):
    changes = update_organization(acme.actor, acme.org, OFF, move_member_credits_to_pool=True)
    commit()

    assert changes == {"individual_user_credits": [True, False], "credits_returned": [None, 25]}
    org = _fresh(acme.org)
    assert org.individual_user_credits is False
    balance = ledger.balance(org)
    assert balance.system_credits == 125 and dict(balance.users) == {
        acme.mel.id: 0,
        acme.otto.id: 0,
    }
    assert balance.total_credits == 125 == org.total_credits
    moves = db.session.execute(
        sa.select(LedgerEntry.type, LedgerEntry.member_id, LedgerEntry.credits).where(
            LedgerEntry.reference == "individual-credits-off"
        )
    ).all()
    assert sorted((str(t), m, n) for t, m, n in moves) == sorted(
        [
            ("transfer_out", acme.mel.id, -20),
            ("transfer_in", "", 20),
            ("transfer_out", acme.otto.id, -5),
            ("transfer_in", "", 5),
        ]
    )
    assert_invariants(org)
    audit = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "organization.updated")
    )
    assert audit.changes["credits_returned"] == [None, 25]


def test_the_move_goes_only_with_switching_off(acme):
    with pytest.raises(ValidationFailed) as refused:
        update_organization(acme.actor, acme.org, {}, move_member_credits_to_pool=True)
    assert set(refused.value.fields) == {"move_member_credits_to_pool"}


def test_no_credits_go_to_members_once_switched_off(acme):
    """Even a movement that checked the switch before it went off (the ledger re-checks
    under the organization's row)."""
    update_organization(acme.actor, acme.org, OFF, move_member_credits_to_pool=True)
    commit()
    with pytest.raises(AccountClosed):
        credits.add_credits(SYSTEM, acme.org, AccountRef(AccountKind.MEMBER, acme.mel.id), 5)
    db.session.rollback()
    assert ledger.member_credits_total(_fresh(acme.org)) == 0


# -- the settings page --------------------------------------------------------------------


def test_the_form_shows_the_refusal_and_offers_the_move(agent_client, acme):
    response = agent_client.post(
        f"/organizations/{acme.org.id}/settings/terms", data={"terms-credit_limit": ""}
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    field_error = page.split('id="terms-individual_user_credits"', 1)[1].split("</div>", 1)[0]
    assert "Members still hold 25 credits in their individual accounts." in field_error
    assert 'id="move-and-switch-off"' in page
    assert "Move them all to the pool and switch off" in page
    assert _fresh(acme.org).individual_user_credits is True


def test_the_settings_page_moves_them_all_and_switches_off(agent_client, acme):
    page = agent_client.get(f"/organizations/{acme.org.id}/settings").get_data(as_text=True)
    assert "Members hold 25 credits in their individual accounts." in page

    response = agent_client.post(
        f"/organizations/{acme.org.id}/settings/individual-credits-off", follow_redirects=True
    )

    page = response.get_data(as_text=True)
    assert "Individual user credits are off; the system pool received the members&#39; 25 " in (
        page
    )
    org = _fresh(acme.org)
    assert org.individual_user_credits is False
    assert ledger.balance(org).system_credits == 125
    assert 'id="move-and-switch-off"' not in page


def test_the_one_step_is_for_the_resellers_staff(client, auth, acme):
    auth.login(owner_of(acme.org).user.email)
    response = client.post(f"/organizations/{acme.org.id}/settings/individual-credits-off")
    assert response.status_code == 403
    assert _fresh(acme.org).individual_user_credits is True


# -- under concurrency ----------------------------------------------------------------------


def _race(app, org_id: str, member_ids: list[str], *, move: bool) -> str:
    """Seven threads move credits pool → member and back while one keeps trying to switch
    individual credits off (until it succeeds)."""

    def switch_off() -> str:
        for _attempt in range(40):
            org = db.session.get(Organization, org_id)
            try:
                update_organization(SYSTEM, org, OFF, move_member_credits_to_pool=move)
                commit()
                return "off"
            except Conflict:  # members hold credits, or they changed meanwhile
                db.session.rollback()
                time.sleep(0.001)
        return "refused"

    def transfer(source: str, target: str) -> bool:
        org = db.session.get(Organization, org_id)
        try:
            credits.transfer_credits(SYSTEM, org, source, target, 1, agreed=True)
            commit()
            return True
        except (AccountClosed, ValidationFailed, InsufficientCredits):
            db.session.rollback()  # closed meanwhile, or its credits moved to the pool
            return False

    def work(index: int) -> str:
        if index == 0:
            return switch_off()
        for n in range(6):
            account = f"member:{member_ids[(index + n) % len(member_ids)]}"
            if transfer("system", account):
                transfer(account, "system")
        return "transfers"

    return _in_threads(app, 8, work)[0]


@pytest.mark.postgres_only
@pytest.mark.parametrize("move", [False, True], ids=["switch-off", "move-and-switch-off"])
def test_switching_off_racing_transfers_never_strands_credits(app, acme, move):
    """Whatever the interleaving: the switch is on, or no member holds a credit."""
    org_id, member_ids = acme.org.id, [acme.mel.id, acme.otto.id]
    outcomes = set()
    for _round in range(4):
        # Each round starts with the switch on and the members' accounts empty.
        org = _fresh(acme.org)
        if org.individual_user_credits:
            update_organization(SYSTEM, org, OFF, move_member_credits_to_pool=True)
        update_organization(SYSTEM, org, {"individual_user_credits": True})
        commit()

        outcomes.add(_race(app, org_id, member_ids, move=move))

        org = _fresh(acme.org)
        assert org.individual_user_credits or ledger.member_credits_total(org) == 0
        assert ledger.total_credits(org) == 125
        assert_invariants(org)
    assert "off" in outcomes
