"""Issue 18: an owner opens Campaigns from the organization's tabs and schedules a weekly
campaign to a contact list (its credits reserved, waiting for approval); the reseller's
agent finds it in the Customer app, approves it; the owner cancels it and the reserved
credits are available again — in English and in Spanish."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tenants.access.actors import SYSTEM
from tenants.contacts import operations as contacts
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import ResellerRole
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import LANGUAGES, log_in, log_out, settled
from tests.conftest import owner_actor, owner_of

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(create_priced_reseller, create_organization, create_reseller_staff, language):
    reseller = create_priced_reseller(name="Alpha Telecom")
    reseller.campaigns_need_approval = True
    org = create_organization(reseller, name="Acme Ibérica SL", country="ES")
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 50)
    customers = contacts.create_list(owner_actor(org), org, name="Customers")
    for number in ("+34600000001", "+34600000002"):
        contacts.add_contact(owner_actor(org), org, customers, mobile=number)
    owner = owner_of(org)
    owner.user.language = language
    agent = create_reseller_staff(
        reseller, ResellerRole.AGENT, name="Rita Agent", email="rita@alpha.example"
    )
    agent.language = language
    commit()
    ids = {
        "org": org.id,
        "owner": owner.user.email,
        "owner_name": owner.user.name,
        "agent": agent.email,
        "agent_name": agent.name,
    }
    commit()  # reading the ids began a transaction: end it for the live server (SQLite)
    return ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_schedule_approve_and_cancel_a_campaign(live_server, browser, acme, language):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    start = date.today() + timedelta(days=2)
    try:
        t = log_in(page, live_server, acme["owner"], language)
        page.goto(f"{live_server}/organizations/{acme['org']}/")
        settled(page)
        page.get_by_role("link", name=t("Campaigns"), exact=True).first.click()
        expect(page.locator("#no-campaigns")).to_be_visible()
        page.get_by_role("link", name=t("New campaign")).click()
        settled(page)
        page.get_by_label(t("Name"), exact=True).fill("Weekly offers")
        page.get_by_label(t("Contact list")).select_option(label="Customers")
        page.get_by_label(t("Message"), exact=True).fill("Hola, ofertas de la semana")
        page.get_by_label(t("Date"), exact=True).fill(start.isoformat())
        page.get_by_label(t("Time"), exact=True).fill("09:30")
        page.get_by_label(t("Repeat")).select_option(value="weekly")
        page.get_by_label(t("Until")).fill((start + timedelta(days=21)).isoformat())
        page.get_by_role("button", name=t("Schedule")).click()
        expect(page.locator('[data-field="status"]')).to_have_text(t("Waiting for approval"))
        expect(page.locator('[data-field="reserved"]')).to_contain_text("2")
        log_out(page, acme["owner_name"], t)

        log_in(page, live_server, acme["agent"], language)
        page.goto(f"{live_server}/customers/")
        settled(page)
        page.get_by_role("link", name=t("Campaigns waiting for approval")).click()
        page.get_by_role("link", name="Weekly offers").click()
        settled(page)
        page.get_by_role("button", name=t("Approve")).click()
        expect(page.locator('[data-field="status"]')).to_have_text(t("Scheduled"))
        expect(page.get_by_text(t("The campaign is approved."))).to_be_visible()
        log_out(page, acme["agent_name"], t)

        log_in(page, live_server, acme["owner"], language)
        page.goto(f"{live_server}/organizations/{acme['org']}/campaigns/")
        row = page.locator("#campaigns tbody tr").first
        expect(row.locator('[data-field="status"]')).to_have_text(t("Scheduled"))
        expect(row.locator('[data-field="reserved"]')).to_have_text("2")
        row.get_by_role("link", name="Weekly offers").click()
        settled(page)
        page.get_by_role("button", name=t("Cancel campaign")).click()
        expect(page.locator('[data-field="status"]')).to_have_text(t("Cancelled"))
        expect(page.locator('[data-field="reserved"]')).to_contain_text("0")
        page.get_by_role("link", name=t("Campaigns"), exact=True).first.click()
        expect(page.locator("#credits-available")).to_contain_text("50")
    finally:
        context.close()
