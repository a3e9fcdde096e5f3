"""The portal's close-out: the delete page's statement (credits with Withdraw, unbilled usage
with its tax and the final invoice's button, open invoices with Record payment, Delete
enabled only at zero), the Payment section's figures, and the settings' locks and hints."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing import payments
from tenants.core.extensions import db
from tenants.credits.operations import add_credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType, Organization, OrganizationStatus
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef
from tenants.organizations.operations import suspend_organization
from tests.billing.conftest import reload, use
from tests.billing.test_closeout import invoices_of
from tests.conftest import PASSWORD, owner_of

NOVEMBER_20 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DELETE_BUTTON = re.compile(r'<button type="submit" class="btn btn-danger"( disabled)?')
FINAL_BUTTON = re.compile(r'<button type="submit" class="btn btn-outline-primary"( disabled)?')


@pytest.fixture
def agent(reseller, create_reseller_staff):
    return create_reseller_staff(reseller, name="Agent Smith")


@pytest.fixture
def staff_client(client, auth, agent):
    auth.login(agent.email, PASSWORD)
    return client


def delete_enabled(html: str) -> bool:
    return DELETE_BUTTON.search(html).group(1) is None


def test_a_prepaid_statement_lists_each_account_with_withdraw(
    clock, staff_client, create_organization, create_member, reseller
):
    org = create_organization(reseller=reseller, name="Prepaid SL")
    org.individual_user_credits = True
    member = create_member(org, name="Marta Member")
    holder = create_member(org, name="Hugo Holder")
    add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 30, entry_type=EntryType.ADJUSTMENT)
    add_credits(
        SYSTEM, org, AccountRef(AccountKind.MEMBER, holder.id), 5, entry_type=EntryType.ADJUSTMENT
    )
    commit()
    html = staff_client.get(f"/organizations/{org.id}/delete").get_data(as_text=True)
    assert 'data-account="system"' in html and "System Credits" in html
    assert f"/organizations/{org.id}/credits/withdraw?account=system" in html
    assert 'data-table="closeout-invoices"' not in html  # nothing postpaid
    assert not delete_enabled(html)
    refused = staff_client.post(f"/organizations/{org.id}/delete")
    assert refused.status_code == 409 and "still holds credits" in refused.get_data(as_text=True)
    # Each member's account, one without credits too, and only what holds credits to withdraw.
    assert f'data-account="member:{member.id}"' in html and "User Credits: Marta Member" in html
    assert f"withdraw?account=member:{member.id}" not in html
    assert f"withdraw?account=member:{holder.id}" in html and "User Credits: Hugo Holder" in html


def test_the_postpaid_close_out_step_by_step(clock, staff_client, create_postpaid):
    org = create_postpaid(name="Postpaid SL")
    use(org, 100, at=NOVEMBER_20)
    page = f"/organizations/{org.id}/delete"

    html = staff_client.get(page).get_data(as_text=True)
    assert re.search(r'data-field="unbilled">€5.00', html)
    assert 'data-field="unbilled-tax">€1.05' in html
    assert 'data-field="unbilled-total">€6.05' in html
    assert FINAL_BUTTON.search(html).group(1) == " disabled"  # active: suspend first
    assert 'data-field="final-invoice-hint"' in html
    assert not delete_enabled(html)

    suspend_organization(SYSTEM, org, "closing")
    commit()
    html = staff_client.get(page).get_data(as_text=True)
    assert FINAL_BUTTON.search(html).group(1) is None
    issued = staff_client.post(f"/organizations/{org.id}/final-invoice", data={"back": "delete"})
    assert issued.status_code == 303 and issued.headers["Location"].endswith(page)
    (invoice,) = invoices_of(org)
    html = staff_client.get(page).get_data(as_text=True)
    assert f"Final invoice {invoice.number} issued for €6.05." in html
    assert invoice.number in html and f"/organizations/{org.id}/payment#record-payment" in html
    assert 'data-field="open-invoices">€6.05' in html
    assert "Issue the final invoice now" not in html  # nothing unbilled any more
    assert not delete_enabled(html)

    payments.record_payment(SYSTEM, org, "6.05")
    commit()
    html = staff_client.get(page).get_data(as_text=True)
    assert "the organization can be deleted" in html and delete_enabled(html)
    assert staff_client.post(page).status_code == 302
    assert reload(org).status == OrganizationStatus.DELETED


def test_the_final_invoice_refused_in_the_portal_says_why(clock, staff_client, create_postpaid):
    org = create_postpaid()
    use(org, 10, at=NOVEMBER_20)
    response = staff_client.post(
        f"/organizations/{org.id}/final-invoice", data={"back": "payment"}, follow_redirects=True
    )
    assert "Suspend the organization first" in response.get_data(as_text=True)
    assert invoices_of(org) == []


def test_the_close_out_in_spanish(clock, staff_client, agent, create_postpaid):
    agent.language = "es"
    db.session.commit()
    org = create_postpaid()
    use(org, 100, at=NOVEMBER_20)
    html = staff_client.get(f"/organizations/{org.id}/delete").get_data(as_text=True)
    assert "Emitir ahora la factura final" in html and "Impuesto que llevará" in html
    assert "Suspende primero la organización" in html
    refused = staff_client.post(f"/organizations/{org.id}/delete").get_data(as_text=True)
    assert "emite la factura final" in refused and "6,05" in refused


def test_the_payment_section_shows_tax_to_come_and_credit_on_account(
    clock, staff_client, client, auth, create_postpaid
):
    org = create_postpaid()
    use(org, 100, at=NOVEMBER_20)
    payments.record_payment(SYSTEM, org, "6.05")
    commit()
    html = staff_client.get(f"/organizations/{org.id}/payment").get_data(as_text=True)
    assert 'data-field="unbilled-tax">€1.05' in html
    assert 'data-field="credit-on-account">€6.05' in html
    assert 'data-field="debt">€0.00' in html
    assert "Issue the final invoice now" in html
    auth.logout()
    auth.login(owner_of(org).user.email, PASSWORD)
    html = client.get(f"/organizations/{org.id}/payment").get_data(as_text=True)
    assert 'data-field="unbilled-tax"' in html and "Issue the final invoice now" not in html


def test_settings_lock_the_currency_and_hint_the_country_change(
    clock, staff_client, agent, create_postpaid
):
    org = create_postpaid(name="Owes SL")
    use(org, 10, at=NOVEMBER_20)
    html = staff_client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert "A change applies from now on" in html
    assert 'data-field="pricing-model-locked"' in html
    response = staff_client.post(
        f"/organizations/{org.id}/settings/general",
        data={
            "general-name": "Owes SL",
            "general-country": "ES",
            "general-currency": "USD",
            "general-timezone": "Europe/Madrid",
        },
    )
    assert response.status_code == 409
    assert "The currency and the pricing model can only change" in response.get_data(as_text=True)
    assert db.session.get(Organization, org.id, populate_existing=True).currency == "EUR"
    agent.language = "es"
    db.session.commit()
    html = staff_client.get(f"/organizations/{org.id}/settings").get_data(as_text=True)
    assert "El cambio se aplica desde ahora" in html
