"""Shared steps of the browser journeys: the portal's texts in the journey's language, logging
in (switching the language with the navbar's switcher first), and reading downloads.

Texts come from the Spanish catalog (translations/es/LC_MESSAGES/messages.po): a journey
asking for a text the catalog does not translate fails, so a page showing English in the
Spanish run is caught by the journey instead of passing unnoticed.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

from babel.messages.pofile import read_po
from babel.numbers import format_currency
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

LANGUAGES = ["en", "es"]
CATALOG = (
    Path(__file__).resolve().parents[2] / "translations" / "es" / "LC_MESSAGES" / "messages.po"
)
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")


@functools.cache
def _spanish() -> dict[str, str]:
    with CATALOG.open("rb") as po:
        catalog = read_po(po)
    return {
        message.id: message.string
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }


class Texts:
    """``t("Members")`` is "Members" in English and "Miembros" in Spanish."""

    def __init__(self, language: str):
        self.language = language

    def __call__(self, text: str, **values) -> str:
        if self.language != "en":
            translated = _spanish().get(text)
            assert translated, f"no Spanish translation for {text!r}"
            text = translated
        return text % values if values else text

    def money(self, amount: str, currency: str = "EUR") -> str:
        """An amount as the portal shows it (every digit given is kept: €0.045)."""
        return format_currency(
            Decimal(amount), currency, locale=self.language, decimal_quantization=False
        )


def settled(page: Page) -> None:
    """Wait for the current page's stylesheets and scripts.

    Call it once an ``expect`` has shown the new page is there, before opening a dropdown
    (Bootstrap's script must be running) or naming a link that a closed dropdown also holds
    (until the stylesheet applies, closed menus count as visible and the name is ambiguous).
    """
    page.wait_for_load_state("load")


def switch_language(page: Page, language: str) -> None:
    """Choose the language with the navbar's switcher (the page stays where it is)."""
    settled(page)
    current = page.locator("html").get_attribute("lang") or "en"
    if current == language:
        return
    menu = f"{Texts(current)('Language')}: {LANGUAGE_NAMES[current]}"
    page.get_by_role("button", name=menu).click()
    page.get_by_role("button", name=LANGUAGE_NAMES[language]).click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def log_in(page: Page, live_server: str, email: str, language: str) -> Texts:
    """Open the login page, switch to ``language`` there, and log in as ``email``."""
    t = Texts(language)
    page.goto(f"{live_server}/login")
    switch_language(page, language)
    expect(page.get_by_role("heading", name=t("Log in"))).to_be_visible()
    page.get_by_label(t("Email"), exact=True).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in")).click()
    expect(page).not_to_have_url(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", language)
    settled(page)
    return t


def log_out(page: Page, user_name: str, t: Texts) -> None:
    settled(page)
    page.get_by_role("button", name=user_name, exact=True).click()
    page.get_by_role("button", name=t("Log out")).click()
    expect(page.get_by_role("heading", name=t("Log in"))).to_be_visible()


def download(page: Page, link) -> bytes:
    """Click a link that answers with an attachment; the downloaded file's bytes."""
    with page.expect_download() as info:
        link.click()
    downloaded = info.value
    assert downloaded.failure() is None, downloaded.failure()
    return Path(downloaded.path()).read_bytes()


def with_axe(context) -> None:
    """Load axe-core into every page of a browser context, before the page's own scripts.

    The portal's CSP (``script-src 'self'``) would refuse an injected script tag: create the
    context with ``bypass_csp=True``.
    """
    assert AXE.exists(), f"{AXE} missing: run `npm ci --prefix tests/browser`"
    context.add_init_script(path=str(AXE))


def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation (WCAG 2.1 A/AA
    and axe's best practices)."""
    problems = accessibility_problems(page)
    assert not problems, "\n".join(problems)


def accessibility_problems(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now, one line each."""
    settled(page)
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }""",
        AXE_TAGS,
    )
    return [
        f"{page.url} [{v['impact']}] {v['id']}: {v['help']} -> {v['nodes']}"
        for v in violations
        if v["impact"] in BLOCKING
    ]
