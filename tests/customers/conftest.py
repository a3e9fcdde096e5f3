"""Customer app fixtures: a reseller with an agent logged in, balances set for the list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import ResellerRole


@pytest.fixture
def reseller(create_reseller):
    return create_reseller(name="Alpha Telecom")


@pytest.fixture
def agent(reseller, create_reseller_staff):
    return create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith")


@pytest.fixture
def agent_client(client, auth, agent):
    """A test client logged in as the reseller's agent."""
    response = auth.login(agent.email)
    assert response.status_code == 302
    return client


@pytest.fixture
def hold_credits():
    """Give an organization credits through the real ledger (an adjustment to its pool)."""

    def _hold(org, credits: int) -> None:
        from tenants.access.actors import SYSTEM
        from tenants.credits.operations import add_credits
        from tenants.models import EntryType
        from tenants.models.ledger import SYSTEM_ACCOUNT

        add_credits(SYSTEM, org, SYSTEM_ACCOUNT, credits, entry_type=EntryType.ADJUSTMENT)
        commit()

    return _hold


@pytest.fixture
def set_list_balance():
    """Set the denormalized balance columns the list shows and filters on.

    The ledger and postpaid billing keep them up to date; list tests set them directly.
    """

    def _set(org, *, credits: int = 0, debt: str = "0", threshold: int | None = None) -> None:
        org.total_credits = credits
        org.debt = Decimal(debt)
        if threshold is not None:
            org.low_balance_threshold = threshold
        db.session.add(org)
        commit()

    return _set
