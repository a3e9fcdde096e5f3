"""API keys in the portal (reseller settings, organization page) and `flask api-key create`."""

from __future__ import annotations

import re

from tenants.core.extensions import db
from tenants.models import ApiKey, ResellerRole
from tests.conftest import PASSWORD, owner_of

SECRET = re.compile(r"(?:rk|ok)_live_[0-9a-f]{12}_[A-Za-z0-9_-]+")


def test_reseller_admin_creates_uses_and_revokes_a_key(
    client, auth, api, create_reseller, create_reseller_staff, create_organization
):
    reseller = create_reseller(name="Keys Reseller")
    create_organization(reseller, name="Keyed Org", owner_password=None)
    admin = create_reseller_staff(reseller, role=ResellerRole.ADMIN)
    auth.login(admin.email, PASSWORD)
    page = client.get("/reseller/settings/api-keys")
    assert page.status_code == 200
    assert b"No API keys yet" in page.data
    created = client.post("/reseller/settings/api-keys", data={"name": "Billing system"})
    assert created.status_code == 200
    secret = SECRET.search(created.get_data(as_text=True)).group(0)
    assert secret.startswith("rk_live_")
    # Shown once: the list shows the prefix only.
    listing = client.get("/reseller/settings/api-keys").get_data(as_text=True)
    assert "Billing system" in listing and secret not in listing
    assert api.get("/organizations", secret).json["data"][0]["name"] == "Keyed Org"
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.reseller_id == reseller.id))
    response = client.post(f"/reseller/settings/api-keys/{key.id}/revoke")
    assert response.status_code == 302
    assert api.get("/organizations", secret).status_code == 401


def test_reseller_agents_cannot_manage_reseller_keys(
    client, auth, create_reseller, create_reseller_staff
):
    reseller = create_reseller()
    agent = create_reseller_staff(reseller, role=ResellerRole.AGENT)
    auth.login(agent.email, PASSWORD)
    assert client.get("/reseller/settings/api-keys").status_code == 403
    assert client.post("/reseller/settings/api-keys", data={"name": "x"}).status_code == 403


def test_organization_admin_manages_its_keys(
    client, auth, api, create_organization, create_reseller
):
    org = create_organization(name="Own Keys")
    owner = owner_of(org)
    auth.login(owner.user.email, PASSWORD)
    created = client.post(f"/organizations/{org.id}/api-keys/", data={"name": "Shop"})
    assert created.status_code == 200
    secret = SECRET.search(created.get_data(as_text=True)).group(0)
    assert secret.startswith("ok_live_")
    assert api.get(f"/organizations/{org.id}", secret).json["name"] == "Own Keys"
    page = client.get(f"/organizations/{org.id}/api-keys/").get_data(as_text=True)
    assert "Shop" in page and secret not in page
    # Another organization's page and key are not reachable.
    other = create_organization(name="Other", owner_password=None)
    assert client.get(f"/organizations/{other.id}/api-keys/").status_code == 404
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.organization_id == org.id))
    assert client.post(f"/organizations/{other.id}/api-keys/{key.id}/revoke").status_code == 404
    assert client.post(f"/organizations/{org.id}/api-keys/{key.id}/revoke").status_code == 302
    assert api.get(f"/organizations/{org.id}", secret).status_code == 401


def test_plain_members_cannot_manage_keys(client, auth, create_organization, create_member):
    org = create_organization(owner_password=None)
    member = create_member(org, role="member")
    auth.login(member.user.email, PASSWORD)
    assert client.get(f"/organizations/{org.id}/api-keys/").status_code == 403


def test_cli_prints_the_key_alone_on_the_last_line(
    runner, api, create_reseller, create_organization
):
    reseller = create_reseller(name="Cli Reseller")
    org = create_organization(reseller, owner_password=None)
    result = runner.invoke(args=["api-key", "create", "--reseller", reseller.slug])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert SECRET.fullmatch(secret) and secret.startswith("rk_live_")
    assert api.get("/organizations", secret).status_code == 200
    result = runner.invoke(args=["api-key", "create", "--organization", org.id, "--name", "Shop"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("ok_live_")
    assert api.get(f"/organizations/{org.id}", secret).status_code == 200
    assert runner.invoke(args=["api-key", "create"]).exit_code != 0
    assert runner.invoke(args=["api-key", "create", "--reseller", "nope"]).exit_code != 0
