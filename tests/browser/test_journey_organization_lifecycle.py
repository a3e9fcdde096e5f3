"""Issue 3: a reseller agent creates an organization, adds a member, hands the ownership to
that member, suspends the organization with a reason and reactivates it — in English and in
Spanish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tenants.jobs.outbox import commit
from tenants.models import ResellerRole
from tests.browser.journeys import LANGUAGES, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", LANGUAGES)
def test_agent_creates_an_organization_changes_its_owner_suspends_and_reactivates_it(
    live_server, page, create_reseller, create_reseller_staff, language
):
    reseller = create_reseller(name="Alpha Telecom")
    agent = create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith")
    email = agent.email
    commit()  # end the test's transaction: SQLite would make the server wait for its lock

    t = log_in(page, live_server, email, language)

    # Customer app → Create organization.
    page.get_by_role("link", name=t("Customer app"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Customer app"))).to_be_visible()
    page.get_by_role("link", name=t("Create organization"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Create organization"))).to_be_visible()

    page.get_by_label(t("Organization name"), exact=True).fill("Acme Ibérica SL")
    page.get_by_label(t("Country"), exact=True).select_option("ES")
    page.get_by_role("radio", name=t("Prepaid"), exact=True).check()
    page.get_by_role("radio", name=t("Company"), exact=True).check()
    page.get_by_label(t("Billing name"), exact=True).fill("Acme Ibérica Facturación SL")
    page.get_by_label(t("Tax identification number"), exact=True).fill("B12345678")
    page.get_by_label(t("Billing email"), exact=True).fill("billing@acme.example")
    page.get_by_label(t("Owner name"), exact=True).fill("Olga Owner")
    page.get_by_label(t("Owner email"), exact=True).fill("olga@acme.example")
    page.get_by_role("button", name=t("Create organization")).click()

    # The new organization's overview.
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/organizations/[^/]+/$"))
    expect(page.get_by_role("heading", name="Acme Ibérica SL")).to_be_visible()
    sections = page.get_by_role("list", name=t("Sections"))
    expect(sections.get_by_role("link", name=t("Overview"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator('[data-field="status"]')).to_have_text(t("Active"))
    expect(page.locator('[data-field="owner"]')).to_contain_text("olga@acme.example")
    expect(page.locator('[data-field="billing-name"]')).to_have_text("Acme Ibérica Facturación SL")

    # Members → Add new member.
    sections.get_by_role("link", name=t("Members")).click()
    page.get_by_role("link", name=t("Add new member")).click()
    expect(page.get_by_role("heading", name=t("Add new member"))).to_be_visible()
    page.get_by_label(t("Name"), exact=True).fill("Nora New")
    page.get_by_label(t("Email"), exact=True).fill("nora@acme.example")
    page.get_by_label(t("Portal Access"), exact=True).select_option("yes")
    page.get_by_label(t("Role"), exact=True).select_option("member")
    page.get_by_role("button", name=t("Add member")).click()
    expect(page.get_by_role("alert")).to_contain_text("Nora New")

    # Change ownership: the note says nothing else moves.
    sections.get_by_role("link", name=t("Members")).click()
    page.get_by_role("link", name=t("Change ownership")).click()
    expect(page.get_by_role("heading", name=t("Change ownership"))).to_be_visible()
    note = page.get_by_role("note")
    expect(note).to_contain_text(
        t(
            "Ownership transfer does not move anything else: individual credits stay with the "
            "members who hold them, and the roles of the other members stay as they are. After "
            "the transfer, help the new owner assign anything else as needed."
        )
    )
    page.get_by_label(t("New owner"), exact=True).select_option(
        label="Nora New <nora@acme.example>"
    )
    # The reseller's staff change it at once, with a reason kept in the audit log.
    page.get_by_label(t("Reason"), exact=True).fill("Support case 4711: the owner left")
    page.get_by_role("button", name=t("Change ownership")).click()

    # Said at once; the members list shows Nora as the owner and Olga as an admin.
    expect(page.get_by_role("alert")).to_have_text(
        t("%(new)s is now the owner. %(old)s is now an admin.", new="Nora New", old="Olga Owner")
    )
    sections.get_by_role("link", name=t("Members")).click()
    rows = page.get_by_role("row")
    nora = rows.filter(has_text="nora@acme.example")
    olga = rows.filter(has_text="olga@acme.example")
    expect(nora.get_by_role("cell", name=t("Owner"), exact=True)).to_be_visible()
    expect(olga.get_by_role("cell", name=t("Admin"), exact=True)).to_be_visible()

    # Suspend with a reason.
    sections.get_by_role("link", name=t("Overview")).click()
    expect(page.locator('[data-field="owner"]')).to_contain_text("nora@acme.example")
    page.get_by_role("link", name=t("Suspend"), exact=True).click()
    page.get_by_label(t("Reason"), exact=True).fill("Unpaid invoices since March")
    page.get_by_role("button", name=t("Suspend organization")).click()
    expect(page.get_by_role("alert")).to_have_text(
        t("The organization is suspended. Its members can no longer log in.")
    )
    expect(page.locator('[data-field="status"]')).to_have_text(t("Suspended"))
    expect(page.locator('[data-field="suspension-reason"]')).to_have_text(
        "Unpaid invoices since March"
    )

    # Reactivate.
    page.get_by_role("button", name=t("Reactivate")).click()
    expect(page.get_by_role("alert")).to_have_text(
        t("The organization is active again. Its members can log in.")
    )
    expect(page.locator('[data-field="status"]')).to_have_text(t("Active"))
    expect(page.locator('[data-field="suspension-reason"]')).to_have_count(0)
