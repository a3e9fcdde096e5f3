"""Contacts fixtures: an organization of reseller A with its owner and a plain member, a list,
another reseller's organization, and CSV bodies."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from tenants.access.actors import SYSTEM
from tenants.contacts import operations
from tenants.jobs.outbox import commit
from tests.conftest import owner_actor, owner_of


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


@pytest.fixture
def shop(create_reseller, create_organization, create_member):
    """Reseller A's Spanish organization (owner, a plain member, a list "Clients") and
    reseller B's organization with a list of its own."""
    a = create_reseller(name="Alpha Telecom")
    b = create_reseller(name="Beta Mobile")
    org = create_organization(a, name="Acme Ibérica SL", country="ES")
    other = create_organization(b, name="Zeta SA", country="ES")
    member = create_member(org, role="member", name="Max Member")
    clients = operations.create_list(SYSTEM, org, name="Clients")
    other_list = operations.create_list(SYSTEM, other, name="Zeta list")
    other_contact = operations.add_contact(SYSTEM, other, other_list, mobile="+34600000077")
    commit()
    return SimpleNamespace(
        reseller=a,
        other_reseller=b,
        org=org,
        other=other,
        owner=owner_of(org),
        actor=owner_actor(org),
        member=member,
        clients=clients,
        other_list=other_list,
        other_contact=other_contact,
    )
