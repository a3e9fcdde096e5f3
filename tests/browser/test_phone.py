"""Issue 16, item 11: every main page works on a 375 x 812 phone, in English and in Spanish.

For each role's main pages (the reseller's Customer app, an organization's tabs, members,
credits and logs; the organization admin's pages; the platform admin's pages; the support
agent's) the page never scrolls sideways (``document.documentElement.scrollWidth`` stays
within 375), every visible control is on screen -- in a table that scrolls sideways inside its
own box, the row's actions (View, Download PDF, Log in as...) stay in view -- and axe-core
finds nothing serious there either. The same world as the accessibility test.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_accessibility as accessibility
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import LANGUAGES, Texts, accessibility_problems, settled, with_axe
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

portal = accessibility.portal  # the accessibility test's world: one fixture, used here too

PHONE = {"width": 375, "height": 812}
BROWSER_LOCALES = {"en": "en-US", "es": "es-ES"}

# What must be on screen: the page's width, and every visible control of <main> that lies
# outside the viewport -- except, inside a box that scrolls sideways, cells scrolled away
# that are not the row's actions (its buttons).
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1 && getComputedStyle(el).visibility !== "hidden"
      && !el.closest(".visually-hidden, .dropdown-menu:not(.show)")
      && !(el.closest("details:not([open])") && !el.closest("summary"));
  };
  const scrolls = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if ((overflow === "auto" || overflow === "scroll") && box.scrollWidth > box.clientWidth) {
        return true;
      }
    }
    return false;
  };
  const controls = "main a[href], main button, main input:not([type=hidden]), main select,"
    + " main textarea, main summary, main .btn";
  const off = [];
  for (const el of document.querySelectorAll(controls)) {
    if (!shown(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.left >= -1 && box.right <= width + 1) continue;
    // A table scrolled sideways in its box: only the row's actions must stay in view.
    const inTable = el.closest("table");
    const rowAction = el.matches(".btn, summary") && el.closest("td:last-child");
    if (inTable && scrolls(inTable) && !rowAction) continue;
    const name = (el.innerText || el.value || el.getAttribute("aria-label") || el.id
      || el.outerHTML.slice(0, 80)).trim().replace(/\\s+/g, " ").slice(0, 80);
    off.push(`${el.tagName.toLowerCase()} "${name}" at ${Math.round(box.left)}..`
      + `${Math.round(box.right)}`);
  }
  // When the page is too wide: the elements that cross its right edge (their parent does
  // not), outside boxes that scroll, to say what widens it.
  const wide = [];
  if (document.documentElement.scrollWidth > width) {
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.right <= width + 1 || box.width === 0 || scrolls(el)) continue;
      if (el.parentElement.getBoundingClientRect().right > width + 1) continue;
      const path = [];
      for (let node = el; node && node !== document.body && path.length < 4;
           node = node.parentElement) {
        path.unshift(node.tagName.toLowerCase() + (node.id ? "#" + node.id : "")
          + (node.classList.length ? "." + [...node.classList].slice(0, 2).join(".") : ""));
      }
      wide.push(`${path.join(" > ")} ends at ${Math.round(box.right)}`);
      if (wide.length >= 3) break;
    }
  }
  return {width: document.documentElement.scrollWidth, off, wide};
}"""


