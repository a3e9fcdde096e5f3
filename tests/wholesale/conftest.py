"""Fixtures for the wholesale pool: a priced reseller with a small pool, its customers."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AccountKind, CreditAccount, LedgerEntry, WholesaleLot, WholesalePool
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
