"""Random sequences of purchase, transfer, usage and withdrawal keep every ledger invariant."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tenants.access.actors import SYSTEM
from tenants.core.errors import InsufficientCredits
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, rollback
from tenants.models import CreditAccount, EntryType, LedgerEntry
from tests.credits.test_ledger import assert_invariants

AMOUNTS = st.integers(min_value=1, max_value=400)


def run_machine(create_organization, create_member) -> None:
    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def make_org(self):
            self.org = create_organization(name=f"Stateful {uuid.uuid4().hex[:6]}")
            self.org.individual_user_credits = True
            commit()
            self.members = [create_member(self.org).id, create_member(self.org).id]
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
                    SYSTEM, self.org, credits=amount, reference="sms", account=label
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
            actual = {"system": balance.system_credits} | {
                f"member:{m}": c for m, c in balance.users
            }
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

    LedgerMachine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(LedgerMachine, settings=LedgerMachine.TestCase.settings)


def test_random_sequences_keep_the_ledger_invariants(create_organization, create_member):
    run_machine(create_organization, create_member)
