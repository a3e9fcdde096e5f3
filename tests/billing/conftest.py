"""Fixtures for postpaid billing: a priced reseller, postpaid organizations, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tests.conftest import new_reference

# The tests live on 2026-11-27 (a Friday): October has ended everywhere, November has not.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# Every billing module that reads the clock (the old single billing module's one utcnow).
BILLING_CLOCKS = tuple(
    f"tenants.billing.{module}.utcnow"
    for module in (
        "periods",
        "postpaid",
        "payments",
        "summary",
        "monthly_batch",
        "monthly_run",
        "final_invoice",
    )
)


@pytest.fixture
def clock(monkeypatch):
    """Freeze "now" for usage validation and billing at ``clock.now`` (settable)."""
    state = SimpleNamespace(now=NOW)
    for target in (
        "tenants.credits.operations.utcnow",
        "tenants.credits.ledger.utcnow",
        *BILLING_CLOCKS,
    ):
        monkeypatch.setattr(target, lambda: state.now)
    return state


# Customers in Spain and in Mexico are billed here.
TAXES = {"ES": "21", "MX": "16"}


@pytest.fixture
def reseller(create_priced_reseller):
    return create_priced_reseller(name="Acme Telecom", taxes=TAXES)


@pytest.fixture
def create_postpaid(create_organization, reseller):
    def _create(limit="1000", country="ES", timezone=None, currency=None, **kwargs):
        org = create_organization(
            reseller=reseller,
            pricing_model="postpaid",
            country=country,
            timezone=timezone,
            currency=currency,
            **kwargs,
        )
        org.credit_limit = Decimal(limit)
        commit()
        return org

    return _create


def use(org, credits: int, at: datetime | None = None, reference: str | None = None):
    """Postpaid usage through the one entry point, committed: its ledger entry. A new usage
    unless ``reference`` repeats an earlier one."""
    from tenants.billing.usage import record_usage

    recorded = record_usage(
        SYSTEM, org, credits=credits, reference=reference or new_reference(), occurred_at=at
    )
    commit()
    return recorded.entry


def reload(obj):
    db.session.refresh(obj)
    return obj
