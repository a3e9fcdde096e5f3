"""Statement worlds: a prepaid organization in Bogotá with members and a month of every kind
of movement on each side of a month boundary, and a postpaid one in Madrid with charges, an
invoice and payments; a clock frozen where each movement happens."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, payments
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef
from tests.conftest import new_reference, owner_of

# Every module that reads the clock for what a statement shows.
CLOCKS = (
    "tenants.credits.operations.utcnow",
    "tenants.credits.ledger.utcnow",
    "tenants.billing.periods.utcnow",
    "tenants.billing.postpaid.utcnow",
    "tenants.billing.payments.utcnow",
    "tenants.billing.summary.utcnow",
    "tenants.billing.monthly_batch.utcnow",
    "tenants.billing.monthly_run.utcnow",
    "tenants.billing.final_invoice.utcnow",
    "tenants.billing.statements.utcnow",
    "tenants.billing.statement_files.utcnow",
    "tenants.views.organization.statements.utcnow",
)

# The tests live on 2026-12-03: November has ended everywhere, December has begun.
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=NOW)
    for target in CLOCKS:
        monkeypatch.setattr(target, lambda: state.now)
    return state


def at(clock, *when) -> datetime:
    clock.now = datetime(*when, tzinfo=UTC)
    return clock.now


def member_ref(member) -> AccountRef:
    return AccountRef(AccountKind.MEMBER, member.id)


@pytest.fixture
def bogota(
    clock, create_priced_reseller, create_organization, create_member, create_reseller_staff
):
    """Bogotá (UTC-5): October ends there at 2026-11-01 05:00 UTC.

    system: +1000 (Oct 10), -300 to Ana (Oct 20), -100 withdrawn (Nov 5), +5 (Dec 1)
    Ana:    +300 (Oct 20), -50 used Oct 31 22:00 Bogotá (Nov 1 03:00 UTC: October),
            -40 used Nov 1 01:00 Bogotá, -60 to Beto (Nov 10)
    Beto:   +60 (Nov 10), +200 bought (Nov 15), -10 used on Nov 20 and reported late (Dec 2)
    October: 0 -> 950. November: 950 -> 1000 (system 700 -> 600, Ana 250 -> 150,
    Beto 0 -> 250). Now: 1005.
    """
    reseller = create_priced_reseller(name="Andes Telecom")
    org = create_organization(
        reseller, name="Café Bogotá", country="CO", timezone="America/Bogota", currency="EUR"
    )
    org.individual_user_credits = True
    commit()
    ana = create_member(org, role="member", name="Ana Antioquia")
    beto = create_member(org, role="member", name="Beto Bolívar")
    world = SimpleNamespace(
        reseller=reseller,
        org=org,
        owner=owner_of(org),
        ana=ana,
        beto=beto,
        staff=create_reseller_staff(reseller, name="Agent Andes"),
    )

    def add(ref, n, when, entry_type=EntryType.PURCHASE):
        at(clock, *when)
        credits.add_credits(SYSTEM, org, ref, n, entry_type=entry_type, reference=f"buy-{n}")
        commit()

    def move(source, target, n, when):
        at(clock, *when)
        credits.transfer_credits(SYSTEM, org, source, target, n, agreed=True)
        commit()

    def use(member, n, when, occurred=None):
        at(clock, *when)
        credits.record_usage(
            SYSTEM,
            org,
            credits=n,
            reference=new_reference(),
            account=member_ref(member).label,
            occurred_at=occurred,
        )
        commit()

    add(SYSTEM_ACCOUNT, 1000, (2026, 10, 10, 15))
    move("system", member_ref(ana).label, 300, (2026, 10, 20, 15))
    use(ana, 50, (2026, 11, 1, 3))
    use(ana, 40, (2026, 11, 1, 6))
    at(clock, 2026, 11, 5, 15)
    credits.withdraw_credits(SYSTEM, org, "system", 100, reason='=HYPERLINK("x")')
    commit()
    move(member_ref(ana).label, member_ref(beto).label, 60, (2026, 11, 10, 15))
    add(member_ref(beto), 200, (2026, 11, 15, 15))
    add(SYSTEM_ACCOUNT, 5, (2026, 12, 1, 6))
    use(beto, 10, (2026, 12, 2, 12), occurred=datetime(2026, 11, 20, 12, tzinfo=UTC))
    at(clock, 2026, 12, 3, 12)
    return world


@pytest.fixture
def madrid(clock, create_priced_reseller, create_organization, create_reseller_staff):
    """A postpaid organization in Madrid (21 % tax, €0.05 an SMS).

    October: 100 SMS (5.00 + 1.05 tax) and 33 SMS (1.65 + 0.3465): 8.0465 owed.
    Nov 1 the October invoice: 6.65 + 1.40 tax = 8.05 (rounding +0.0035).
    November: 10 SMS (0.50 + 0.105), a payment of 5.00 (Nov 10), a payment of 2.00
    (Nov 12) voided Nov 13. November: 8.0465 -> 3.655.
    """
    reseller = create_priced_reseller(name="Iberia Telecom")
    org = create_postpaid_org(create_organization, reseller)
    staff = create_reseller_staff(reseller, name="Agent Iberia")

    def charge(n, when):
        at(clock, *when)
        record_usage(SYSTEM, org, credits=n, reference=new_reference())
        commit()

    charge(100, (2026, 10, 10, 10))
    charge(33, (2026, 10, 20, 10))
    at(clock, 2026, 11, 1, 3)
    monthly_run.run_monthly("2026-10", now=clock.now)
    charge(10, (2026, 11, 5, 10))
    first = pay(clock, org, "5.00", (2026, 11, 10, 10))
    second = pay(clock, org, "2.00", (2026, 11, 12, 10))
    at(clock, 2026, 11, 13, 10)
    payments.void_payment(SYSTEM, org, second, "bounced")
    commit()
    at(clock, 2026, 12, 3, 12)
    return SimpleNamespace(
        reseller=reseller, org=org, owner=owner_of(org), staff=staff, first=first
    )


def create_postpaid_org(create_organization, reseller):
    from decimal import Decimal

    org = create_organization(reseller, name="Madrileña SL", country="ES", pricing_model="postpaid")
    org.credit_limit = Decimal("1000")
    commit()
    return org


def pay(clock, org, amount, when):
    """A payment recorded at ``when`` (its row dated by the frozen clock, as the ledger is:
    in production both read the same clock)."""
    moment = at(clock, *when)
    payment = payments.record_payment(SYSTEM, org, amount, f"bank-{amount}")
    payment.created_at = moment
    db.session.flush()
    commit()
    return payment
