"""Login-as fixtures: staff of two resellers, a support agent, an organization, helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import PlatformRole, ResellerRole, SupportSession, UserSession
from tests.conftest import PASSWORD, owner_of

REASON = "Ticket #4711"


@pytest.fixture
def reseller(create_reseller):
    return create_reseller(name="Alpha Telecom")


@pytest.fixture
def other_reseller(create_reseller):
    return create_reseller(name="Beta Mobile")


@pytest.fixture
def org(create_organization, reseller):
    return create_organization(reseller, name="Acme Ibérica SL")


@pytest.fixture
def owner(org):
    return owner_of(org)


@pytest.fixture
def agent(reseller, create_reseller_staff):
    return create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith")


@pytest.fixture
def reseller_admin(reseller, create_reseller_staff):
    return create_reseller_staff(reseller, role=ResellerRole.ADMIN, name="Ada Admin")


@pytest.fixture
def support_agent(create_platform_staff):
    return create_platform_staff(role=PlatformRole.SUPPORT, name="Sam Support")


@pytest.fixture
def platform_admin(create_platform_staff):
    return create_platform_staff(role=PlatformRole.ADMIN, name="Pat Platform")


@pytest.fixture
def login(client):
    def _login(user, password: str = PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.text
        return client

    return _login


def start(client, org, member_id: str | None = None, reason: str = REASON, **extra):
    """POST the start form as the Customer app does (the owner unless said otherwise)."""
    member_id = member_id or owner_of(org).id
    return client.post(
        f"/organizations/{org.id}/support/start",
        data={"member": member_id, "reason": reason, **extra},
    )


def give_back(client):
    return client.post("/support/return")


def session_token(client) -> str | None:
    """The server-side session token the cookie carries (Flask-Login's user id)."""
    with client.session_transaction() as flask_session:
        return flask_session.get("_user_id")


def age_authentication(user, minutes: int) -> None:
    """Move the last authentication of every login of ``user`` into the past."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(authenticated_at=utcnow() - timedelta(minutes=minutes))
    )
    commit()


def only_session() -> SupportSession:
    rows = db.session.scalars(select(SupportSession)).all()
    assert len(rows) == 1, rows
    db.session.refresh(rows[0])
    return rows[0]
