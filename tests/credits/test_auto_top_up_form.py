"""The automatic top-up form on the organization's settings page (SPEC §4, issue 16 item 1):
owners, admins and reseller staff switch it on and set the level, the quantity and the monthly
limit, by the API's operation and rules; numbers are read as the reader writes them; bad input
is refused in the reader's language with nothing changed; CSRF protects it; a plain member
cannot change it, another tenant's organization is a 404, and every change is audited."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.credits import topups
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Organization
from tests.conftest import PASSWORD, member_actor, owner_of

GOOD_CARD = "4242 4242 4242 4242"
# A form's own token (wtforms) or the navbar's forms' one (base.html): the same per session.
TOKEN = re.compile(r'name="(?:[\w-]+-)?csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    """Real forms: CSRF protection on, as in production."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


def settings_url(org_id: str) -> str:
    return f"/organizations/{org_id}/settings"


def form_url(org_id: str) -> str:
    return f"/organizations/{org_id}/settings/auto_top_up"


def token_from(client, url: str) -> str:
    match = TOKEN.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(client, email: str) -> None:
    """Log in through the login form, its CSRF token included."""
    data = {"email": email, "password": PASSWORD, "csrf_token": token_from(client, "/login")}
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.status_code


def post_form(client, org_id: str, token_page: str | None = None, **typed):
    """Post the form as a browser does: the token from a page, every field as typed."""
    fields = {"enabled": "yes", "below": "500", "credits": "1000", "monthly_limit": "3"}
    fields.update(typed)
    data = {f"auto_top_up-{name}": value for name, value in fields.items()}
    data["auto_top_up-csrf_token"] = token_from(client, token_page or settings_url(org_id))
    return client.post(form_url(org_id), data=data)


def top_up(org_id: str) -> tuple:
    db.session.expire_all()
    org = db.session.get(Organization, org_id)
    return (
        org.auto_top_up_enabled,
        org.auto_top_up_below,
        org.auto_top_up_credits,
        org.auto_top_up_monthly_limit,
    )


def audit_entries(org_id: str) -> list[AuditEntry]:
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.organization_id == org_id, AuditEntry.action == "organization.updated")
        .order_by(AuditEntry.created_at, AuditEntry.id)
    ).all()


def speak(user, language: str) -> None:
    user.language = language
    commit()


def test_the_owner_switches_it_on_and_the_change_is_audited(client, shop):
    topups.save_card(
        member_actor(shop.owner), shop.org, {"card_number": GOOD_CARD, "expiry": "12/30"}
    )
    commit()
    org_id, owner_id = shop.org.id, shop.owner.user_id
    sign_in(client, shop.owner.user.email)
    page = client.get(settings_url(org_id)).get_data(as_text=True)
    section = page[page.index('id="auto_top_up"') :]
    assert "Visa</strong> •••• 4242" in section and "expires 12/2030" in section
    assert "It is not retried" in section
    assert 'name="auto_top_up-monthly_limit" type="text" value="10"' in section

    response = post_form(client, org_id, below="500", credits="1,000", monthly_limit="3")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{settings_url(org_id)}#auto_top_up")
    assert "Automatic top-up saved." in client.get(settings_url(org_id)).get_data(as_text=True)
    assert top_up(org_id) == (True, 500, 1000, 3)

    (entry,) = audit_entries(org_id)
    assert entry.actor_user_id == owner_id
    assert entry.changes == {
        "auto_top_up.enabled": [False, True],
        "auto_top_up.below": [0, 500],
        "auto_top_up.credits": [0, 1000],
        "auto_top_up.monthly_limit": [10, 3],
    }
    audit_page = client.get(f"/organizations/{org_id}/audit").get_data(as_text=True)
    assert "Automatic top-ups a month (at most)" in audit_page

    # Switched off again: only that changes, and says so in the audit log.
    response = post_form(client, org_id, enabled="no", below="500", credits="1000")
    assert response.status_code == 302
    assert top_up(org_id) == (False, 500, 1000, 3)
    assert audit_entries(org_id)[-1].changes == {"auto_top_up.enabled": [True, False]}


@pytest.mark.parametrize("who", ["admin", "staff"])
def test_an_admin_and_reseller_staff_set_it_too(client, shop, who):
    email = shop.admin.user.email if who == "admin" else shop.staff.email
    org_id = shop.org.id
    sign_in(client, email)
    assert post_form(client, org_id, monthly_limit="5").status_code == 302
    assert top_up(org_id) == (True, 500, 1000, 5)


