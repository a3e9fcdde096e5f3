"""Fixtures for the wholesale pool: a priced reseller with a small pool, its customers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import (
    AccountKind,
    CreditAccount,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    WholesaleLot,
    WholesalePool,
)
from tenants.models.ledger import HOLDING_KINDS, USED_TYPES
from tenants.wholesale import operations as wholesale
from tests.api.conftest import create_api_key  # noqa: F401  (the API tests' key fixture)


@pytest.fixture
def small_reseller(create_priced_reseller):
    """A reseller with no opening lot: the platform sells it 1,000 credits at €0.020."""
    reseller = create_priced_reseller(name="Small Telecom", pool=0)
    add_lot(reseller, 1000, "0.020")
    return reseller


def add_lot(reseller, credits: int, cost: str, currency: str = "EUR"):
    added = wholesale.add_lot(
        SYSTEM, reseller, credits=credits, unit_cost=Decimal(cost), currency=currency
    )
    commit()
    return added.lot


def pool_credits(reseller) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(WholesalePool.credits).where(WholesalePool.reseller_id == reseller.id)
    )


def given(reseller) -> int:
    """What the platform gave the reseller: the credits of its lots."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(WholesaleLot.credits), 0)).where(
            WholesaleLot.reseller_id == reseller.id
        )
    )


def lots_remaining(reseller) -> int:
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(WholesaleLot.remaining), 0)).where(
            WholesaleLot.reseller_id == reseller.id
        )
    )


def held(reseller) -> int:
    """Every credit the reseller's customers hold (reserved ones included)."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.reseller_id == reseller.id, CreditAccount.kind.in_(HOLDING_KINDS)
        )
    )


def used(reseller) -> int:
    """Credits the customers used (usage and messages, less refunds), prepaid or postpaid."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.credits), 0)).where(
            LedgerEntry.reseller_id == reseller.id,
            LedgerEntry.account_kind == AccountKind.USAGE,
            LedgerEntry.type.in_(USED_TYPES),
        )
    )


def assert_balanced(reseller) -> None:
    """SPEC §10: pool + held + used == given, exactly; the pool is its lots' remaining."""
    db.session.expire_all()
    pool = pool_credits(reseller)
    assert pool >= 0
    assert pool == lots_remaining(reseller)
    assert pool + held(reseller) + used(reseller) == given(reseller)


# -- the margin report's month (tests/wholesale/test_margin*.py) --------------------------

OCTOBER = "2026-10"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def draw(monkeypatch, reseller, org, credits: int, when: datetime) -> None:
    """``org`` receives (positive) or gives back (negative) ``credits`` at ``when``."""
    monkeypatch.setattr(wholesale, "utcnow", lambda: when)
    wholesale.move_pool(reseller.id, [(org.id, -credits)])
    commit()
    monkeypatch.undo()


def issue(org, kind, subtotal: str, when: datetime, *, currency=None, status=None) -> None:
    """A receipt or invoice of ``subtotal`` (net) + 21 % tax issued at ``when``."""
    net = Decimal(subtotal)
    tax = (net * Decimal("0.21")).quantize(Decimal("0.01"))
    sequence = (
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(Invoice.sequence), 0)).where(
                Invoice.reseller_id == org.reseller_id
            )
        )
        + 1
    )
    db.session.add(
        Invoice(
            reseller_id=org.reseller_id,
            organization_id=org.id,
            sequence=sequence,
            number=f"T-{sequence}",
            kind=kind,
            period=when.strftime("%Y-%m") if kind == InvoiceKind.INVOICE else None,
            status=status or InvoiceStatus.PAID,
            currency=currency or org.currency,
            subtotal=net,
            tax_percent=Decimal(21),
            tax=tax,
            total=net + tax,
            billing={},
            issued_at=when,
            lines=(InvoiceLine(quantity=1, unit_price=net, amount=net),),
        )
    )
    commit()


