"""Issue 4: an organization admin buys credits with the sandbox card, downloads the receipt,
transfers credits to a member, reads the movements and downloads the 30-day log; a declined
card changes nothing — in English and in Spanish."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tenants.access.actors import SYSTEM
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tests.browser.journeys import LANGUAGES, Texts, download, log_in, settled
from tests.credits.conftest import MOVEMENTS_CSV_HEADER

pytestmark = pytest.mark.browser

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
GREEN, RED = "rgb(20, 108, 67)", "rgb(176, 42, 55)"  # .credits-in / .credits-out (app.css)


@pytest.fixture
def acme(create_priced_reseller, create_organization, create_member):
    """A prepaid Spanish organization priced at €0.045 a credit plus 21 % tax, with
    individual user credits, an admin and a member."""
    reseller = create_priced_reseller(name="Alpha Telecom")
    org = create_organization(reseller, name="Acme Ibérica SL", country="ES")
    org.individual_user_credits = True
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    admin = create_member(org, role="admin", name="Ada Admin")
    member = create_member(org, role="member", name="Mel Member")
    return org, admin, member


def open_credits(page, t: Texts) -> None:
    """From the organization's overview (an admin's home) to Manage SMS Credits."""
    page.get_by_role("link", name=t("Manage SMS Credits"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Manage SMS Credits"))).to_be_visible()


def buy(page, t: Texts, quantity: str) -> None:
    """Buy credits for System Credits up to the card page's Pay now."""
    page.get_by_role("link", name=t("Buy credits"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Purchase SMS Credits"))).to_be_visible()
    page.get_by_label(t("Purchase for"), exact=True).select_option("system")
    page.get_by_label(t("Quantity (credits)"), exact=True).fill(quantity)
    page.get_by_role("button", name=t("Proceed")).click()
    expect(page.get_by_role("heading", name=t("Confirm your purchase"))).to_be_visible()


def pay(page, t: Texts, card: str) -> None:
    page.get_by_role("button", name=t("Continue to payment")).click()
    expect(page.get_by_role("heading", name=t("Payment"), exact=True)).to_be_visible()
    page.get_by_label(t("Card number"), exact=True).fill(card)
    page.get_by_label(t("Name on card"), exact=True).fill("Ada Admin")
    page.get_by_label(t("Expiry (MM/YY)"), exact=True).fill("12/30")
    page.get_by_label(t("CVC"), exact=True).fill("123")
    page.get_by_role("button", name=t("Pay now")).click()


@pytest.mark.parametrize("language", LANGUAGES)
def test_admin_buys_credits_transfers_some_and_downloads_receipt_and_log(
    live_server, page, acme, language
):
    _org, admin, member = acme
    email, member_id = admin.user.email, member.id
    commit()

    t = log_in(page, live_server, email, language)
    open_credits(page, t)
    system_row = page.locator('[data-account="system"]')
    expect(system_row.locator('[data-field="credits"]')).to_have_text("0")

    # Buy 1,000 credits: 1000 x €0.045 = €45.00, 21 % tax €9.45, total €54.45.
    buy(page, t, "1000")
    quote = page.locator('[data-table="quote"]')
    expect(quote.locator('[data-field="account"]')).to_have_text(t("System Credits"))
    expect(quote.locator('[data-field="unit-price"]')).to_have_text(t.money("0.045"))
    expect(quote.locator('[data-field="subtotal"]')).to_have_text(t.money("45.00"))
    expect(
        quote.get_by_role("rowheader", name=t("Tax (%(percent)s %%)", percent=21))
    ).to_be_visible()
    expect(quote.locator('[data-field="tax"]')).to_have_text(t.money("9.45"))
    expect(quote.locator('[data-field="total"]')).to_have_text(t.money("54.45"))
    pay(page, t, GOOD_CARD)

    # The confirmation, and the receipt as a PDF.
    expect(page.get_by_role("heading", name=t("Payment confirmed"))).to_be_visible()
    expect(page.locator('[data-section="purchase"] [data-field="total"]')).to_have_text(
        t.money("54.45")
    )
    receipt = download(
        page, page.get_by_role("link", name=t("Download tax invoice / receipt (PDF)"))
    )
    assert receipt.startswith(b"%PDF")

    # Transfer 300 credits from System Credits to Mel's account, agreeing to the conditions.
    page.get_by_role("link", name=t("Back to Manage SMS Credits")).click()
    expect(system_row.locator('[data-field="credits"]')).to_have_text(
        "1,000" if language == "en" else "1.000"
    )
    page.get_by_role("link", name=t("Transfer"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Transfer SMS Credits"))).to_be_visible()
    page.get_by_label(t("From"), exact=True).select_option("system")
    page.get_by_label(t("To"), exact=True).select_option(f"member:{member_id}")
    page.get_by_label(t("Quantity (credits)"), exact=True).fill("300")
    page.get_by_label(t("I agree to the conditions"), exact=True).check()
    page.get_by_role("button", name=t("Transfer"), exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        t("Transfer complete: the credits have been applied.")
    )
    expect(system_row.locator('[data-field="credits"]')).to_have_text("700")
    expect(
        page.locator(f'[data-account="member:{member_id}"] [data-field="credits"]')
    ).to_have_text("300")

    # The movements: incoming in green with +, outgoing in red with a minus.
    movements = page.locator('[data-table="movements"]')
    incoming = movements.locator(".credits-in")
    outgoing = movements.locator(".credits-out")
    expect(incoming).to_have_count(2)  # the purchase, and Mel's side of the transfer
    expect(outgoing).to_have_count(1)  # the System Credits' side of the transfer
    expect(outgoing).to_have_text(f"{t('Outgoing')} \u2212300")
    expect(outgoing).to_have_css("color", RED)
    expect(incoming.first).to_have_css("color", GREEN)
    expect(incoming.filter(has_text="+300")).to_have_count(1)

    # The 30-day log, downloaded as a CSV with localized headers.
    settled(page)  # each account's closed Actions menu holds a link of the same name
    page.get_by_role("link", name=t("View Last 30 Days Logs"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Last 30 days log"))).to_be_visible()
    expect(page.locator('[data-table="movements"] tbody tr')).to_have_count(3)
    body = download(page, page.get_by_role("link", name=t("Download CSV")))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == [t(h) for h in MOVEMENTS_CSV_HEADER]
    assert sorted(int(row[3]) for row in rows[1:]) == [-300, 300, 1000]
    accounts = {row[2] for row in rows[1:]}
    assert accounts == {t("System Credits"), t("User Credits: %(name)s", name="Mel Member")}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_declined_card_shows_the_reason_and_leaves_the_balance(live_server, page, acme, language):
    org, admin, _member = acme
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 200, entry_type=EntryType.PURCHASE)
    email = admin.user.email
    commit()

    t = log_in(page, live_server, email, language)
    open_credits(page, t)
    system_row = page.locator('[data-account="system"]')
    expect(system_row.locator('[data-field="credits"]')).to_have_text("200")

    buy(page, t, "500")
    pay(page, t, DECLINED_CARD)

    declined = page.locator('[data-state="declined"]')
    expect(declined).to_be_visible()
    expect(declined).to_contain_text(t("Your card was declined."))
    expect(declined).to_contain_text(t("Nothing was charged and no credits were added."))
    expect(page.get_by_role("button", name=t("Try another card"))).to_be_visible()

    page.get_by_role("link", name=t("Back to Manage SMS Credits")).click()
    expect(system_row.locator('[data-field="credits"]')).to_have_text("200")
    expect(page.locator('[data-table="movements"] tbody tr')).to_have_count(1)
