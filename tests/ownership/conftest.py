"""Fixtures for the ownership tests: Acme (owner, admin, member, one without portal access)
of reseller A with its agent, and reseller B with its own organization and agent."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tenants.organizations import ownership
from tests.conftest import owner_of, text_of


@pytest.fixture
def acme(create_reseller, create_reseller_staff, create_organization, create_member):
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
    reseller = create_reseller(name="Reseller B")
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, name="Agent B"),
        org=create_organization(reseller, name="Bravo"),
    )


def ownership_url(org, *parts: str) -> str:
    return "/".join([f"/organizations/{org.id}/members/ownership", *parts])


def answer_path(message) -> str:
    """The path of the accept-or-decline link in the member's email."""
    match = re.search(r"https?://[^/\s]+(/ownership/\S+)", text_of(message))
    assert match, "no ownership link in the email"
    return match.group(1)


def link_path(transfer) -> str:
    return f"/ownership/{ownership.link_token(transfer)}"