@pytest.fixture
def margin_world(monkeypatch, create_priced_reseller, create_organization, create_api_key):  # noqa: F811
    """Lot A: 1,000 at €0.020, then lot B: 1,000 at €0.030. By hand, for October 2026 (UTC):

    Acme (EUR): 600 drawn on 30 Sep 23:00 (A) — September. 1 Oct 00:30: 700 = 400 of A
    (€8.00) + 300 of B (€9.00); 15 Oct: 100 given back, to B (-€3.00); 31 Oct 23:59:59: 50
    of B (€1.50). Credits 650, cost €15.50. Revenue: receipt €18.00 (5 Oct) + invoice
    €9.00 (31 Oct) = €27.00; a void receipt and September's receipt do not count. Margin
    €11.50, 11.50 / 27 = 42.59 %.
    Globex (USD): 200 of B on 20 Oct (€6.00); 100 more on 1 Nov 00:00 — November. Revenue
    $30.00. Without a rate: not converted. At 0.9: €27.00 - €6.00 = €21.00, 77.78 %.
    Initech (GBP): no draws, a £10.00 receipt, never a rate: not converted.
    """
    reseller = create_priced_reseller(name="Margin Telecom", pool=0)
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 1))
    add_lot(reseller, 1000, "0.020")
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 2))
    add_lot(reseller, 1000, "0.030")
    monkeypatch.undo()
    acme = create_organization(reseller, name="Acme", currency="EUR", owner_password=None)
    globex = create_organization(reseller, name="Globex", currency="USD", owner_password=None)
    initech = create_organization(reseller, name="Initech", currency="GBP", owner_password=None)
    draw(monkeypatch, reseller, acme, 600, at(2026, 9, 30, 23))
    draw(monkeypatch, reseller, acme, 700, at(2026, 10, 1, 0, 30))
    draw(monkeypatch, reseller, acme, -100, at(2026, 10, 15, 12))
    draw(monkeypatch, reseller, globex, 200, at(2026, 10, 20, 9))
    draw(monkeypatch, reseller, acme, 50, at(2026, 10, 31, 23, 59, 59))
    draw(monkeypatch, reseller, globex, 100, at(2026, 11, 1, 0, 0))
    issue(acme, InvoiceKind.RECEIPT, "40.00", at(2026, 9, 30, 22))
    issue(acme, InvoiceKind.RECEIPT, "18.00", at(2026, 10, 5, 10))
    issue(acme, InvoiceKind.RECEIPT, "99.00", at(2026, 10, 6), status=InvoiceStatus.VOID)
    issue(acme, InvoiceKind.INVOICE, "9.00", at(2026, 10, 31, 23, 30))
    issue(globex, InvoiceKind.RECEIPT, "30.00", at(2026, 10, 20, 9))
    issue(initech, InvoiceKind.RECEIPT, "10.00", at(2026, 10, 21))
    other = create_priced_reseller(name="Other Telecom", pool=0)
    return {
        "reseller": reseller,
        "acme": acme,
        "globex": globex,
        "initech": initech,
        "other": other,
        "key": create_api_key(reseller),
        "other_key": create_api_key(other),
        "org_key": create_api_key(organization=acme),
    }


@pytest.fixture
def two_currency_world(monkeypatch, create_priced_reseller, create_organization):
    """Lot E: 100 at €0.020 (1 Sep), then lot U: 1,000 at $0.030 (2 Sep): the newest bought
    lot's currency, USD, is the cost currency. October: Acme (EUR) draws 300 on 10 Oct =
    100 of E (€2.00) + 200 of U ($6.00), receipt €18.00; Globex (USD) draws 50 of U on
    11 Oct ($1.50), receipt $5.00. The reseller."""
    reseller = create_priced_reseller(name="Two Currencies", pool=0)
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 1))
    add_lot(reseller, 100, "0.020", "EUR")
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 2))
    add_lot(reseller, 1000, "0.030", "USD")
    monkeypatch.undo()
    acme = create_organization(reseller, name="Acme", currency="EUR", owner_password=None)
    globex = create_organization(reseller, name="Globex", currency="USD", owner_password=None)
    draw(monkeypatch, reseller, acme, 300, at(2026, 10, 10))
    draw(monkeypatch, reseller, globex, 50, at(2026, 10, 11))
    issue(acme, InvoiceKind.RECEIPT, "18.00", at(2026, 10, 10))
    issue(globex, InvoiceKind.RECEIPT, "5.00", at(2026, 10, 11))
    return reseller
