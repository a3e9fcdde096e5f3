"""Issue 16, item 3: the billing details inside the purchase flow, in English and in Spanish.

An admin quotes 1,000 credits, edits the billing details (an invalid bank account is refused on
its field, a valid one is kept and shown masked), comes back to the same order and pays. A
member buying for their own account sees whom to ask instead of a form.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tenants.jobs.outbox import commit
from tests.browser.journeys import LANGUAGES, log_in, settled
from tests.browser.test_journey_credits import GOOD_CARD, buy, open_credits, pay

pytestmark = pytest.mark.browser

INVALID_IBAN = "DE89 3704 0044 0532 0130 01"
VALID_IBAN = "DE89 3704 0044 0532 0130 00"
MASKED = "DE89 •••• •••• 3000"


@pytest.fixture
def acme(create_priced_reseller, create_organization, create_member):
    """A prepaid Spanish organization (€0.045 a credit, 21 % tax) with individual user
    credits, an admin and a member."""
    reseller = create_priced_reseller(name="Alpha Telecom")
    org = create_organization(reseller, name="Acme Ibérica SL", country="ES")
    org.individual_user_credits = True
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    admin = create_member(org, role="admin", name="Ada Admin")
    member = create_member(org, role="member", name="Mel Member")
    return org, admin, member


@pytest.mark.parametrize("language", LANGUAGES)
def test_admin_edits_billing_details_before_paying_and_returns_to_the_order(
    live_server, page, acme, language
):
    _org, admin, _member = acme
    email = admin.user.email
    commit()

    t = log_in(page, live_server, email, language)
    open_credits(page, t)
    buy(page, t, "1000")
    billing = page.locator('[data-section="billing"]')
    expect(billing).to_contain_text("Acme Billing SL")
    expect(billing.locator('[data-field="iban"]')).to_have_text("—")

    page.get_by_role("link", name=t("Edit billing details")).click()
    expect(page.get_by_role("heading", name=t("Billing details"))).to_be_visible()
    expect(page.get_by_label(t("Billing name"), exact=True)).to_have_value("Acme Billing SL")
    page.get_by_label(t("Billing name"), exact=True).fill("Acme Facturación SL")
    iban = page.get_by_label(t("Bank account (IBAN)"), exact=True)
    iban.fill(INVALID_IBAN)
    page.get_by_role("button", name=t("Save and return to the purchase")).click()
    expect(
        page.get_by_text(t("Not a valid IBAN: check the country code, the length and the digits."))
    ).to_be_visible()
    expect(page.get_by_label(t("Bank account (IBAN)"), exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )

    page.get_by_label(t("Bank account (IBAN)"), exact=True).fill(VALID_IBAN)
    page.get_by_role("button", name=t("Save and return to the purchase")).click()
    expect(page.get_by_role("heading", name=t("Confirm your purchase"))).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text=t("Billing details saved."))).to_be_visible()
    expect(billing).to_contain_text("Acme Facturación SL")
    expect(billing.locator('[data-field="iban"]')).to_have_text(MASKED)
    expect(page.get_by_text(VALID_IBAN)).to_have_count(0)
    quote = page.locator('[data-table="quote"]')
    expect(quote.locator('[data-field="credits"]')).to_have_text(
        "1,000" if language == "en" else "1.000"
    )
    expect(quote.locator('[data-field="total"]')).to_have_text(t.money("54.45"))

    pay(page, t, GOOD_CARD)
    expect(page.get_by_role("heading", name=t("Payment confirmed"))).to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_member_buying_their_own_credits_sees_whom_to_ask(live_server, page, acme, language):
    _org, admin, member = acme
    email, member_id = member.user.email, member.id
    admin_name, admin_email = admin.user.name, admin.user.email
    commit()

    t = log_in(page, live_server, email, language)
    open_credits(page, t)
    settled(page)
    page.get_by_role("link", name=t("Buy credits"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Purchase SMS Credits"))).to_be_visible()
    page.get_by_label(t("Purchase for"), exact=True).select_option(f"member:{member_id}")
    page.get_by_label(t("Quantity (credits)"), exact=True).fill("100")
    page.get_by_role("button", name=t("Proceed")).click()
    expect(page.get_by_role("heading", name=t("Confirm your purchase"))).to_be_visible()

    expect(page.get_by_role("link", name=t("Edit billing details"))).to_have_count(0)
    contacts = page.locator('[data-section="billing-contacts"]')
    expect(contacts).to_contain_text(
        t("Only your organization's admins can change the billing details. To change them, ask:")
    )
    expect(contacts.get_by_role("link", name=admin_email)).to_have_attribute(
        "href", f"mailto:{admin_email}"
    )
    expect(contacts).to_contain_text(admin_name)
