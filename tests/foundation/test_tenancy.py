"""Each actor lands on their home; another tenant's organization is a 404 on every section."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tenants.models import PlatformRole, ResellerRole
from tests.conftest import owner_of


def organization_section_urls(app: Flask, org_id: str) -> list[str]:
    """Every page of one organization a browser can open (GET, only the organization id)."""
    urls = sorted(
        rule.rule.replace("<org_id>", org_id)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/organizations/<org_id>")
        and set(rule.arguments) == {"org_id"}
        and "GET" in (rule.methods or ())
    )
    assert len(urls) >= 7, urls  # overview, members, payment, settings, logs, invoices, audit
    return urls


@pytest.fixture
def tenants(create_reseller, create_organization):
    """Two resellers, each with a customer organization."""
    ours = create_reseller(name="Ours Telecom")
    theirs = create_reseller(name="Theirs Telecom")
    return {
        "reseller": ours,
        "other_reseller": theirs,
        "org": create_organization(ours, name="Our Customer SL"),
        "sibling_org": create_organization(ours, name="Sibling Customer SL"),
        "foreign_org": create_organization(theirs, name="Their Customer SL"),
    }


# -- homes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [PlatformRole.ADMIN, PlatformRole.SUPPORT])
def test_platform_staff_land_on_the_platform_overview(client, auth, create_platform_staff, role):
    user = create_platform_staff(role=role)
    response = auth.login(user.email)
    assert response.headers["Location"] == "/platform/"
    page = client.get("/platform/")
    assert page.status_code == 200
    assert "Platform overview" in page.text


@pytest.mark.parametrize("role", [ResellerRole.ADMIN, ResellerRole.AGENT])
def test_reseller_staff_land_on_the_customer_app(
    client, auth, tenants, create_reseller_staff, role
):
    user = create_reseller_staff(tenants["reseller"], role=role)
    response = auth.login(user.email)
    assert response.headers["Location"] == "/customers/"
    page = client.get("/customers/")
    assert page.status_code == 200
    assert "Our Customer SL" in page.text
    assert "Their Customer SL" not in page.text


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_organization_people_land_on_their_organization(client, auth, tenants, create_member, role):
    org = tenants["org"]
    member = owner_of(org) if role == "owner" else create_member(org, role=role)
    response = auth.login(member.user.email)
    assert response.headers["Location"] == f"/organizations/{org.id}/"
    page = client.get(f"/organizations/{org.id}/")
    assert page.status_code == 200
    assert "Our Customer SL" in page.text


def test_the_root_address_sends_each_actor_home(client, auth, tenants):
    assert client.get("/").headers["Location"] == "/login"
    owner = owner_of(tenants["org"])
    auth.login(owner.user.email)
    assert client.get("/").headers["Location"] == f"/organizations/{tenants['org'].id}/"


def test_logged_out_visitor_is_sent_to_the_login_page(app, client, tenants):
    for url in [*organization_section_urls(app, tenants["org"].id), "/customers/", "/platform/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


# -- isolation -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ResellerRole.ADMIN, ResellerRole.AGENT])
def test_reseller_staff_get_404_for_another_resellers_organization_everywhere(
    app, client, auth, tenants, create_reseller_staff, role
):
    user = create_reseller_staff(tenants["reseller"], role=role)
    auth.login(user.email)
    # The same pages of their own customer exist (so the 404s below are about tenancy).
    for url in organization_section_urls(app, tenants["org"].id):
        assert client.get(url).status_code != 404, url
    for url in organization_section_urls(app, tenants["foreign_org"].id):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Their Customer SL" not in response.text, url
        assert "Page not found" in response.text, url


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_organization_people_get_404_for_another_organization_everywhere(
    app, client, auth, tenants, create_member, role
):
    org = tenants["org"]
    member = owner_of(org) if role == "owner" else create_member(org, role=role)
    auth.login(member.user.email)
    for other in (tenants["sibling_org"], tenants["foreign_org"]):
        for url in organization_section_urls(app, other.id):
            response = client.get(url)
            assert response.status_code == 404, url
            assert other.name not in response.text, url


def test_another_tenants_organization_looks_exactly_like_a_missing_one(
    app, client, auth, tenants, create_reseller_staff
):
    user = create_reseller_staff(tenants["reseller"])
    auth.login(user.email)
    foreign_id, missing_id = tenants["foreign_org"].id, "org_doesnotexist000000000000000"
    foreign = client.get(f"/organizations/{foreign_id}/")
    missing = client.get(f"/organizations/{missing_id}/")
    assert foreign.status_code == missing.status_code == 404

    # The pages differ only where they repeat the address asked for (language switcher)
    # and in the CSRF tokens, which are signed with the time.
    def normalized(text: str, org_id: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]+"', "CSRF", text.replace(org_id, "ID"))

    assert normalized(foreign.text, foreign_id) == normalized(missing.text, missing_id)


def test_organization_member_is_forbidden_the_customer_app(client, auth, tenants, create_member):
    member = create_member(tenants["org"], role="admin")
    auth.login(member.user.email)
    response = client.get("/customers/")
    assert response.status_code == 403
    assert "You are not allowed to see or do this." in response.text
    assert client.get("/platform/").status_code == 403


def test_reseller_staff_are_forbidden_the_platform_overview(
    client, auth, tenants, create_reseller_staff
):
    user = create_reseller_staff(tenants["reseller"], role=ResellerRole.ADMIN)
    auth.login(user.email)
    assert client.get("/platform/").status_code == 403
