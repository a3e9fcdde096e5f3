"""Issue 19, item 2: a reseller admin opens the margin report from the Customer app's pool
card, picks a month, reads the chart and the table (a currency without a rate marked not
converted), enters the month's rate typed the reader's way, sees the margin appear and
downloads the CSV — in English and in Spanish; the page is axe-clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tenants.jobs.outbox import commit
from tenants.models import ResellerRole
from tests.api.conftest import create_api_key  # noqa: F401  (margin_world's key fixture)
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import (
    LANGUAGES,
    accessibility_problems,
    download,
    log_in,
    settled,
    with_axe,
)
from tests.wholesale.conftest import OCTOBER, margin_world  # noqa: F401  (the month's data)

pytestmark = pytest.mark.browser


@pytest.fixture
def admin(margin_world, create_reseller_staff, language):  # noqa: F811
    """The reseller admin (reading the journey's language) and the ids the journey needs."""
    user = create_reseller_staff(
        margin_world["reseller"], ResellerRole.ADMIN, name="Rita Reseller", language=language
    )
    ids = {
        "email": user.email,
        "acme": margin_world["acme"].id,
        "globex": margin_world["globex"].id,
        "initech": margin_world["initech"].id,
    }
    commit()
    return ids


@pytest.fixture
def axe_page(browser):
    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    with_axe(context)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_reseller_admin_reads_the_margin_report_and_enters_a_rate(
    live_server, axe_page, admin, language
):
    page = axe_page
    t = log_in(page, live_server, admin["email"], language)

    # From the Customer app's pool card to the report; October chosen with the month picker.
    page.goto(f"{live_server}/customers/")
    page.locator("#wholesale-pool").get_by_role("link", name=t("Margin report")).click()
    expect(page.get_by_role("heading", name=t("Margin report"))).to_be_visible()
    page.get_by_label(t("Month"), exact=True).fill(OCTOBER)
    page.get_by_role("button", name=t("Show"), exact=True).click()
    expect(page).to_have_url(f"{live_server}/reseller/settings/margin?period={OCTOBER}")
    settled(page)

    table = page.locator('[data-table="margin"]')
    acme = table.locator(f'[data-row="{admin["acme"]}-EUR"]')
    expect(acme.locator('[data-field="margin"]')).to_have_text(t.money("11.50"))
    expect(acme.locator('[data-field="margin-percent"]')).to_have_text(
        "42.59 %" if language == "en" else "42,59 %"
    )
    globex = table.locator(f'[data-row="{admin["globex"]}-USD"]')
    expect(globex.locator('[data-field="margin"]')).to_have_text(t("Not converted"))
    expect(page.locator('[data-chart="margin"] [data-bar]')).to_have_count(1)
    assert accessibility_problems(page) == []

    # The month's rate for USD, typed the reader's way: Globex's margin appears.
    form = page.locator("#margin-rate-form")
    form.get_by_label(t("Currency"), exact=True).select_option("USD")
    form.get_by_label(t("Rate to the lots' currency")).fill("0.9" if language == "en" else "0,9")
    form.get_by_role("button", name=t("Save rate")).click()
    expect(page.get_by_role("alert").first).to_have_text(t("The rate was saved."))
    globex = page.locator(f'[data-table="margin"] [data-row="{admin["globex"]}-USD"]')
    expect(globex.locator('[data-field="margin"]')).to_have_text(t.money("21.00"))
    expect(page.locator('[data-chart="margin"] [data-bar]')).to_have_count(2)
    expect(page.locator('[data-section="margin-rates"]')).to_contain_text("USD")
    assert accessibility_problems(page) == []

    # The CSV, in the reader's language.
    body = download(page, page.get_by_role("link", name=t("Download CSV"))).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith(t("Organization") + ",")
    assert any(
        line.startswith(f"Globex,{admin['globex']},USD,200,30.00,6.00,EUR,0.9000,21.00,")
        for line in lines
    )
