"""Random sequences of purchase, transfer, usage and withdrawal keep every ledger invariant."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tenants.access.actors import SYSTEM
from tenants.core.errors import InsufficientCredits
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, rollback
from tenants.models import CreditAccount, EntryType, LedgerEntry, Member, Organization
from tests.conftest import new_reference
from tests.credits.test_ledger import assert_invariants

AMOUNTS = st.integers(min_value=1, max_value=400)


class LedgerMachine(RuleBasedStateMachine):
    """The ledger against a dict of expected balances, one system and two member accounts."""

    # The pytest factories, set by the test before it runs the machine.
    create_organization: Callable[..., Organization]
    create_member: Callable[..., Member]

    @initialize()
    def make_org(self):
        self.org = self.create_organization(name=f"Stateful {uuid.uuid4().hex[:6]}")
        self.org.individual_user_credits = True
        commit()
        self.members = [self.create_member(self.org).id, self.create_member(self.org).id]
        self.accounts = ["system"] + [f"member:{m}" for m in self.members]
        self.expected = dict.fromkeys(self.accounts, 0)

    @rule(account=st.integers(0, 2), amount=AMOUNTS)
    def purchase(self, account, amount):
        label = self.accounts[account]
        ref = ledger.parse_account(self.org, label)
        credits.add_credits(SYSTEM, self.org, ref, amount, entry_type=EntryType.PURCHASE)
        commit()
        self.expected[label] += amount

    @rule(source=st.integers(0, 2), destination=st.integers(0, 2), amount=AMOUNTS)
    def transfer(self, source, destination, amount):
        if source == destination:
            return
        src, dst = self.accounts[source], self.accounts[destination]
        try:
            credits.transfer_credits(SYSTEM, self.org, src, dst, amount, agreed=True)
            commit()
        except InsufficientCredits:
            rollback()
            assert self.expected[src] < amount
            return
        self.expected[src] -= amount
        self.expected[dst] += amount

    @rule(account=st.integers(1, 2), amount=AMOUNTS)
    def usage(self, account, amount):
        label = self.accounts[account]
        try:
            credits.record_usage(
                SYSTEM, self.org, credits=amount, reference=new_reference(), account=label
            )
            commit()
        except InsufficientCredits:
            rollback()
            assert self.expected[label] < amount
            return
        self.expected[label] -= amount

    @rule(account=st.integers(0, 2), amount=AMOUNTS)
    def withdrawal(self, account, amount):
        label = self.accounts[account]
        try:
            credits.withdraw_credits(SYSTEM, self.org, label, amount, reason="stateful")
            commit()
        except InsufficientCredits:
            rollback()
            assert self.expected[label] < amount
            return
        self.expected[label] -= amount

    @invariant()
    def balances_match_the_model(self):
        if not hasattr(self, "org"):
            return
        balance = ledger.balance(self.org)
        actual = {"system": balance.system_credits} | {f"member:{m}": c for m, c in balance.users}
        for label, value in self.expected.items():
            assert actual.get(label, 0) == value
        assert_invariants(self.org)

    @invariant()
    def last_balance_after_is_the_balance(self):
        if not hasattr(self, "org"):
            return
        for account in db.session.scalars(
            sa.select(CreditAccount).where(
                CreditAccount.organization_id == self.org.id,
                CreditAccount.kind.in_(["system", "member"]),
            )
        ):
            last = db.session.scalar(
                sa.select(LedgerEntry.balance_after)
                .where(LedgerEntry.account_id == account.id)
                .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
                .limit(1)
            )
            assert last is None or last == account.balance


LEDGER_SETTINGS = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LedgerMachine.TestCase.settings = LEDGER_SETTINGS


def test_random_sequences_keep_the_ledger_invariants(
    create_organization, create_member, monkeypatch
):
    # monkeypatch puts the class back as it was, so no test's factory outlives that test.
    monkeypatch.setattr(
        LedgerMachine, "create_organization", staticmethod(create_organization), raising=False
    )
    monkeypatch.setattr(LedgerMachine, "create_member", staticmethod(create_member), raising=False)
    run_state_machine_as_test(LedgerMachine, settings=LEDGER_SETTINGS)
