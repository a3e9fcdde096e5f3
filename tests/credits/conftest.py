"""Fixtures for the credits pages: a priced organization with individual user credits, each
role, and a second reseller whose staff must never reach the first one's credits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import AccountKind, EntryType, UsageDay
from tenants.models.ledger import AccountRef
from tests.conftest import owner_of, set_prices

# The credits tests price both pricing models alike (only prepaid credits are bought here).
CREDIT_PRICE = "0.045"


def set_credit_prices(reseller) -> None:
    """The credits tests' prices: €0.045 a credit on either pricing model, 21 % tax in Spain."""
    set_prices(reseller, postpaid=CREDIT_PRICE)


def fund(org, amount: int, account: str = "system", reference: str | None = None) -> None:
    ref = ledger.parse_account(org, account)
    credits.add_credits(
        SYSTEM, org, ref, amount, entry_type=EntryType.PURCHASE, reference=reference
    )
    commit()


# The header row of a movements CSV, in English (a download translates each cell).
MOVEMENTS_CSV_HEADER = (
    "Date",
    "Type",
    "Account",
    "Credits",
    "Balance after",
    "Amount",
    "Currency",
    "Reference",
    "Done by",
    "Recorded at",
)


def system_credits(org) -> int:
    """The organization's pool as the ledger says it now (nothing cached in the session)."""
    db.session.expire_all()
    return ledger.balance(org).system_credits


def day_totals() -> dict[str, int]:
    """Each organization's credits used, summed over its days in usage_days."""
    return dict(
        db.session.execute(
            sa.select(UsageDay.organization_id, sa.func.sum(UsageDay.credits)).group_by(
                UsageDay.organization_id
            )
        ).all()
    )


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def member_account(member) -> str:
    return AccountRef(AccountKind.MEMBER, member.id).label


@pytest.fixture
def shop(create_priced_reseller, create_reseller_staff, create_organization, create_member):
    """Reseller A (€0.045 a credit, 21 % tax in Spain) and Acme with individual user credits."""
    reseller = create_priced_reseller(name="Reseller A", postpaid=CREDIT_PRICE)
    org = create_organization(reseller, name="Acme", country="ES")
    org.individual_user_credits = True
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent A"),
        org=org,
        owner=owner_of(org),
        admin=create_member(org, role="admin", name="Ada Admin"),
        member=create_member(org, role="member", name="Mel Member"),
        other=create_member(org, role="member", name="Otto Other"),
    )


@pytest.fixture
def other_reseller(create_priced_reseller, create_reseller_staff, create_organization):
    reseller = create_priced_reseller(name="Reseller B", postpaid=CREDIT_PRICE)
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent B"),
        org=create_organization(reseller, name="Bravo", country="ES"),
    )


def credits_url(org, *parts: str) -> str:
    return "/".join([f"/organizations/{org.id}/credits", *parts])
