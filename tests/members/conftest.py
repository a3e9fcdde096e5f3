"""Fixtures for the member and profile tests: two resellers, an organization with each role."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import owner_of


@pytest.fixture
def acme(create_reseller, create_reseller_staff, create_organization, create_member):
    """Reseller A with an agent and the organization Acme: owner, admin, member, no-access."""
    reseller = create_reseller(name="Reseller A")
    org = create_organization(reseller, name="Acme")
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent A"),
        org=org,
        owner=owner_of(org),
        admin=create_member(org, role="admin", name="Ada Admin"),
        member=create_member(org, role="member", name="Mel Member"),
        offline=create_member(org, portal_access=False, name="Field Worker", password=None),
    )


@pytest.fixture
def other_reseller(create_reseller, create_reseller_staff, create_organization):
    """Reseller B, its agent and one organization of its own."""
    reseller = create_reseller(name="Reseller B")
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent B"),
        org=create_organization(reseller, name="Bravo"),
    )


def members_url(org, *parts: str) -> str:
    return "/".join([f"/organizations/{org.id}/members", *parts])
