"""The members page lists pending invitations with their expiry; the owner resends an
expired one and revokes another, in English and in Spanish, and the page passes axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tenants.access.actors import SYSTEM
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.organizations.members import add_member
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import LANGUAGES, assert_accessible, log_in, with_axe
from tests.conftest import owner_of

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", LANGUAGES)
def test_owner_resends_and_revokes_pending_invitations(
    live_server, browser, create_organization, language
):
    org = create_organization(
        name="Acme Ibérica SL", country="ES", owner_email="owner@acme.example"
    )
    owner = owner_of(org).user
    owner.language = language  # what the owner chose; the login page's switch agrees
    ivy = add_member(SYSTEM, org, name="Ivy Invited", email="ivy@acme.example")
    ugo = add_member(SYSTEM, org, name="Ugo Late", email="ugo@acme.example", language="en")
    ugo.invited_at = utcnow() - timedelta(days=8)  # its link has expired
    org_id, ivy_id, ugo_id = org.id, ivy.id, ugo.id
    commit()

    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    with_axe(context)
    page = context.new_page()
    try:
        t = log_in(page, live_server, "owner@acme.example", language)
        page.goto(f"{live_server}/organizations/{org_id}/members/")
        section = page.get_by_role("region", name=t("Pending invitations"))
        expect(section).to_be_visible()
        rows = section.locator("tbody tr")
        expect(rows).to_have_count(2)
        ivy_row = section.locator(f'[data-invitation="{ivy_id}"]')
        ugo_row = section.locator(f'[data-invitation="{ugo_id}"]')
        expect(ivy_row).to_contain_text("ivy@acme.example")
        expect(ivy_row.locator('[data-field="language"]')).to_have_text("Español")
        expect(ugo_row.locator('[data-field="language"]')).to_have_text("English")
        expect(ugo_row.locator('[data-field="expires"]')).to_contain_text(t("Expired"))
        expect(ivy_row.locator('[data-field="expires"]')).not_to_contain_text(t("Expired"))
        expect(page.locator("table").first).to_contain_text("owner@acme.example")
        assert_accessible(page)

        # Resend the expired one: a new link, the expiry a week from now.
        ugo_row.get_by_role(
            "button", name=t("Resend the invitation to %(email)s", email="ugo@acme.example")
        ).click()
        expect(page.get_by_role("alert").first).to_have_text(
            t("The invitation has been sent again to %(email)s.", email="ugo@acme.example")
        )
        expect(ugo_row.locator('[data-field="expires"]')).not_to_contain_text(t("Expired"))

        # Revoke the other: it leaves the list, the person stays a member.
        ivy_row.get_by_role(
            "button", name=t("Revoke the invitation to %(email)s", email="ivy@acme.example")
        ).click()
        expect(page.get_by_role("alert").first).to_contain_text("ivy@acme.example")
        expect(ivy_row).to_have_count(0)
        expect(rows).to_have_count(1)
        expect(page.locator(f'tr[data-member="{ivy_id}"]')).to_be_visible()
        assert_accessible(page)
    finally:
        context.close()
