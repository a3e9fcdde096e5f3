"""Issue 18: an owner opens Send SMS from the organization's tabs, types the recipients and
a message while the live counter shows its SMS parts and credits, reviews the credits to be
charged, sends, and reads the result (each recipient delivered or failed through the
sandbox gateway) — in English and in Spanish, at desktop width and on a 375-pixel phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tenants.access.actors import SYSTEM
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import LANGUAGES, Texts, log_in, settled
from tests.conftest import owner_of

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def app(app):
    app.config.update(SMS_GATEWAY="sandbox", MESSAGE_GATEWAY_RATE=0)
    return app


@pytest.fixture
def acme(create_priced_reseller, create_organization, language):
    reseller = create_priced_reseller(name="Alpha Telecom")
    org = create_organization(reseller, name="Acme Ibérica SL", country="ES")
    org.sender_name = "ACME"
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 50)
    owner = owner_of(org)
    owner.user.language = language
    commit()
    ids = {"org": org.id, "owner": owner.user.email}
    commit()  # reading the ids began a transaction: end it for the live server (SQLite)
    return ids


def counter(page: Page) -> tuple[str, str]:
    box = page.locator("#sms-counter")
    return box.get_attribute("data-parts"), box.get_attribute("data-credits")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_owner_sends_an_sms_with_the_counter_the_confirmation_and_the_result(
    live_server, browser, acme, language, phone
):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    try:
        t: Texts = log_in(page, live_server, acme["owner"], language)
        if phone:
            page.set_viewport_size(PHONE)
        page.goto(f"{live_server}/organizations/{acme['org']}/")
        settled(page)
        page.get_by_role("link", name=t("Send SMS"), exact=True).first.click()
        expect(page.get_by_role("heading", name=t("Send SMS"))).to_be_visible()
        settled(page)

        page.get_by_label(t("Recipients")).fill("+34 600 000 001\n+34 610 000 000")
        message = page.get_by_label(t("Message"), exact=True)
        message.fill("Hola")
        expect(page.locator("#sms-counter")).to_have_attribute("data-credits", "2")
        message.fill("€" * 81)  # extension characters count two: 162 septets, two parts
        expect(page.locator("#sms-counter")).to_have_attribute("data-parts", "2")
        assert counter(page) == ("2", "4")
        message.fill("á" * 71)  # UCS-2: 70 a single SMS
        expect(page.locator("#sms-counter")).to_have_attribute("data-parts", "2")

        page.get_by_role("button", name=t("Review")).click()
        expect(page.get_by_role("heading", name=t("Confirm and send"))).to_be_visible()
        expect(page.locator("#summary-credits")).to_have_text("4")
        page.get_by_role("button", name=t("Send now")).click()

        expect(page.locator("#message-credits")).to_have_text("4")
        expect(page.locator("#message-refunded")).to_have_text("2")  # 0000 fails: refunded
        expect(page.locator("#recipients tbody tr")).to_have_count(2)
        if phone:
            settled(page)  # the stylesheet applied: until then a long word is one line
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1], widths
    finally:
        context.close()
