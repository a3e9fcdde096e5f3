"""Fixtures for platform and reseller administration: a reseller with an admin and an agent."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tenants.access.actors import Actor
from tenants.models import PlatformRole, Reseller, ResellerRole, User


@dataclass
class ResellerTeam:
    reseller: Reseller
    admin: User
    agent: User

    @property
    def admin_actor(self) -> Actor:
        return Actor(
            user_id=self.admin.id, reseller_id=self.reseller.id, reseller_role=ResellerRole.ADMIN
        )

    @property
    def agent_actor(self) -> Actor:
        return Actor(
            user_id=self.agent.id, reseller_id=self.reseller.id, reseller_role=ResellerRole.AGENT
        )


@pytest.fixture
def create_team(create_reseller, create_reseller_staff):
    def _create(name: str | None = None) -> ResellerTeam:
        reseller = create_reseller(name)
        return ResellerTeam(
            reseller=reseller,
            admin=create_reseller_staff(reseller, ResellerRole.ADMIN, name="Ada Admin"),
            agent=create_reseller_staff(reseller, ResellerRole.AGENT, name="Abe Agent"),
        )

    return _create


@pytest.fixture
def team(create_team) -> ResellerTeam:
    return create_team("Acme Telecom")


@pytest.fixture
def platform_admin(create_platform_staff) -> User:
    return create_platform_staff(PlatformRole.ADMIN, name="Pat Platform")


@pytest.fixture
def admin_client(client, auth, team):
    """The test client logged in as the reseller team's admin."""
    auth.login(team.admin.email)
    return client


@pytest.fixture
def platform_client(client, auth, platform_admin):
    """The test client logged in as the platform admin."""
    auth.login(platform_admin.email)
    return client


def platform_actor(user: User, role: PlatformRole = PlatformRole.ADMIN) -> Actor:
    return Actor(user_id=user.id, platform_role=role)
