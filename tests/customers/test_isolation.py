"""Reseller B's staff get 404 on every organization URL of reseller A, and nothing changes."""

from __future__ import annotations

import pytest

from tenants.core.extensions import db
from tenants.models import AuditEntry, Organization, OrganizationStatus

GET_PATHS = [
    "/organizations/{id}/",
    "/organizations/{id}/payment",
    "/organizations/{id}/settings",
    "/organizations/{id}/logs",
    "/organizations/{id}/invoices",
    "/organizations/{id}/audit",
    "/organizations/{id}/suspend",
    "/organizations/{id}/delete",
]
POSTS = [
    ("/organizations/{id}/settings/general", {"general-name": "Stolen", "general-country": "ES"}),
    ("/organizations/{id}/settings/billing", {"billing-billing_name": "Stolen"}),
    ("/organizations/{id}/settings/configuration", {"configuration-sender_name": "STOLEN"}),
    ("/organizations/{id}/settings/terms", {"terms-credit_limit": "1000"}),
    ("/organizations/{id}/suspend", {"reason": "hostile"}),
    ("/organizations/{id}/reactivate", {}),
    ("/organizations/{id}/delete", {}),
]


@pytest.fixture
def foreign_org(create_reseller, create_organization):
    return create_organization(create_reseller(name="Other Reseller"), name="Foreign SL")


@pytest.mark.parametrize("path", GET_PATHS)
def test_other_resellers_organization_pages_are_404(agent_client, foreign_org, path):
    assert agent_client.get(path.format(id=foreign_org.id)).status_code == 404


@pytest.mark.parametrize(("path", "data"), POSTS)
def test_other_resellers_organization_posts_are_404_and_change_nothing(
    agent_client, foreign_org, path, data
):
    before = db.session.query(AuditEntry).count()
    assert agent_client.post(path.format(id=foreign_org.id), data=data).status_code == 404
    db.session.expire_all()
    org = db.session.get(Organization, foreign_org.id)
    assert (org.name, org.status, org.billing_name, org.sender_name) == (
        "Foreign SL",
        OrganizationStatus.ACTIVE,
        None,
        None,
    )
    assert db.session.query(AuditEntry).count() == before


def test_other_resellers_organizations_are_not_listed_or_found(
    agent_client, foreign_org, reseller, create_organization
):
    mine = create_organization(reseller, name="Foreign Mine")
    html = agent_client.get("/customers/", query_string={"q": "foreign"}).get_data(as_text=True)
    assert mine.id in html and foreign_org.id not in html


def test_unknown_organization_is_404(agent_client):
    assert agent_client.get("/organizations/org_doesnotexist/").status_code == 404
    assert agent_client.get("/organizations/" + "x" * 5000 + "/").status_code == 404
