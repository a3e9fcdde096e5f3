"""Random sequences of usage, payments, voids, country changes, final invoices and month
runs keep the books exact.

At every step: what the invoices issued and the payments received (less those voided) leave
owing is the account's invoiced part of the debt, the debt is that plus the unbilled charges
and their tax, the Customer app's copy of the debt is the same, and every invoice's lines add
up to its subtotal, its taxes per rate to its tax, subtotal and tax to its total.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from types import SimpleNamespace

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
from tenants.billing import monthly_run, payments
from tenants.billing.final_invoice import issue_final_invoice
from tenants.billing.periods import last_ended_period
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import (
    Invoice,
    Organization,
    Payment,
    PaymentStatus,
    PostpaidAccount,
    Reseller,
)
from tenants.organizations.operations import (
    reactivate_organization,
    suspend_organization,
    update_organization,
)
from tests.billing.conftest import NOW, use
from tests.conftest import set_prices

COUNTRIES = ("ES", "MX", "US")  # 21 %, 16 %, not in the tax table: 0 %


class DebtMachine(RuleBasedStateMachine):
    """One postpaid organization's books against the sums of its invoices and payments."""

    # Set by the test before it runs the machine.
    create_postpaid: Callable[..., Organization]
    clock: SimpleNamespace
    org_reseller: Reseller

    @initialize()
    def make_org(self):
        self.clock.now = NOW
        # A price with four decimals: line amounts round, and must still add up.
        set_prices(self.org_reseller, postpaid="0.0125", taxes={"ES": "21", "MX": "16"})
        self.org = self.create_postpaid(limit="1000000")

    @rule(credits=st.integers(min_value=1, max_value=997))
    def usage(self, credits):
        use(self.org, credits, at=self.clock.now, reference=uuid.uuid4().hex)

    @rule(share=st.integers(min_value=1, max_value=100))
    def payment(self, share):
        account = self._account()
        if account is None:
            return
        debt = account.debt
        amount = (debt * share / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if amount <= 0:
            return
        payments.record_payment(SYSTEM, self.org, amount)
        commit()

    @rule(pick=st.integers(min_value=0, max_value=50))
    def void(self, pick):
        recorded = db.session.scalars(
            sa.select(Payment)
            .where(Payment.organization_id == self.org.id, Payment.status == PaymentStatus.RECORDED)
            .order_by(Payment.created_at, Payment.id)
        ).all()
        if not recorded:
            return
        payments.void_payment(SYSTEM, self.org, recorded[pick % len(recorded)], "stateful")
        commit()

    @rule(country=st.sampled_from(COUNTRIES))
    def country_change(self, country):
        update_organization(SYSTEM, self.org, {"country": country})
        commit()

    @rule()
    def final_invoice(self):
        """Suspend, invoice everything unbilled now, reactivate (a support case's close-out
        that was then called off): the month is closed, later usage goes on the next one."""
        account = self._account()
        if account is None or account.unbilled_credits == 0:
            return
        suspend_organization(SYSTEM, self.org, "close-out")
        commit()
        issue_final_invoice(SYSTEM, self.org, now=self.clock.now)
        commit()
        # It closed the books just after the last charge: later usage is later in time.
        self.clock.now += timedelta(minutes=1)
        reactivate_organization(SYSTEM, self.org)
        commit()

    @rule(days=st.integers(min_value=1, max_value=24))
    def month_run(self, days):
        self.clock.now += timedelta(days=days)
        monthly_run.run_monthly(last_ended_period(self.clock.now), now=self.clock.now)
        db.session.expire_all()

    def _account(self) -> PostpaidAccount:
        return db.session.get(PostpaidAccount, self.org.id, populate_existing=True)

    @invariant()
    def invoices_less_payments_is_the_debt(self):
        if not hasattr(self, "org"):
            return
        account = self._account()
        if account is None:  # nothing used yet
            return
        invoiced = sum(
            db.session.scalars(
                sa.select(Invoice.total).where(Invoice.organization_id == self.org.id)
            ),
            Decimal(0),
        )
        paid = sum(
            db.session.scalars(
                sa.select(Payment.amount).where(
                    Payment.organization_id == self.org.id,
                    Payment.status == PaymentStatus.RECORDED,
                )
            ),
            Decimal(0),
        )
        assert account.invoiced_unpaid - account.paid_ahead == invoiced - paid
        assert account.debt == invoiced - paid + account.unbilled + account.unbilled_tax
        stored = db.session.get(Organization, self.org.id, populate_existing=True).debt
        assert stored == account.debt
        if account.unbilled_credits == 0:
            assert account.unbilled == 0 and account.unbilled_tax == 0

    @invariant()
    def every_invoice_adds_up(self):
        if not hasattr(self, "org"):
            return
        for invoice in db.session.scalars(
            sa.select(Invoice).where(Invoice.organization_id == self.org.id)
        ):
            lines = [line.amount for line in invoice.lines]
            assert sum(lines, Decimal(0)) == invoice.subtotal
            assert invoice.subtotal + invoice.tax == invoice.total
            taxes = invoice.taxes or []
            assert sum((Decimal(t["tax"]) for t in taxes), Decimal(0)) == invoice.tax
            assert sum((Decimal(t["base"]) for t in taxes), Decimal(0)) == invoice.subtotal


DEBT_SETTINGS = settings(
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DebtMachine.TestCase.settings = DEBT_SETTINGS


def test_random_sequences_keep_invoices_payments_and_debt_equal(
    clock, create_postpaid, reseller, monkeypatch
):
    machine = DebtMachine
    monkeypatch.setattr(machine, "create_postpaid", staticmethod(create_postpaid), raising=False)
    monkeypatch.setattr(machine, "clock", clock, raising=False)
    monkeypatch.setattr(machine, "org_reseller", reseller, raising=False)
    run_state_machine_as_test(DebtMachine, settings=DEBT_SETTINGS)
