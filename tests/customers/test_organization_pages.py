"""An organization's pages reached from the Customer app: settings, suspend, reactivate,
delete, the audit tab, and who may open them."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.models import AuditEntry, Organization, OrganizationStatus
from tests.conftest import owner_of


def test_settings_general_billing_and_configuration(agent_client, reseller, create_organization):
    org = create_organization(reseller, name="Acme SL")
    response = agent_client.post(
        f"/organizations/{org.id}/settings/general",
        data={
            "general-name": "Acme Iberia SL",
            "general-country": "PT",
            "general-currency": "EUR",
            "general-timezone": "Europe/Lisbon",
            "general-pricing_model": "postpaid",
        },
        follow_redirects=True,
    )
    assert b"General information saved." in response.data
    response = agent_client.post(
        f"/organizations/{org.id}/settings/billing",
        data={
            "billing-billing_type": "individual",
            "billing-billing_name": "Ana Pérez",
            "billing-billing_address": "Rua 1",
            "billing-billing_tax_id": "PT123",
            "billing-billing_email": "Pay@Acme.example",
        },
        follow_redirects=True,
    )
    assert b"Billing information saved." in response.data
    response = agent_client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "ACME",
            "configuration-notification_email": "ops@acme.example",
            "configuration-notification_mobile": "+34 600 000 001",
            "configuration-low_balance_alert": "yes",
            "configuration-low_balance_threshold": "500",
            "configuration-alert_email": "alerts@acme.example",
        },
        follow_redirects=True,
    )
    assert b"Balance &amp; configuration saved." in response.data
    response = agent_client.post(
        f"/organizations/{org.id}/settings/terms",
        data={"terms-credit_limit": "2500.50", "terms-individual_user_credits": "y"},
        follow_redirects=True,
    )
    assert b"Terms saved." in response.data
    db.session.expire_all()
    org = db.session.get(Organization, org.id)
    assert (org.name, org.country, org.timezone, org.pricing_model.value) == (
        "Acme Iberia SL",
        "PT",
        "Europe/Lisbon",
        "postpaid",
    )
    assert (org.billing_type.value, org.billing_name, org.billing_email) == (
        "individual",
        "Ana Pérez",
        "pay@acme.example",
    )
    assert org.notification_mobile == "+34600000001"
    assert (org.low_balance_alert, org.low_balance_threshold) == (True, 500)
    assert str(org.credit_limit) == "2500.5000" and org.individual_user_credits is True


def test_settings_errors_name_the_field_and_change_nothing(
    agent_client, reseller, create_organization
):
    org = create_organization(reseller, name="Acme SL")
    response = agent_client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "ACME",
            "configuration-notification_email": "bad email",
            "configuration-notification_mobile": "12345",
            "configuration-low_balance_alert": "yes",
            "configuration-low_balance_threshold": "lots",
            "configuration-alert_email": "",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="configuration-notification_email-error"' in html
    assert 'id="configuration-notification_mobile-error"' in html
    assert "Enter a whole number of credits." in html
    response = agent_client.post(
        f"/organizations/{org.id}/settings/general",
        data={
            "general-name": "n" * 10_000,
            "general-country": "XX",
            "general-currency": "EUR",
            "general-timezone": "Europe/Madrid",
        },
    )
    assert response.status_code == 422
    assert b"Use at most 200 characters." in response.data
    assert b"Unknown country." in response.data
    db.session.expire_all()
    org = db.session.get(Organization, org.id)
    assert (org.name, org.country, org.sender_name, org.low_balance_alert) == (
        "Acme SL",
        "ES",
        None,
        False,
    )


def test_pricing_model_locked_while_credits_remain(
    agent_client, reseller, create_organization, hold_credits
):
    org = create_organization(reseller, name="Acme SL")
    hold_credits(org, 100)
    page = agent_client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert 'data-field="pricing-model-locked"' in page
    response = agent_client.post(
        f"/organizations/{org.id}/settings/general",
        data={
            "general-name": "Acme SL",
            "general-country": "ES",
            "general-currency": "EUR",
            "general-timezone": "Europe/Madrid",
            "general-pricing_model": "postpaid",
        },
    )
    assert response.status_code == 409
    assert b"pricing model can only change" in response.data
    db.session.expire_all()
    assert db.session.get(Organization, org.id).pricing_model.value == "prepaid"


def test_org_admin_edits_billing_and_configuration_but_not_general(
    client, auth, reseller, create_organization, create_member
):
    org = create_organization(reseller, name="Acme SL")
    admin = create_member(org, role="admin")
    auth.login(admin.user.email)
    page = client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert "Billing information" in page and "Balance & configuration" in page
    assert "general-name" not in page and "terms-credit_limit" not in page
    response = client.post(
        f"/organizations/{org.id}/settings/billing",
        data={"billing-billing_type": "company", "billing-billing_name": "Acme Billing"},
    )
    assert response.status_code == 302
    assert (
        client.post(
            f"/organizations/{org.id}/settings/general",
            data={"general-name": "Hijacked", "general-country": "ES"},
        ).status_code
        == 403
    )
    assert client.post(f"/organizations/{org.id}/suspend", data={"reason": "x"}).status_code == 403
    db.session.expire_all()
    org = db.session.get(Organization, org.id)
    assert (org.name, org.billing_name) == ("Acme SL", "Acme Billing")


def test_suspend_and_reactivate_through_the_overview(
    agent_client, client, reseller, create_organization
):
    org = create_organization(reseller, name="Acme SL")
    assert b"Suspend" in agent_client.get(f"/organizations/{org.id}/").data
    empty = agent_client.post(f"/organizations/{org.id}/suspend", data={"reason": ""})
    assert empty.status_code == 422 and b"This field is required." in empty.data
    response = agent_client.post(
        f"/organizations/{org.id}/suspend",
        data={"reason": "Unpaid invoices"},
        follow_redirects=True,
    )
    assert b"The organization is suspended." in response.data
    assert b"Unpaid invoices" in response.data
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.SUSPENDED
    response = agent_client.post(f"/organizations/{org.id}/reactivate", follow_redirects=True)
    assert b"The organization is active again." in response.data
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.ACTIVE


def test_delete_refused_while_credits_remain(
    agent_client, reseller, create_organization, hold_credits
):
    org = create_organization(reseller, name="Acme SL")
    hold_credits(org, 10)
    response = agent_client.post(f"/organizations/{org.id}/delete")
    assert response.status_code == 409
    assert b"still holds credits" in response.data
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.ACTIVE


def test_delete_refused_while_debt_remains(agent_client, reseller, create_organization):
    from tenants.access.actors import SYSTEM
    from tenants.billing.usage import record_usage
    from tenants.jobs.outbox import commit
    from tests.conftest import set_prices

    set_prices(reseller)
    org = create_organization(reseller, name="Owes SL", pricing_model="postpaid")
    org.credit_limit = Decimal("100")
    record_usage(SYSTEM, org, credits=100, reference="sms-1")
    commit()
    response = agent_client.post(f"/organizations/{org.id}/delete")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "unbilled usage of €6.05 with its tax" in page
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.ACTIVE


def test_delete_keeps_the_record_and_logs_members_out(
    agent_client, reseller, create_organization, app
):
    org = create_organization(reseller, name="Acme SL")
    owner_email = owner_of(org).user.email
    assert b"Delete organization" in agent_client.get(f"/organizations/{org.id}/delete").data
    response = agent_client.post(f"/organizations/{org.id}/delete", follow_redirects=True)
    assert b"was deleted" in response.data
    db.session.expire_all()
    stored = db.session.get(Organization, org.id)
    assert stored.status == OrganizationStatus.DELETED and stored.deleted_at is not None
    other = app.test_client()
    login = other.post("/login", data={"email": owner_email, "password": "correct horse battery"})
    assert login.status_code != 302 or "/organizations/" not in login.headers.get("Location", "")


def test_audit_tab_shows_who_what_and_before_after(
    agent_client, agent, reseller, create_organization
):
    org = create_organization(reseller, name="Acme SL")
    agent_client.post(
        f"/organizations/{org.id}/settings/billing",
        data={"billing-billing_type": "individual", "billing-billing_name": "Ana Pérez"},
    )
    html = agent_client.get(f"/organizations/{org.id}/audit").get_data(as_text=True)
    assert "Organization edited" in html and "Organization created" in html
    assert html.index("Organization edited") < html.index("Organization created")  # newest first
    assert "Agent Smith" in html and agent.email in html
    assert "Billing type" in html and "Company" in html and "Individual" in html
    assert "Ana Pérez" in html
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "organization.updated")
    ).all()
    assert entries[0].changes["billing.type"] == ["company", "individual"]


def test_audit_tab_pages_older_entries(agent_client, reseller, create_organization, monkeypatch):
    import tenants.views.organization.audit as views

    monkeypatch.setattr(views, "AUDIT_PAGE_SIZE", 1)
    org = create_organization(reseller, name="Acme SL")
    agent_client.post(f"/organizations/{org.id}/suspend", data={"reason": "x"})
    first = agent_client.get(f"/organizations/{org.id}/audit").get_data(as_text=True)
    assert "Organization suspended" in first and "Organization created" not in first
    import re

    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = agent_client.get(older).get_data(as_text=True)
    assert "Organization created" in second and "Organization suspended" not in second
    assert agent_client.get(f"/organizations/{org.id}/audit?cursor=garbage").status_code == 404


def test_plain_member_cannot_reach_the_customer_app_or_audit(
    client, auth, reseller, create_organization, create_member
):
    org = create_organization(reseller)
    member = create_member(org, role="member")
    auth.login(member.user.email)
    assert client.get("/customers/").status_code == 403
    assert client.get("/customers/new").status_code == 403
    assert client.get(f"/organizations/{org.id}/audit").status_code == 403
    assert client.get(f"/organizations/{org.id}/settings").status_code == 403


def _configure(agent_client, org, threshold: str):
    return agent_client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "ACME",
            "configuration-low_balance_alert": "yes",
            "configuration-low_balance_threshold": threshold,
        },
        follow_redirects=True,
    )


def test_the_low_balance_threshold_is_read_strictly(agent_client, reseller, create_organization):
    """ "10.00" and "1.5" are refused, not read as 1000 and 15; grouped thousands are read."""
    org = create_organization(reseller, name="Acme SL")
    before = org.low_balance_threshold
    for typed in ("10.00", "1.5", "12,5"):
        response = _configure(agent_client, org, typed)
        assert b"Balance &amp; configuration saved." not in response.data, typed
        db.session.expire_all()
        assert db.session.get(Organization, org.id).low_balance_threshold == before, typed
    response = _configure(agent_client, org, "1,000")
    assert b"Balance &amp; configuration saved." in response.data
    db.session.expire_all()
    assert db.session.get(Organization, org.id).low_balance_threshold == 1000


def test_the_credit_limit_field_shows_the_amount_as_people_write_it(
    agent_client, reseller, create_organization
):
    """5000 reads "5000", not "5E+3" (issue 13); decimals as the reader writes them."""
    org = create_organization(reseller, name="Acme SL", pricing_model="postpaid")
    org.credit_limit = Decimal("5000")
    db.session.commit()
    html = agent_client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert 'value="5000"' in html and "5E+3" not in html
    org.credit_limit = Decimal("2500.5")
    db.session.commit()
    html = agent_client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert 'value="2500.5"' in html