def test_numbers_are_read_the_way_a_spanish_reader_writes_them(client, shop):
    speak(shop.owner.user, "es")
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    page = client.get(settings_url(org_id)).get_data(as_text=True)
    assert "Recargas automáticas al mes (como máximo)" in page
    assert "Si una recarga falla" in page
    assert "No hay ninguna tarjeta guardada." in page
    response = post_form(client, org_id, below="1.500", credits="2.000", monthly_limit="7")
    assert response.status_code == 302
    assert top_up(org_id) == (True, 1500, 2000, 7)
    assert "Se guardó la recarga automática." in client.get(settings_url(org_id)).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"below": "muchos"}, "below", "Ingresa un número entero de créditos."),
        ({"below": "0"}, "below", "Ingresa el nivel: se compran créditos cuando"),
        ({"credits": "1,5"}, "credits", "Ingresa un número entero de créditos."),
        ({"credits": "0"}, "credits", "Ingresa cuántos créditos quieres comprar."),
        ({"monthly_limit": "0"}, "monthly_limit", "Ingresa un número entre 1 y 10."),
        ({"monthly_limit": "11"}, "monthly_limit", "Ingresa un número entre 1 y 10."),
        ({"monthly_limit": "2,5"}, "monthly_limit", "Ingresa un número entero."),
        ({"enabled": "maybe"}, "enabled", "Debe ser true o false."),
    ],
)
def test_bad_input_is_refused_in_the_readers_language_and_changes_nothing(
    client, shop, typed, field, message
):
    speak(shop.owner.user, "es")
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    response = post_form(client, org_id, **typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if field != "enabled":  # radios show their error below the group
        assert f'id="auto_top_up-{field}-error"' in html
    assert message in html
    assert top_up(org_id) == (False, 0, 0, 10)
    assert audit_entries(org_id) == []


def test_a_lowered_platform_ceiling_bounds_the_monthly_limit(app, client, shop):
    app.config["AUTO_TOP_UP_MONTHLY_CAP"] = 3
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    page = client.get(settings_url(org_id)).get_data(as_text=True)
    assert 'name="auto_top_up-monthly_limit" type="text" value="3"' in page
    response = post_form(client, org_id, monthly_limit="4")
    assert response.status_code == 422
    assert "Enter a number between 1 and 3." in response.get_data(as_text=True)
    assert top_up(org_id) == (False, 0, 0, 10)


def test_a_postpaid_organization_is_not_offered_it_and_cannot_switch_it_on(
    client, create_priced_reseller, create_organization
):
    org = create_organization(create_priced_reseller(), pricing_model="postpaid")
    org_id, email = org.id, owner_of(org).user.email
    sign_in(client, email)
    page = client.get(settings_url(org_id)).get_data(as_text=True)
    assert 'id="auto_top_up"' not in page
    response = post_form(client, org_id)
    assert response.status_code == 422
    assert "Automatic top-up is for prepaid organizations." in response.get_data(as_text=True)
    assert top_up(org_id) == (False, 0, 0, 10)


def test_a_post_without_a_valid_csrf_token_changes_nothing(client, shop):
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    data = {
        "auto_top_up-enabled": "yes",
        "auto_top_up-below": "500",
        "auto_top_up-credits": "1000",
        "auto_top_up-monthly_limit": "3",
    }
    assert client.post(form_url(org_id), data=data).status_code == 400
    forged = {**data, "auto_top_up-csrf_token": "forged"}
    assert client.post(form_url(org_id), data=forged).status_code == 400
    assert top_up(org_id) == (False, 0, 0, 10)
    assert audit_entries(org_id) == []


def test_a_plain_member_can_neither_open_nor_change_it(client, shop):
    org_id = shop.org.id
    sign_in(client, shop.member.user.email)
    assert client.get(settings_url(org_id)).status_code == 403
    response = post_form(client, org_id, token_page="/profile/")
    assert response.status_code == 403
    assert top_up(org_id) == (False, 0, 0, 10)
    assert audit_entries(org_id) == []


def test_another_tenants_organization_is_a_404(client, shop, other_reseller):
    org_id = shop.org.id
    sign_in(client, other_reseller.staff.email)
    assert client.get(settings_url(org_id)).status_code == 404
    response = post_form(client, org_id, token_page="/customers/")
    assert response.status_code == 404
    assert top_up(org_id) == (False, 0, 0, 10)
    assert audit_entries(org_id) == []
