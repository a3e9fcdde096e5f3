"""Fixtures for the credits pages: a priced organization with individual user credits, each
role, and a second reseller whose staff must never reach the first one's credits."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tenants.access.actors import SYSTEM, Actor
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import AccountKind, EntryType, MemberRole
from tenants.models.ledger import AccountRef
from tenants.resellers import pricing
from tests.conftest import owner_of


def set_prices(reseller, unit=Decimal("0.045"), tax=Decimal("21")) -> None:
    pricing.set_price_list(
        SYSTEM,
        reseller,
        [{"currency": "EUR", "prepaid_unit_price": unit, "postpaid_unit_price": unit}],
    )
    pricing.set_tax_rates(SYSTEM, reseller, [{"country": "ES", "percent": tax}])
    commit()


def fund(org, amount: int, account: str = "system", reference: str | None = None) -> None:
    ref = ledger.parse_account(org, account)
    credits.add_credits(
        SYSTEM, org, ref, amount, entry_type=EntryType.PURCHASE, reference=reference
    )
    commit()


def member_actor(member) -> Actor:
    """As the portal builds it for a member's context (tenants.web.actor_for_context)."""
    return Actor(
        user_id=member.user_id,
        reseller_id=member.reseller_id,
        organization_id=member.organization_id,
        member_id=member.id,
        member_role=MemberRole(member.role),
    )


def member_account(member) -> str:
    return AccountRef(AccountKind.MEMBER, member.id).label


@pytest.fixture
def shop(create_reseller, create_reseller_staff, create_organization, create_member):
    """Reseller A (priced in EUR, 21 % tax in Spain) and Acme with individual user credits."""
    reseller = create_reseller(name="Reseller A")
    set_prices(reseller)
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
def other_reseller(create_reseller, create_reseller_staff, create_organization):
    reseller = create_reseller(name="Reseller B")
    set_prices(reseller)
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent B"),
        org=create_organization(reseller, name="Bravo", country="ES"),
    )


def credits_url(org, *parts: str) -> str:
    return "/".join([f"/organizations/{org.id}/credits", *parts])
