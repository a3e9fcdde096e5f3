"""Fixtures for postpaid billing: a priced reseller, postpaid organizations, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.resellers import pricing

# The tests live on 2026-11-27 (a Friday): October has ended everywhere, November has not.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Freeze "now" for usage validation and billing at ``clock.now`` (settable)."""
    state = SimpleNamespace(now=NOW)
    for target in (
        "tenants.credits.operations.utcnow",
        "tenants.credits.ledger.utcnow",
        "tenants.billing.postpaid.utcnow",
    ):
        monkeypatch.setattr(target, lambda: state.now)
    return state


def set_prices(reseller, postpaid=Decimal("0.05"), tax=Decimal("21"), currency="EUR") -> None:
    pricing.set_price_list(
        SYSTEM,
        reseller,
        [
            {
                "currency": currency,
                "prepaid_unit_price": Decimal("0.045"),
                "postpaid_unit_price": postpaid,
            }
        ],
    )
    pricing.set_tax_rates(
        SYSTEM, reseller, [{"country": "ES", "percent": tax}, {"country": "MX", "percent": "16"}]
    )
    commit()


@pytest.fixture
def reseller(create_reseller):
    reseller = create_reseller(name="Acme Telecom")
    set_prices(reseller)
    return reseller


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


def use(org, credits: int, at: datetime | None = None, reference: str = "batch"):
    """Postpaid usage through the one entry point, committed."""
    from tenants.billing.usage import record_usage

    entry = record_usage(SYSTEM, org, credits_used=credits, reference=reference, occurred_at=at)
    commit()
    return entry


def reload(obj):
    db.session.refresh(obj)
    return obj
