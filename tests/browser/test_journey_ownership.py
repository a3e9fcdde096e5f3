"""Two-step ownership in the browser (SPEC §2), in English and in Spanish: the owner asks, the
member declines, the owner asks again and the member accepts; the owner cancels a request; a
request left a week expires. Each page of it is also checked at a phone's width (375 px)."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.organizations import ownership
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.journeys import LANGUAGES, Texts, log_in, log_out, settled
from tests.conftest import owner_of

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
BROWSER_LOCALES = {"en": "en-US", "es": "es-ES"}


@pytest.fixture
def acme(create_organization, create_member):
    def _make(language: str):
        org = create_organization(
            name="Acme Ibérica SL", country="ES", owner_email="lucia@acme.example"
        )
        owner = owner_of(org)
        owner.user.name = "Lucía Owner"
        owner.user.language = language
        mel = create_member(org, name="Mel Member", email="mel@acme.example")
        ada = create_member(org, role="admin", name="Ada Admin", email="ada@acme.example")
        for person in (mel, ada):
            person.user.language = language
        ids = {"org": org.id, "mel": mel.id, "ada": ada.id}
        commit()
        return ids

    return _make


def _page(browser, language: str) -> Page:
    context = browser.new_context(locale=BROWSER_LOCALES[language], viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _fits(page: Page) -> None:
    """On a phone the page does not scroll sideways and its buttons are on screen."""
    page.set_viewport_size(PHONE)
    try:
        settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for button in page.locator("main button").all():
            box = button.bounding_box()
            if box is not None and box["width"] > 1:
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
    finally:
        page.set_viewport_size(DESKTOP)


def _link_to(app, address: str) -> str:
    """The accept-or-decline link of the latest ownership email to ``address``."""
    for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            text = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"https?://\S+/ownership/\S+", text)
            if found:
                return found.group(0)
    raise AssertionError(f"no ownership link sent to {address}")


def _ask(page: Page, live_server: str, t: Texts, org_id: str, member_id: str, name: str) -> None:
    page.goto(f"{live_server}/organizations/{org_id}/members/ownership")
    page.get_by_label(t("New owner")).select_option(member_id)
    page.get_by_role("button", name=t("Change ownership")).click()
    asked = t(
        "%(new)s has been asked by email to accept the ownership within %(days)d days. "
        "Nothing changes until they accept.",
        new=name,
        days=7,
    )
    expect(page.get_by_role("alert").first).to_have_text(asked)
    expect(page.locator("#ownership-waiting")).to_contain_text(name)
    _fits(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_member_declines_then_accepts(app, live_server, browser, acme, language):
    ids = acme(language)
    page = _page(browser, language)
    try:
        t = log_in(page, live_server, "lucia@acme.example", language)
        _ask(page, live_server, t, ids["org"], ids["mel"], "Mel Member")
        log_out(page, "Lucía Owner", t)

        log_in(page, live_server, "mel@acme.example", language)
        page.goto(_link_to(app, "mel@acme.example"))
        heading = t("Become the owner of %(organization)s?", organization="Acme Ibérica SL")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        _fits(page)
        page.get_by_role("button", name=t("Decline")).click()
        declined = t(
            "You declined to become the owner of %(organization)s. Nothing has changed.",
            organization="Acme Ibérica SL",
        )
        expect(page.get_by_role("alert").first).to_have_text(declined)
        expect(page.locator("#ownership-status")).to_have_text(
            t("You declined this request. Nothing has changed.")
        )
        log_out(page, "Mel Member", t)

        log_in(page, live_server, "lucia@acme.example", language)
        _ask(page, live_server, t, ids["org"], ids["mel"], "Mel Member")
        log_out(page, "Lucía Owner", t)

        log_in(page, live_server, "mel@acme.example", language)
        page.goto(_link_to(app, "mel@acme.example"))
        page.get_by_role("button", name=t("Accept and become the owner")).click()
        expect(page.get_by_role("alert").first).to_have_text(
            t("You are now the owner of %(organization)s.", organization="Acme Ibérica SL")
        )
        row = page.locator(f'tr[data-member="{ids["mel"]}"]')
        expect(row).to_contain_text(t("Owner"))
        _fits(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_owner_cancels_and_a_request_expires(
    app, live_server, browser, acme, language, monkeypatch
):
    ids = acme(language)
    page = _page(browser, language)
    try:
        t = log_in(page, live_server, "lucia@acme.example", language)
        _ask(page, live_server, t, ids["org"], ids["mel"], "Mel Member")
        page.get_by_role("button", name=t("Cancel the request")).click()
        expect(page.get_by_role("alert").first).to_have_text(
            t("The request has been cancelled: its link no longer works.")
        )
        expect(page.locator("#ownership-waiting")).to_have_count(0)

        # Ada is asked, and a week goes by without an answer.
        _ask(page, live_server, t, ids["org"], ids["ada"], "Ada Admin")
        later = utcnow() + timedelta(days=7, minutes=5)
        monkeypatch.setattr(ownership, "utcnow", lambda: later)
        monkeypatch.setattr("tenants.models.ownership.utcnow", lambda: later)
        page.reload()
        expect(page.locator("#ownership-waiting")).to_contain_text(t("Expired"))
        log_out(page, "Lucía Owner", t)

        log_in(page, live_server, "mel@acme.example", language)
        page.goto(_link_to(app, "mel@acme.example"))
        expect(page.locator("#ownership-status")).to_have_text(
            t("This request was cancelled. Nothing has changed.")
        )
        log_out(page, "Mel Member", t)

        log_in(page, live_server, "ada@acme.example", language)
        page.goto(_link_to(app, "ada@acme.example"))
        expired = t(
            "This request expired on %(date)s. Nothing has changed; the owner can ask again.",
            date="DATE",
        ).split("DATE")
        expect(page.locator("#ownership-status")).to_contain_text(expired[0].strip())
        expect(page.get_by_role("button", name=t("Accept and become the owner"))).to_have_count(0)
        _fits(page)
        log_out(page, "Ada Admin", t)

        # The owner finds it expired; cancelling it now only records that it expired.
        log_in(page, live_server, "lucia@acme.example", language)
        page.goto(f"{live_server}/organizations/{ids['org']}/members/ownership")
        page.get_by_role("button", name=t("Cancel the request")).click()
        expect(page.get_by_role("alert").first).to_have_text(t("This request had already expired."))
        expect(page.locator("#ownership-waiting")).to_have_count(0)
    finally:
        page.context.close()
