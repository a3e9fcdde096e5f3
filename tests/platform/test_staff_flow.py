"""The three staff screens share one flow: a refusal of a role change is a message on the
screen, whether the service answers Conflict or ValidationFailed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.models import PlatformRole, PlatformStaff, ResellerStaff
from tenants.resellers import operations as resellers


def _reseller_staff_id(team) -> str:
    return db.session.scalar(select(ResellerStaff.id).where(ResellerStaff.user_id == team.agent.id))


def _platform_staff_id(create_platform_staff) -> str:
    user = create_platform_staff(PlatformRole.SUPPORT, name="Sam Support")
    return db.session.scalar(select(PlatformStaff.id).where(PlatformStaff.user_id == user.id))


@pytest.fixture
def screens(client, auth, team, platform_admin, create_platform_staff):
    """Each screen: who logs in, the role-change URL, the role posted, the service to refuse."""
    agent = _reseller_staff_id(team)
    sam = _platform_staff_id(create_platform_staff)
    return {
        "reseller settings": (
            team.admin.email,
            f"/reseller/settings/staff/{agent}/role",
            "admin",
            "change_reseller_staff_role",
        ),
        "platform staff": (
            platform_admin.email,
            f"/platform/staff/{sam}/role",
            "admin",
            "change_platform_staff_role",
        ),
        "a reseller seen from the platform": (
            platform_admin.email,
            f"/platform/resellers/{team.reseller.id}/staff/{agent}/role",
            "admin",
            "change_reseller_staff_role",
        ),
    }


@pytest.mark.parametrize(
    "screen", ["reseller settings", "platform staff", "a reseller seen from the platform"]
)
def test_a_refused_role_change_is_a_message_on_the_screen(
    client, auth, screens, monkeypatch, screen
):
    email, url, role, service = screens[screen]

    def refuse(*_args, **_kwargs):
        raise ValidationFailed(fields={"role": "Unknown role."})

    monkeypatch.setattr(resellers, service, refuse)
    auth.login(email)
    response = client.post(url, data={"role": role}, follow_redirects=True)
    assert response.status_code == 200
    assert "Unknown role." in response.get_data(as_text=True)
    assert 'id="staff-list"' in response.get_data(as_text=True)
