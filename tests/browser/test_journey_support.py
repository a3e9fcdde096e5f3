"""A support agent logs in as an organization's owner — making changes, the mode chosen on the
start form — changes a setting, returns, and finds the session in the log, in English and in
Spanish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tenants.jobs.outbox import commit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "es"])
def test_support_agent_acts_as_the_owner_and_finds_the_session_in_the_log(
    live_server,
    page,
    create_organization,
    create_platform_staff,
    language,
):
    org = create_organization(name="Acme Telecom", owner_email="owner@acme.example")
    staff = create_platform_staff(role="support", name="Sam Support", language=language)
    org_id, email = org.id, staff.email
    commit()

    page.goto(f"{live_server}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form input[type=submit], form button[type=submit]").last.click()
    expect(page.locator("html")).to_have_attribute("lang", language)

    # The organization's overview offers "Log in as", the owner first.
    page.goto(f"{live_server}/organizations/{org_id}/")
    start = page.locator('[data-section="login-as"]')
    expect(start.locator("#member option").first).to_contain_text("owner@acme.example")
    start.locator("#reason").fill("Ticket #4711")
    expect(start.locator("input[name=mode][value=view]")).to_be_checked()  # the default
    start.locator("input[name=mode][value=change]").check()
    start.locator("input[type=submit]").click()

    # Acting as the owner: the banner says so on every page, and in which mode.
    banner = page.locator("#support-banner")
    making_changes = {"en": "Making changes", "es": "Haciendo cambios"}[language]
    expect(banner.locator('[data-field="support-mode"]')).to_have_text(making_changes)
    expect(banner).to_contain_text("Owner Person")
    expect(banner).to_contain_text("Acme Telecom")
    expect(banner).to_contain_text("Sam Support")
    expect(banner).to_contain_text("30 min")

    # Change the sender name (Balance & configuration).
    page.goto(f"{live_server}/organizations/{org_id}/settings")
    expect(page.locator("#support-banner")).to_be_visible()
    configuration = page.locator("section#configuration")
    configuration.locator("input[name='configuration-sender_name']").fill("ACMESMS")
    configuration.locator("input[type=submit], button[type=submit]").first.click()
    expect(
        page.locator("section#configuration input[name='configuration-sender_name']")
    ).to_have_value("ACMESMS")

    # Return to my account.
    page.locator("#support-return").click()
    expect(page.locator("#support-banner")).to_have_count(0)
    expect(page).to_have_url(f"{live_server}/organizations/{org_id}/")

    # The session is in the support sessions log, with its reason and its one change.
    page.locator("#support-log-link").click()
    row = page.locator("[data-support-session]")
    expect(row).to_have_count(1)
    expect(row.locator('[data-field="reason"]')).to_have_text("Ticket #4711")
    expect(row).to_contain_text("Owner Person")
    expect(row.locator('[data-field="ended"]')).not_to_be_empty()
    row.locator('[data-field="changes"]').click()
    expect(page).to_have_url(re.compile(r"/reseller/support/sup_"))
    changed = page.locator('[data-action="organization.updated"]')
    expect(changed).to_contain_text("ACMESMS")
