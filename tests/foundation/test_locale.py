"""English and Spanish: Accept-Language, the switcher, the saved language, Babel formats."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import User
from tests.conftest import owner_of

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


@pytest.fixture(scope="session")
def spanish_catalog():
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="es")


@pytest.fixture(scope="session")
def compiled_translations(tmp_path_factory, spanish_catalog) -> str:
    """The Spanish catalog as it is in the checkout, compiled (.mo files are not committed)."""
    directory = tmp_path_factory.mktemp("translations") / "es" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    with (directory / "messages.mo").open("wb") as mo:
        write_mo(mo, spanish_catalog)
    return str(directory.parent.parent)


@pytest.fixture
def app_config(app_config, compiled_translations):
    return {**app_config, "BABEL_TRANSLATION_DIRECTORIES": compiled_translations}


@pytest.fixture
def spanish(spanish_catalog):
    """The Spanish translation of an English message, as the catalog says it."""

    def translate(english: str) -> str:
        message = spanish_catalog.get(english)
        assert message is not None and message.string, f"no Spanish for {english!r}"
        assert message.string != english
        return message.string

    return translate


def html_lang(response) -> str:
    marker = '<html lang="'
    start = response.text.index(marker) + len(marker)
    return response.text[start : response.text.index('"', start)]


# -- choosing the language ---------------------------------------------------------------------


def test_browser_asking_for_spanish_gets_the_login_page_in_spanish(client, spanish):
    response = client.get("/login", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert html_lang(response) == "es"
    assert spanish("Log in") in response.text
    assert spanish("Forgot your password?") in response.text


def test_browser_asking_for_english_or_an_unknown_language_gets_english(client):
    for header in ("en-GB,en;q=0.9", "de-DE,fr;q=0.8", ""):
        response = client.get("/login", headers={"Accept-Language": header})
        assert html_lang(response) == "en"
        assert "Forgot your password?" in response.text


def test_language_switcher_turns_the_pages_into_spanish(client, spanish):
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert 'data-language="es"' in page.text  # the switcher is on the page

    response = client.post("/language", data={"language": "es", "next": "/login"})
    assert response.headers["Location"] == "/login"
    response = client.get("/login", headers={"Accept-Language": "en"})
    assert html_lang(response) == "es"
    assert spanish("Log in") in response.text

    client.post("/language", data={"language": "en"})
    assert html_lang(client.get("/login", headers={"Accept-Language": "es"})) == "en"


def test_switcher_ignores_an_unknown_language_and_a_foreign_next(client):
    response = client.post(
        "/language", data={"language": "xx", "next": "https://evil.example/phish"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert html_lang(client.get("/login")) == "en"


def test_failed_login_message_is_in_spanish(client, spanish, create_organization):
    client.post("/language", data={"language": "es"})
    response = client.post("/login", data={"email": "nobody@example.com", "password": "x" * 12})
    assert response.status_code == 401
    assert spanish("Invalid email or password.") in response.text


def test_switcher_when_logged_in_saves_the_language_for_next_time(
    app, client, auth, create_organization, spanish
):
    owner = owner_of(create_organization())
    auth.login(owner.user.email)
    client.post("/language", data={"language": "es"})
    assert db.session.get(User, owner.user_id).language == "es"

    elsewhere = app.test_client()
    elsewhere.post("/login", data={"email": owner.user.email, "password": "correct horse battery"})
    page = elsewhere.get(
        f"/organizations/{owner.organization_id}/", headers={"Accept-Language": "en"}
    )
    assert html_lang(page) == "es"
    assert spanish("Overview") in page.text


def test_saved_language_beats_the_session_choice(client, auth, create_organization):
    owner = owner_of(create_organization())
    owner.user.language = "en"
    commit()
    client.post("/language", data={"language": "es"})  # chosen before logging in
    auth.login(owner.user.email)
    page = client.get(f"/organizations/{owner.organization_id}/", headers={"Accept-Language": "es"})
    assert html_lang(page) == "en"
    assert "Overview" in page.text


def test_saved_spanish_beats_an_english_browser(client, auth, create_organization, spanish):
    owner = owner_of(create_organization())
    owner.user.language = "es"
    commit()
    auth.login(owner.user.email)
    page = client.get(f"/organizations/{owner.organization_id}/", headers={"Accept-Language": "en"})
    assert html_lang(page) == "es"
    assert spanish("Pricing model") in page.text


def test_error_pages_are_in_spanish(client, auth, create_organization, spanish):
    owner = owner_of(create_organization())
    owner.user.language = "es"
    commit()
    auth.login(owner.user.email)
    response = client.get("/customers/")
    assert response.status_code == 403
    assert spanish("Access denied") in response.text
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert spanish("Page not found") in response.text


# -- money and dates ---------------------------------------------------------------------------

CREATED_AT = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("country", "currency", "timezone", "language"),
    [
        ("ES", "EUR", "Europe/Madrid", "en"),
        ("ES", "EUR", "Europe/Madrid", "es"),
        ("MX", "MXN", "America/Mexico_City", "es"),
        ("US", "USD", "America/New_York", "en"),
    ],
)
def test_money_and_dates_follow_the_locale_and_the_organizations_timezone(
    client, auth, create_organization, country, currency, timezone, language
):
    org = create_organization(name="Money Format SL", country=country, pricing_model="postpaid")
    assert (org.currency, org.timezone) == (currency, timezone)
    org.credit_limit = Decimal("1234.5")
    org.created_at = CREATED_AT
    owner = owner_of(org)
    owner.user.language = language
    commit()

    auth.login(owner.user.email)
    page = client.get(f"/organizations/{org.id}/").text

    money = format_currency(Decimal("1234.5"), currency, locale=language)
    assert money in page
    local = format_datetime(CREATED_AT, "medium", tzinfo=ZoneInfo(timezone), locale=language)
    in_utc = format_datetime(CREATED_AT, "medium", tzinfo=ZoneInfo("UTC"), locale=language)
    assert local in page
    assert in_utc not in page


def test_the_same_amount_reads_differently_in_english_and_spanish(
    client, auth, create_organization
):
    english = format_currency(Decimal("1234.5"), "EUR", locale="en")
    spanish = format_currency(Decimal("1234.5"), "EUR", locale="es")
    assert english == "€1,234.50"
    # Spanish puts the symbol after the amount and uses a decimal comma (CLDR decides
    # the grouping); whatever Babel says is what the page must show.
    assert spanish.endswith("€")
    assert "234,50" in spanish

    org = create_organization(name="Both Languages SL", pricing_model="postpaid")
    org.credit_limit = Decimal("1234.5")
    commit()
    auth.login(owner_of(org).user.email)
    client.post("/language", data={"language": "en"})
    assert english in client.get(f"/organizations/{org.id}/").text
    client.post("/language", data={"language": "es"})
    page = client.get(f"/organizations/{org.id}/").text
    assert spanish in page
    assert english not in page
