"""An organization owner logs in, switches the portal to Spanish, and logs out."""

import re

import pytest
from playwright.sync_api import expect

from tenants.jobs.outbox import commit
from tests.conftest import PASSWORD, owner_of

pytestmark = pytest.mark.browser


def test_owner_logs_in_switches_to_spanish_and_logs_out(live_server, page, create_organization):
    org = create_organization(name="Acme Telecom", owner_email="owner@acme.example")
    org_id, owner = org.id, owner_of(org).user
    email, name = owner.email, owner.name
    commit()  # end the test's transaction: SQLite would make the server wait for its lock

    page.goto(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The owner lands on the organization's overview, in English.
    expect(page).to_have_url(f"{live_server}/organizations/{org_id}/")
    expect(page.get_by_role("heading", name="Acme Telecom")).to_be_visible()
    tabs = page.get_by_role("list", name="Sections")
    expect(tabs.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")

    page.wait_for_load_state("load")  # Bootstrap's dropdown script must be running
    page.get_by_role("button", name="Language: English").click()
    page.get_by_role("button", name="Español").click()

    # The same page, now in Spanish.
    expect(page).to_have_url(f"{live_server}/organizations/{org_id}/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Idioma: Español")).to_be_visible()
    sections = page.get_by_role("list", name="Secciones")
    expect(sections.get_by_role("link", name="Resumen")).to_have_attribute("aria-current", "page")
    expect(sections.get_by_role("link", name="Miembros")).to_be_visible()
    expect(page.get_by_text("Modelo de precios", exact=True)).to_be_visible()
    expect(page.get_by_text("Prepago").first).to_be_visible()

    page.wait_for_load_state("load")
    page.get_by_role("button", name=name).click()
    page.get_by_role("button", name="Cerrar sesión").click()

    # Back on the login page, still in Spanish.
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Has cerrado la sesión.")
    expect(page.get_by_label("Contraseña")).to_be_visible()
    expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