@pytest.fixture
def phone(browser):
    """New 375 x 812 touch contexts in the test's language, axe-core in every page."""
    contexts = []

    def _new_page(language: str) -> Page:
        context = browser.new_context(
            locale=BROWSER_LOCALES[language],
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            bypass_csp=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        with_axe(context)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


def log_in(page: Page, live_server: str, email: str, language: str) -> Texts:
    """The login page in the browser's language (the navbar is collapsed on a phone)."""
    t = Texts(language)
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.get_by_label(t("Email"), exact=True).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in")).click()
    expect(page).not_to_have_url(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", language)
    settled(page)
    return t


def on_screen(locator) -> None:
    """The element lies within the phone's width (and can be tapped)."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_main_page_fits_a_phone(live_server, phone, portal, language):
    problems: list[str] = []

    def check(page: Page, path: str | None = None) -> None:
        if path is not None:
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.ok, f"{path}: {response and response.status}"
        settled(page)
        found = page.evaluate(MEASURE)
        where = page.url.removeprefix(live_server)
        if found["width"] > PHONE["width"]:
            widening = "; ".join(found["wide"])
            problems.append(f"{where}: the page is {found['width']} px wide ({widening})")
        problems.extend(f"{where}: off screen: {item}" for item in found["off"])
        problems.extend(accessibility_problems(page))

    pre, post = portal["prepaid"], portal["postpaid"]
    org_pages = (
        f"/organizations/{pre}/",
        f"/organizations/{pre}/members/",
        f"/organizations/{pre}/members/{portal['member']}/",
        f"/organizations/{pre}/settings",
        f"/organizations/{pre}/logs",
        f"/organizations/{pre}/credits/",
        f"/organizations/{pre}/credits/log",
        f"/organizations/{pre}/invoices",
    )

    page = phone(language)
    for path in ("/login", "/password/forgot"):
        check(page, path)

    # The organization's owner.
    log_in(page, live_server, portal["owner"], language)
    for path in (
        *org_pages,
        f"/organizations/{pre}/members/new",
        f"/organizations/{pre}/credits/balance",  # Balance & configuration
        f"/organizations/{pre}/credits/transfer",
        f"/organizations/{pre}/credits/purchase",
        f"/organizations/{pre}/messages/send",
        f"/organizations/{pre}/api-keys/",
        "/profile/",
    ):
        check(page, path)

    # The reseller's admin: the Customer app, both organizations' tabs, the settings.
    page = phone(language)
    log_in(page, live_server, portal["reseller_admin"], language)
    for path in (
        "/customers/",
        "/customers/new",
        *org_pages,
        f"/organizations/{pre}/audit",
        f"/organizations/{post}/",
        f"/organizations/{post}/payment",
        f"/organizations/{post}/logs",  # charges, invoices and payments
        f"/organizations/{post}/invoices",
        f"/organizations/{post}/invoices/{portal['invoice']}",
        f"/organizations/{post}/delete",
        "/credits/reseller-log",
        "/reseller/settings/prices",
        "/reseller/settings/taxes",
        "/reseller/settings/seller",
        "/reseller/settings/staff",
        "/reseller/settings/api-keys",
        "/reseller/support/",
    ):
        check(page, path)

    # The platform admin's pages.
    page = phone(language)
    log_in(page, live_server, portal["platform"], language)
    for path in (
        "/platform/",
        f"/platform/resellers/{portal['reseller']}",
        "/platform/staff",
        "/platform/jobs",
        "/platform/sms",
        "/platform/billing-runs",
        "/platform/security",
        "/customers/",
    ):
        check(page, path)

    # The support agent: the Customer app and a customer's members, with Log in as.
    page = phone(language)
    log_in(page, live_server, portal["support"], language)
    for path in ("/customers/", f"/organizations/{pre}/", f"/organizations/{pre}/members/"):
        check(page, path)

    assert not problems, f"{len(problems)} problems at 375 px:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_customers_row_actions_are_in_reach_on_a_phone(live_server, phone, portal, language):
    """The Customer app on a phone: the menu opens from the navbar's button; in the list,
    an organization's View and its shortcut menu are on screen and lead where they say."""
    pre = portal["prepaid"]
    page = phone(language)
    t = log_in(page, live_server, portal["reseller_admin"], language)

    page.get_by_role("button", name=t("Toggle navigation")).click()
    menu_link = page.locator("#mainnav").get_by_role("link", name=t("Customer app"))
    on_screen(menu_link)
    menu_link.click()
    expect(page).to_have_url(f"{live_server}/customers/")
    settled(page)

    row = page.locator(f'tr[data-organization="{pre}"]')
    view = row.get_by_role("link", name=t("View"), exact=True)
    on_screen(view)
    label = t("Shortcut to a section of %(name)s", name="Acme Ibérica SL")
    shortcuts = row.get_by_role("button", name=label)
    on_screen(shortcuts)
    shortcuts.click()
    members = row.locator(f'[data-shortcuts="{pre}"]').get_by_role("link", name=t("Members"))
    on_screen(members)
    members.click()
    expect(page).to_have_url(f"{live_server}/organizations/{pre}/members/")

    page.go_back()
    settled(page)
    on_screen(view)  # the locator finds the row again on the page gone back to
    view.click()
    expect(page).to_have_url(f"{live_server}/organizations/{pre}/")

    # The organization's members: each row's View is on screen too.
    page.goto(f"{live_server}/organizations/{pre}/members/")
    settled(page)
    member_row = page.locator(f'tr[data-member="{portal["member"]}"]')
    on_screen(member_row.get_by_role("link", name=t("View")))
