"""Issue 7, item 6: every page the browser journeys reach passes axe-core -- no serious or
critical violation -- in English and in Spanish; and the login works from the keyboard alone.

One context per actor, axe-core loaded into every page (tests/browser/journeys.with_axe), the
pages visited in turn; every page's problems are gathered so one run lists them all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run
from tenants.billing.usage import record_usage
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType, PlatformRole, ResellerRole
from tenants.people import passwords
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import (
    LANGUAGES,
    accessibility_problems,
    log_in,
    with_axe,
)
from tests.conftest import PASSWORD, owner_of

pytestmark = pytest.mark.browser


@pytest.fixture
def portal(
    app,
    create_priced_reseller,
    create_reseller_staff,
    create_organization,
    create_member,
    create_platform_staff,
    language,
):
    """A reseller (admin), a prepaid organization with credits and a member, a postpaid one
    with last month's invoice, platform admin and support staff; the ids and emails."""
    reseller = create_priced_reseller(name="Alpha Telecom")
    prepaid = create_organization(reseller, name="Acme Ibérica SL")
    credits.add_credits(SYSTEM, prepaid, credits.SYSTEM_ACCOUNT, 500, entry_type=EntryType.PURCHASE)
    commit()
    record_usage(SYSTEM, prepaid, credits=40, reference="campaign")
    prepaid.individual_user_credits = True
    commit()
    member = create_member(prepaid, role="member", name="Mel Member")
    postpaid = create_organization(reseller, name="Beta Postpago SL", pricing_model="postpaid")
    postpaid.credit_limit = Decimal("1000")
    commit()
    zone = ZoneInfo(postpaid.timezone)
    month_start = datetime.now(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    moment = month_start - timedelta(hours=12)
    record_usage(SYSTEM, postpaid, credits=400, reference="october", occurred_at=moment)
    commit()
    invoice = monthly_run.issue_monthly_invoice(postpaid, moment.strftime("%Y-%m"))
    commit()
    # A payment (the payments list shows it with its Void form).
    from tenants.billing.payments import record_payment

    record_payment(SYSTEM, postpaid, "5.00", reference="Bank transfer 1")
    commit()
    admin = create_reseller_staff(reseller, role=ResellerRole.ADMIN, name="Rita Reseller")
    platform = create_platform_staff(role=PlatformRole.ADMIN, name="Pat Platform")
    support = create_platform_staff(role=PlatformRole.SUPPORT, name="Sam Support")
    for user in (owner_of(prepaid).user, admin, platform, support):
        user.language = language  # what each person chose; the login page's switch agrees
    with app.test_request_context():
        reset_token = passwords.make_password_token(
            owner_of(postpaid).user, passwords.PURPOSE_RESET
        )
        invite_token = passwords.make_password_token(member.user, passwords.PURPOSE_INVITE)
    ids = {
        "reseller": reseller.id,
        "reset_token": reset_token,
        "invite_token": invite_token,
        "prepaid": prepaid.id,
        "postpaid": postpaid.id,
        "member": member.id,
        "invoice": invoice.id,
        "owner": owner_of(prepaid).user.email,
        "reseller_admin": admin.email,
        "platform": platform.email,
        "support": support.email,
    }
    commit()
    return ids


@pytest.fixture
def axe_browser(browser):
    """New contexts with axe-core in every page (the CSP bypassed for that one script)."""
    contexts = []

    def _new_page():
        context = browser.new_context(
            locale="en-US", viewport={"width": 1280, "height": 900}, bypass_csp=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        with_axe(context)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_journey_page_passes_axe(live_server, axe_browser, portal, language):
    problems: list[str] = []

    def check(page, path: str | None = None) -> None:
        if path is not None:
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.ok, f"{path}: {response and response.status}"
        problems.extend(accessibility_problems(page))

    pre, post = portal["prepaid"], portal["postpaid"]

    # Anonymous: the login page, forgotten password, a reset link and an invitation link.
    page = axe_browser()
    for path in (
        "/login",
        "/password/forgot",
        f"/password/reset/{portal['reset_token']}",
        f"/invitation/{portal['invite_token']}",
    ):
        check(page, path)

    # The organization's owner: overview, members, credits and the purchase flow, invoices,
    # profile.
    t = log_in(page, live_server, portal["owner"], language)
    for path in (
        f"/organizations/{pre}/",
        f"/organizations/{pre}/members/",
        f"/organizations/{pre}/members/{portal['member']}/",
        f"/organizations/{pre}/members/new",
        f"/organizations/{pre}/members/{portal['member']}/edit",
        f"/organizations/{pre}/members/{portal['member']}/remove",
        f"/organizations/{pre}/members/ownership",
        f"/organizations/{pre}/api-keys/",
        f"/organizations/{pre}/settings",
        f"/organizations/{pre}/logs",
        f"/organizations/{pre}/invoices",
        f"/organizations/{pre}/credits/",
        f"/organizations/{pre}/credits/log",
        f"/organizations/{pre}/credits/transfer",
        f"/organizations/{pre}/messages/send",
        "/profile/",
    ):
        check(page, path)
    check(page, f"/organizations/{pre}/credits/purchase")
    page.get_by_label(t("Purchase for"), exact=True).select_option("system")
    page.get_by_label(t("Quantity (credits)"), exact=True).fill("1000")
    page.get_by_role("button", name=t("Proceed")).click()
    expect(page.get_by_role("heading", name=t("Confirm your purchase"))).to_be_visible()
    check(page)
    page.get_by_role("button", name=t("Continue to payment")).click()
    expect(page.get_by_role("heading", name=t("Payment"), exact=True)).to_be_visible()
    check(page)
    page.get_by_label(t("Card number"), exact=True).fill("4242 4242 4242 4242")
    page.get_by_label(t("Name on card"), exact=True).fill("Ada Admin")
    page.get_by_label(t("Expiry (MM/YY)"), exact=True).fill("12/30")
    page.get_by_label(t("CVC"), exact=True).fill("123")
    page.get_by_role("button", name=t("Pay now")).click()
    expect(page.get_by_role("heading", name=t("Payment confirmed"))).to_be_visible()
    check(page)

    # The reseller's admin: the Customer app with its dashboard, the organization tabs, the
    # postpaid payment page and invoice, settings, the support log.
    page = axe_browser()
    t = log_in(page, live_server, portal["reseller_admin"], language)
    for path in (
        "/customers/",
        "/customers/new",
        f"/organizations/{pre}/",
        f"/organizations/{pre}/audit",
        f"/organizations/{pre}/suspend",
        f"/organizations/{pre}/delete",
        f"/organizations/{pre}/support/start",
        f"/organizations/{pre}/credits/withdraw",  # reseller staff only
        f"/organizations/{pre}/payment",
        f"/organizations/{post}/",
        f"/organizations/{post}/payment",
        f"/organizations/{post}/logs",  # charges, invoices and payments
        f"/organizations/{post}/logs/print",
        f"/organizations/{post}/delete",  # the guided close-out
        f"/organizations/{post}/invoices",
        f"/organizations/{post}/invoices/{portal['invoice']}",
        "/credits/reseller-log",
        "/reseller/settings/",
        "/reseller/settings/prices",
        "/reseller/settings/taxes",
        "/reseller/settings/seller",
        "/reseller/settings/staff",
        "/reseller/settings/api-keys",
        "/reseller/support/",
        "/reseller/support/settings",
        "/account/two-factor/",
        "/account/two-factor/setup",
    ):
        check(page, path)
    # Recording a payment: the amount typed, then shown for confirmation.
    check(page, f"/organizations/{post}/payment")
    page.locator("#payment-amount").fill("1")
    page.get_by_role("button", name=t("Record payment")).click()
    expect(page.get_by_role("heading", name=t("Confirm the payment"))).to_be_visible()
    check(page)

    # The platform admin's overview and dashboard, and every platform page.
    page = axe_browser()
    log_in(page, live_server, portal["platform"], language)
    for path in (
        "/platform/",
        "/platform/resellers/new",
        f"/platform/resellers/{portal['reseller']}",
        "/platform/staff",
        "/platform/jobs",
        "/platform/sms",
        "/platform/billing-runs",
        "/platform/security",
    ):
        check(page, path)

    # Support staff acting as the owner: the support banner on the organization's pages.
    page = axe_browser()
    log_in(page, live_server, portal["support"], language)
    check(page, f"/organizations/{pre}/")
    start = page.locator('[data-section="login-as"]')
    start.locator("#reason").fill("Ticket #4711")
    start.locator("input[type=submit]").click()
    expect(page.locator("#support-banner")).to_be_visible()
    check(page)
    check(page, f"/organizations/{pre}/settings")

    assert not problems, f"{len(problems)} axe problems:\n" + "\n".join(problems)


def test_logging_in_with_the_keyboard_alone(live_server, page, create_organization):
    org = create_organization(name="Acme Telecom", owner_email="keys@acme.example")
    org_id = org.id
    commit()

    page.goto(f"{live_server}/login")
    page.wait_for_load_state("load")
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "email":
            break
        page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type("keys@acme.example")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/organizations/{org_id}/")
